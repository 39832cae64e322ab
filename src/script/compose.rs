//! The script's `compose(path, overrides)`: a compose file's services turned into the same maps
//! a `service(#{...})` call records, so that every check of a declared service applies to them.
//! The substitutions of `overrides` (images, random host ports, host paths, build directories)
//! are applied here; what boss does not map yet (a service's `secrets`) is an error
//! naming the key where it is written.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use rhai::{Array, Dynamic, Map};

use crate::compose::{ComposeFile, ComposeService, Condition, HealthTest, Mount, Restart};
use crate::error::{ComposeErrorKind, ComposePlace, Error, UnsupportedHint};
use crate::service::Protocol;

/// What `compose()`'s second argument substitutes.
#[derive(Debug, Default)]
pub(super) struct Overrides {
    /// Image as written in the file → image to run.
    pub(super) images: Vec<(String, String)>,
    /// Fixed host ports become `0` (a free port, found again with `port()`).
    pub(super) random_ports: bool,
    /// Host path (resolved against the compose file's directory) → host path to mount instead.
    pub(super) paths: Vec<(PathBuf, PathBuf)>,
    /// Build context (resolved like `paths`) → build context to use instead.
    pub(super) build_dirs: Vec<(PathBuf, PathBuf)>,
}

/// Why an `overrides` map cannot be used, in words for the `BadArgument` error.
pub(super) type OverrideProblem = (&'static str, String);

impl Overrides {
    /// Reads `#{ images: #{..}, random_ports: bool, paths: #{..}, build_dirs: #{..} }`. Keys
    /// of `paths` and `build_dirs` are relative to `compose_directory`, values to
    /// `script_directory`.
    pub(super) fn from_map(
        map: &Map,
        compose_directory: &Path,
        script_directory: &Path,
    ) -> Result<Overrides, OverrideProblem> {
        let mut overrides = Overrides::default();
        for (key, value) in map {
            let value = value.flatten_clone();
            match key.as_str() {
                "images" => overrides.images = string_pairs(&value, "`images` must be a map of image to image")?,
                "random_ports" => {
                    overrides.random_ports =
                        value.as_bool().map_err(|_| ("`random_ports` must be `true` or `false`", describe(&value)))?;
                }
                "paths" | "build_dirs" => {
                    let pairs = string_pairs(&value, "`paths` and `build_dirs` must be maps of path to path")?;
                    let pairs = pairs
                        .into_iter()
                        .map(|(from, to)| {
                            (normalise(&compose_directory.join(from)), normalise(&script_directory.join(to)))
                        })
                        .collect();
                    if key == "paths" { overrides.paths = pairs } else { overrides.build_dirs = pairs }
                }
                _ => {
                    return Err((
                        "a map with `images`, `random_ports`, `paths` or `build_dirs`",
                        format!("the key `{key}`"),
                    ));
                }
            }
        }
        Ok(overrides)
    }
}

fn describe(value: &Dynamic) -> String {
    super::fields::describe(value)
}

fn string_pairs(value: &Dynamic, expected: &'static str) -> Result<Vec<(String, String)>, OverrideProblem> {
    if !value.is_map() {
        return Err((expected, describe(value)));
    }
    let mut pairs = Vec::new();
    for (key, item) in &value.clone().cast::<Map>() {
        let item = item.flatten_clone();
        if !item.is_string() {
            return Err((expected, describe(&item)));
        }
        pairs.push((key.to_string(), item.into_string().unwrap_or_default()));
    }
    Ok(pairs)
}

/// `path` without `.` components and with `..` applied, without touching the file system.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// `path` with the longest matching prefix of `substitutions` replaced.
fn substitute(path: &Path, substitutions: &[(PathBuf, PathBuf)]) -> PathBuf {
    let path = normalise(path);
    substitutions
        .iter()
        .filter_map(|(from, to)| path.strip_prefix(from).ok().map(|rest| (from, to.join(rest))))
        .max_by_key(|(from, _)| from.components().count())
        .map_or(path.clone(), |(_, replaced)| replaced)
}

/// One compose service as a `service()` map, and whether its dependants wait for its
/// healthcheck (compose's `service_healthy`).
pub(super) struct ComposeDeclaration {
    pub(super) map: Map,
    /// Where the service's name is written in the compose file.
    pub(super) span: crate::source::Span,
    pub(super) wait_healthy: bool,
}

/// The services of `file` as `service()` maps, in the order written.
pub(super) fn declarations(file: &ComposeFile, overrides: &Overrides) -> Result<Vec<ComposeDeclaration>, Error> {
    let mut jobs = HashSet::new();
    let mut healthy = HashSet::new();
    for service in &file.services {
        refuse_unmapped(service)?;
        for dependency in &service.depends_on {
            match dependency.value.condition {
                Condition::Started => {}
                Condition::Healthy => {
                    healthy.insert(dependency.value.service.clone());
                }
                Condition::CompletedSuccessfully => {
                    jobs.insert(dependency.value.service.clone());
                }
            }
        }
    }
    let defined: HashSet<&str> = file.services.iter().map(|service| service.name.as_str()).collect();
    Ok(file
        .services
        .iter()
        .map(|service| {
            let mut map = service_map(service, file, overrides, &defined);
            if jobs.contains(&service.name) {
                map.insert("job".into(), Dynamic::TRUE);
            }
            let wait_healthy = healthy.contains(&service.name) && !jobs.contains(&service.name);
            ComposeDeclaration { map, span: service.span.clone(), wait_healthy }
        })
        .collect())
}

/// `secrets` are not mapped yet: an error naming the key.
fn refuse_unmapped(service: &ComposeService) -> Result<(), Error> {
    let refuse = |key: &str, span: &crate::source::Span| {
        Error::compose(
            ComposeErrorKind::UnsupportedKey {
                key: key.to_string(),
                place: ComposePlace::Service(service.name.clone()),
                suggestion: None,
                hint: Some(UnsupportedHint::NotMappedYet),
            },
            span.clone(),
        )
    };
    if let Some(first) = service.secrets.first() {
        return Err(refuse("secrets", &first.span));
    }
    Ok(())
}

fn text(value: impl Into<String>) -> Dynamic {
    Dynamic::from(value.into())
}

/// `value` with its braces doubled: a compose file's values are literal, while boss fills
/// `{key}` in env, commands, labels and the like from the context.
fn literal(value: &str) -> Dynamic {
    text(value.replace('{', "{{").replace('}', "}}"))
}

fn words(words: &[String]) -> Dynamic {
    Dynamic::from_array(words.iter().map(|word| literal(word)).collect())
}

/// A map of names to literal values.
fn pairs(pairs: impl IntoIterator<Item = (String, String)>) -> Dynamic {
    Dynamic::from_map(pairs.into_iter().map(|(key, value)| (key.into(), literal(&value))).collect())
}

fn milliseconds(duration: std::time::Duration) -> Dynamic {
    text(format!("{}ms", duration.as_millis()))
}

fn service_map(service: &ComposeService, file: &ComposeFile, overrides: &Overrides, defined: &HashSet<&str>) -> Map {
    let mut map = Map::new();
    map.insert("name".into(), text(service.name.clone()));
    let image = match &service.image {
        Some(image) => image.value.clone(),
        // boss tags what it builds with the service's image; compose names it after the
        // project and the service.
        None => format!("{}-{}", file.name.as_ref().map_or("compose", |name| name.value.as_str()), service.name),
    };
    let image = overrides.images.iter().find(|(from, _)| *from == image).map_or(image, |(_, to)| to.clone());
    map.insert("image".into(), text(image));
    if let Some(build) = &service.build {
        let context = substitute(&build.value.context, &overrides.build_dirs);
        map.insert("build_from".into(), text(context.display().to_string()));
        if let Some(dockerfile) = &build.value.dockerfile {
            map.insert("dockerfile".into(), text(dockerfile.clone()));
        }
        let args: Vec<(String, String)> = build
            .value
            .args
            .iter()
            .filter_map(|(name, value)| {
                value
                    .clone()
                    .or_else(|| file.variables.get(name).map(str::to_string))
                    .map(|value| (name.clone(), value))
            })
            .collect();
        if !args.is_empty() {
            map.insert(
                "build_args".into(),
                Dynamic::from_map(args.into_iter().map(|(name, value)| (name.into(), text(value))).collect()),
            );
        }
        if let Some(target) = &build.value.target {
            map.insert("build_target".into(), text(target.clone()));
        }
    }
    if let Some(command) = &service.command {
        map.insert("cmd".into(), words(&command.value));
    }
    if let Some(entrypoint) = &service.entrypoint {
        map.insert("entrypoint".into(), words(&entrypoint.value));
    }
    // Paths resolved against the compose file's directory; a file marked `required: false`
    // that is missing is left out, as compose does.
    let env_files: Vec<Dynamic> = service
        .env_files
        .iter()
        .filter(|file| file.value.required || file.value.path.exists())
        .map(|file| text(file.value.path.display().to_string()))
        .collect();
    if !env_files.is_empty() {
        map.insert("env_file".into(), Dynamic::from_array(env_files));
    }
    if !service.profiles.is_empty() {
        map.insert("profiles".into(), Dynamic::from_array(service.profiles.iter().cloned().map(text).collect()));
    }
    let env: Vec<(String, String)> = service
        .environment
        .iter()
        .filter_map(|entry| entry.value.value.clone().map(|value| (entry.value.name.clone(), value)))
        .collect();
    if !env.is_empty() {
        map.insert("env".into(), pairs(env));
    }
    if !service.ports.is_empty() {
        let ports = service.ports.iter().map(|port| {
            let port = &port.value;
            let key = match port.protocol {
                Protocol::Tcp => port.target.to_string(),
                Protocol::Udp => format!("{}/udp", port.target),
            };
            let published = if overrides.random_ports { 0 } else { port.published.unwrap_or(0) };
            let host_ip = port.host_ip.clone().unwrap_or_else(|| "127.0.0.1".to_string());
            (key, format!("{host_ip}:{published}"))
        });
        map.insert("ports".into(), Dynamic::from_map(ports.map(|(key, value)| (key.into(), text(value))).collect()));
    }
    let mut volumes = Array::new();
    let mut tmpfs = Map::new();
    for mount in &service.volumes {
        match &mount.value {
            Mount::Bind { source, target, read_only } => {
                let source = substitute(source, &overrides.paths);
                let mode = if *read_only { ":ro" } else { "" };
                volumes.push(text(format!("{}:{target}{mode}", source.display())));
            }
            Mount::Volume { source, target, read_only } => {
                let mode = if *read_only { ":ro" } else { "" };
                // An anonymous volume gets a name of its own, kept like compose keeps it.
                let name = source
                    .clone()
                    .unwrap_or_else(|| format!("{}-{}", service.name, target.trim_matches('/').replace('/', "-")));
                let name = file
                    .volumes
                    .iter()
                    .find(|volume| volume.key == name)
                    .and_then(|volume| volume.name.clone())
                    .unwrap_or(name);
                volumes.push(text(format!("{name}:{target}{mode}")));
            }
            Mount::Tmpfs { target, size, mode } => {
                let mut options = Vec::new();
                if let Some(size) = size {
                    options.push(format!("size={size}"));
                }
                if let Some(mode) = mode {
                    options.push(format!("mode={mode:o}"));
                }
                tmpfs.insert(target.as_str().into(), text(options.join(",")));
            }
        }
    }
    if !volumes.is_empty() {
        map.insert("volumes".into(), Dynamic::from_array(volumes));
    }
    if !tmpfs.is_empty() {
        map.insert("tmpfs".into(), Dynamic::from_map(tmpfs));
    }
    let dependencies: Array = service
        .depends_on
        .iter()
        .filter(|dependency| defined.contains(dependency.value.service.as_str()))
        .map(|dependency| text(dependency.value.service.clone()))
        .collect();
    if !dependencies.is_empty() {
        map.insert("dependencies".into(), Dynamic::from_array(dependencies));
    }
    // The healthcheck's test runs in the container as written; boss does not fill it.
    if let Some(healthcheck) = healthcheck_map(service) {
        map.insert("healthcheck".into(), Dynamic::from_map(healthcheck));
    }
    for (key, value) in
        [("user", &service.user), ("working_dir", &service.working_dir), ("stop_signal", &service.stop_signal)]
    {
        if let Some(value) = value {
            let value = if key == "working_dir" { literal(&value.value) } else { text(value.value.clone()) };
            map.insert(key.into(), value);
        }
    }
    if !service.extra_hosts.is_empty() {
        map.insert("extra_hosts".into(), pairs(service.extra_hosts.iter().map(|host| host.value.clone())));
    }
    if !service.labels.is_empty() {
        map.insert("labels".into(), pairs(service.labels.clone()));
    }
    if let Some(restart) = service.restart {
        let restart = match restart {
            Restart::No => "no".to_string(),
            Restart::Always => "always".to_string(),
            Restart::OnFailure { max_retries: None } => "on-failure".to_string(),
            Restart::OnFailure { max_retries: Some(count) } => format!("on-failure:{count}"),
            Restart::UnlessStopped => "unless-stopped".to_string(),
        };
        map.insert("restart".into(), text(restart));
    }
    if let Some(init) = service.init {
        map.insert("init".into(), Dynamic::from(init));
    }
    if let Some(bytes) = service.mem_limit {
        map.insert("mem_limit".into(), Dynamic::from(rhai::INT::try_from(bytes).unwrap_or(rhai::INT::MAX)));
    }
    if let Some(cpus) = service.cpus {
        map.insert("cpus".into(), Dynamic::from(cpus));
    }
    map
}

/// The healthcheck as `service()` takes it; `None` when the file only changes the image's
/// own check's timings (boss's healthcheck needs a test).
fn healthcheck_map(service: &ComposeService) -> Option<Map> {
    let healthcheck = &service.healthcheck.as_ref()?.value;
    let mut map = Map::new();
    match healthcheck.test.as_ref()? {
        HealthTest::Disabled => {
            map.insert("disable".into(), Dynamic::TRUE);
            return Some(map);
        }
        HealthTest::Exec(command) => {
            let mut test = vec!["CMD".to_string()];
            test.extend(command.iter().cloned());
            map.insert("test".into(), Dynamic::from_array(test.into_iter().map(text).collect()));
        }
        HealthTest::Shell(command) => {
            map.insert("test".into(), text(command.clone()));
        }
    }
    for (key, value) in [
        ("interval", healthcheck.interval),
        ("timeout", healthcheck.timeout),
        ("start_period", healthcheck.start_period),
    ] {
        if let Some(value) = value {
            map.insert(key.into(), milliseconds(value));
        }
    }
    if let Some(retries) = healthcheck.retries {
        map.insert("retries".into(), Dynamic::from(rhai::INT::from(retries)));
    }
    Some(map)
}

#[cfg(test)]
mod tests;
