//! Turns one `service(#{...})` map into a validated [`Service`], pointing every mistake at the
//! offending field in the source.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rhai::{Array, Dynamic, FnPtr, Map};

use crate::error::{ContextProblem, EnvProblem, Error, FieldProblem, LimitProblem, ScriptErrorKind, SecretProblem};
use crate::hook::HookKind;
use crate::service::{
    BuildOptions, DEFAULT_PING_INTERVAL, Healthcheck, Hooks, Limits, MountSource, PortMapping, Protocol, Resources,
    RestartPolicy, Secret, SecretSource, Service, ServiceKind, StopSignal, Tmpfs, Volume,
};
use crate::source::{SourceFile, Span};
use crate::text::suggest;

/// Every field a service map may have.
pub(crate) const FIELDS: [&str; 37] = [
    "name",
    "image",
    "dependencies",
    "env",
    "env_file",
    "secrets",
    "profiles",
    "ports",
    "volumes",
    "always_start_new",
    "stop_signal",
    "build_from",
    "dockerfile",
    "entrypoint",
    "cmd",
    "user",
    "working_dir",
    "extra_hosts",
    "labels",
    "tmpfs",
    "restart",
    "mem_limit",
    "cpus",
    "init",
    "healthcheck",
    "build_args",
    "build_target",
    "pre_start",
    "ping",
    "ping_interval",
    "post_start",
    "wait_timeout",
    "hook_timeout",
    "pre_stop",
    "post_stop",
    "job",
    "external",
];

/// The only fields an `external` service (boss creates no container for it) may have; every
/// other field of [`FIELDS`] describes a container and is refused, so a field added later is
/// refused for external services until someone decides otherwise.
const EXTERNAL_FIELDS: [&str; 12] = [
    "name",
    "dependencies",
    "profiles",
    "pre_start",
    "ping",
    "ping_interval",
    "post_start",
    "wait_timeout",
    "hook_timeout",
    "pre_stop",
    "post_stop",
    "external",
];

/// The longest `wait_timeout` or `hook_timeout`: a day, as for `--wait-timeout`.
const MAX_LIMIT: Duration = Duration::from_secs(86_400);

/// A service and the hook closures its map held.
pub(super) struct Declared {
    pub(super) service: Service,
    pub(super) hooks: Vec<(HookKind, FnPtr)>,
}

/// Checks a name used as a hostname and a Docker name part.
pub(crate) fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
}

/// A short description of a value for "expected X, got Y" messages.
pub(super) fn describe(value: &Dynamic) -> String {
    let value = value.flatten_clone();
    if value.is_unit() {
        "`()`".into()
    } else if value.is_string() {
        format!("the string {:?}", value.into_string().unwrap_or_default())
    } else if value.is_int() || value.is_float() || value.is_bool() {
        format!("`{value}`")
    } else if value.is_array() {
        "an array".into()
    } else if value.is_map() {
        "a map".into()
    } else if value.is::<FnPtr>() {
        "a function".into()
    } else {
        format!("a value of type `{}`", value.type_name())
    }
}

struct Fields<'a> {
    map: &'a Map,
    call: &'a Span,
}

impl Fields<'_> {
    fn span(&self, field: &str) -> Span {
        locate_field(self.call, field).unwrap_or_else(|| self.call.clone())
    }

    fn error(&self, field: &str, kind: ScriptErrorKind) -> Error {
        Error::script(kind, self.span(field))
    }

    fn wrong_type(&self, field: &str, expected: &'static str, value: &Dynamic) -> Error {
        self.error(field, ScriptErrorKind::WrongType { field: field.to_string(), expected, got: describe(value) })
    }

    fn get(&self, field: &str) -> Option<Dynamic> {
        self.map.get(field).map(Dynamic::flatten_clone)
    }

    fn string(&self, field: &str) -> Result<Option<String>, Error> {
        match self.get(field) {
            None => Ok(None),
            Some(value) if value.is_string() => Ok(Some(value.into_string().unwrap_or_default())),
            Some(value) => Err(self.wrong_type(field, "a string", &value)),
        }
    }

    fn flag(&self, field: &str) -> Result<bool, Error> {
        match self.get(field) {
            None => Ok(false),
            Some(value) => value.as_bool().map_err(|_| self.wrong_type(field, "`true` or `false`", &value)),
        }
    }

    fn non_empty_string(&self, field: &str) -> Result<Option<String>, Error> {
        match self.string(field)? {
            Some(text) if text.trim().is_empty() => {
                Err(self.wrong_type(field, "a non-empty string", &Dynamic::from(text)))
            }
            other => Ok(other),
        }
    }

    fn required_string(&self, field: &'static str) -> Result<String, Error> {
        self.non_empty_string(field)?
            .ok_or_else(|| Error::script(ScriptErrorKind::MissingField { field }, self.call.clone()))
    }

    fn string_list(&self, field: &str) -> Result<Option<Vec<String>>, Error> {
        let Some(value) = self.get(field) else { return Ok(None) };
        let expected = "a string or an array of strings";
        if value.is_string() {
            let text = value.into_string().unwrap_or_default();
            if text.trim().is_empty() {
                return Ok(None);
            }
            return shlex::split(&text).map(Some).ok_or_else(|| {
                self.wrong_type(field, "a string with balanced quotes, or an array of strings", &Dynamic::from(text))
            });
        }
        if !value.is_array() {
            return Err(self.wrong_type(field, expected, &value));
        }
        let items = value.cast::<Array>();
        let mut strings = Vec::with_capacity(items.len());
        for item in &items {
            if !item.is_string() {
                return Err(self.wrong_type(field, expected, item));
            }
            strings.push(item.clone().into_string().unwrap_or_default());
        }
        Ok(if strings.is_empty() { None } else { Some(strings) })
    }

    /// A time limit: seconds as a number (`2`, `0.5`), or a string with a unit (`"500ms"`,
    /// `"2s"`, `"1m"`), more than zero and at most a day.
    fn time_limit(&self, field: &'static str) -> Result<Option<Duration>, Error> {
        let Some(value) = self.get(field) else { return Ok(None) };
        self.duration(field, field, &value).map(Some)
    }

    /// [`Fields::time_limit`] of a `value` named `field`, reported at the top-level field `at`.
    fn duration(&self, at: &str, field: &'static str, value: &Dynamic) -> Result<Duration, Error> {
        let bad = |problem| self.error(at, ScriptErrorKind::BadTimeLimit { field, got: describe(value), problem });
        let duration = if let Ok(seconds) = value.as_int() {
            u64::try_from(seconds).map(Duration::from_secs).map_err(|_| bad(LimitProblem::NotPositive))?
        } else if let Ok(seconds) = value.as_float() {
            if !seconds.is_finite() || seconds < 0.0 {
                return Err(bad(LimitProblem::NotPositive));
            }
            Duration::try_from_secs_f64(seconds).map_err(|_| bad(LimitProblem::TooLong))?
        } else if value.is_string() {
            let text = value.clone().into_string().unwrap_or_default();
            let text = text.trim();
            if text.parse::<f64>().is_ok() {
                return Err(bad(LimitProblem::NoUnit { seconds: text.to_string() }));
            }
            humantime::parse_duration(text).map_err(|_| bad(LimitProblem::NotADuration))?
        } else {
            return Err(bad(LimitProblem::NotADuration));
        };
        if duration.is_zero() {
            return Err(bad(LimitProblem::NotPositive));
        }
        if duration > MAX_LIMIT {
            return Err(bad(LimitProblem::TooLong));
        }
        Ok(duration)
    }

    fn bad(&self, field: &'static str, value: impl Into<String>, problem: FieldProblem) -> Error {
        self.error(field, ScriptErrorKind::BadField { field, value: value.into(), problem })
    }

    /// A string that may hold `{key}` placeholders, checked for their syntax; a mistake names
    /// the entry `shown` (a label's name rather than its value).
    fn template(&self, field: &'static str, shown: &str, text: &str) -> Result<(), Error> {
        crate::interpolate::check(text).map_err(|error| self.bad(field, shown, FieldProblem::Placeholder(error)))
    }

    /// A map of names to strings, numbers or booleans (`labels`, `build_args`), or an array of
    /// `"name=value"` strings as compose also allows; in name order, names checked by `name_ok`.
    fn pairs(
        &self,
        field: &'static str,
        separator: char,
        name_ok: impl Fn(&str) -> Result<(), FieldProblem>,
    ) -> Result<Vec<(String, String)>, Error> {
        let Some(value) = self.get(field) else { return Ok(Vec::new()) };
        let mut pairs: Vec<(String, String)> = Vec::new();
        if value.is_map() {
            for (name, item) in &value.cast::<Map>() {
                let item = item.flatten_clone();
                let text = if item.is_string() {
                    item.into_string().unwrap_or_default()
                } else if item.is_int() || item.is_float() || item.is_bool() {
                    item.to_string()
                } else {
                    return Err(self.bad(field, name.to_string(), FieldProblem::NotAScalar { got: describe(&item) }));
                };
                pairs.push((name.to_string(), text));
            }
        } else if value.is_array() {
            for item in &value.clone().cast::<Array>() {
                if !item.is_string() {
                    return Err(self.wrong_type(field, "a map, or an array of strings", item));
                }
                let entry = item.clone().into_string().unwrap_or_default();
                let Some((name, text)) = entry.split_once(separator) else {
                    return Err(self.bad(field, entry, FieldProblem::NoSeparator { separator }));
                };
                pairs.push((name.trim().to_string(), text.to_string()));
            }
            pairs.sort();
        } else {
            return Err(self.wrong_type(field, "a map, or an array of strings", &value));
        }
        for (index, (name, text)) in pairs.iter().enumerate() {
            if name.is_empty() {
                return Err(self.bad(field, text.clone(), FieldProblem::EmptyName));
            }
            if pairs[..index].iter().any(|(earlier, _)| earlier == name) {
                return Err(self.bad(field, name.clone(), FieldProblem::Twice));
            }
            name_ok(name).map_err(|problem| self.bad(field, name.clone(), problem))?;
            if text.contains('\0') {
                return Err(self.bad(field, name.clone(), FieldProblem::NulCharacter));
            }
        }
        Ok(pairs)
    }
}

/// Validates one service map. `directory` is the script's directory, for relative paths.
pub(super) fn service_from_map(map: &Map, call: &Span, directory: &Path) -> Result<Declared, Error> {
    let fields = Fields { map, call };
    for key in map.keys() {
        if !FIELDS.contains(&key.as_str()) {
            let suggestion = suggest(key, FIELDS).map(String::from);
            return Err(fields.error(key, ScriptErrorKind::UnknownField { field: key.to_string(), suggestion }));
        }
    }

    let name = fields.required_string("name")?;
    if !is_valid_name(&name) {
        return Err(fields.error("name", ScriptErrorKind::InvalidName { what: "service", name }));
    }
    let kind = kind(&fields)?;
    // An external service has no container, so it names no image.
    let image = if kind == ServiceKind::External { String::new() } else { fields.required_string("image")? };
    if kind != ServiceKind::External && !crate::image::is_valid_reference(&image) {
        return Err(fields.error("image", ScriptErrorKind::BadImage { image }));
    }

    let dependencies = match fields.get("dependencies") {
        None => Vec::new(),
        Some(value) if value.is_array() => {
            let mut names = Vec::new();
            for item in &value.clone().cast::<Array>() {
                if !item.is_string() {
                    return Err(fields.wrong_type("dependencies", "an array of service names", item));
                }
                names.push(item.clone().into_string().unwrap_or_default());
            }
            names
        }
        Some(value) => return Err(fields.wrong_type("dependencies", "an array of service names", &value)),
    };

    let mut env = env(&fields)?;
    // `env` beats `env_file`, and a later file beats an earlier one, as in compose.
    for (key, value) in env_files(&fields, directory)? {
        if !env.iter().any(|(known, _)| *known == key) {
            // A file's values are literal: braces are not `{key}` placeholders.
            env.push((key, value.replace('{', "{{").replace('}', "}}")));
        }
    }
    let secrets = secrets(&fields, directory)?;
    let profiles = match fields.get("profiles") {
        None => Vec::new(),
        Some(value) => {
            let expected = "an array of profile names";
            let items =
                value.clone().try_cast::<Array>().ok_or_else(|| fields.wrong_type("profiles", expected, &value))?;
            let mut names = Vec::new();
            for item in &items {
                let name = item.clone().into_string().ok().filter(|name| is_valid_name(name));
                names.push(name.ok_or_else(|| fields.wrong_type("profiles", expected, item))?);
            }
            names
        }
    };
    let ports = ports(&fields)?;
    let volumes = volumes(&fields, directory)?;
    for (index, volume) in volumes.iter().enumerate() {
        if volumes[..index].iter().any(|earlier| earlier.container == volume.container) {
            return Err(fields.error(
                "volumes",
                ScriptErrorKind::BadVolume {
                    entry: volume.container.clone(),
                    reason: "this container path is mounted twice".into(),
                },
            ));
        }
    }

    // Docker refuses two mounts at one path, late and obscurely.
    if let Some(secret) = secrets.iter().find(|secret| volumes.iter().any(|volume| volume.container == secret.target()))
    {
        let problem = SecretProblem::MountedTwice { path: secret.target() };
        return Err(fields.error("secrets", ScriptErrorKind::BadSecret { name: secret.name.clone(), problem }));
    }

    let always_start_new = fields.flag("always_start_new")?;

    let stop_signal = match fields.get("stop_signal") {
        None => StopSignal::default(),
        Some(value) => {
            let text =
                if value.is_string() { value.clone().into_string().unwrap_or_default() } else { value.to_string() };
            let signal = if value.is_string() { StopSignal::from_name(&text) } else { None };
            signal.ok_or_else(|| fields.error("stop_signal", ScriptErrorKind::BadStopSignal { value: text }))?
        }
    };

    let build_from = fields.non_empty_string("build_from")?.map(|path| resolve(directory, &path));
    let dockerfile = fields.non_empty_string("dockerfile")?.unwrap_or_else(|| "Dockerfile".to_string());
    // Reading the script's own directory is not I/O on the engine; a missing context is a
    // mistake in the script, so it is reported now, with its position.
    if let Some(context) = &build_from {
        let shown = context.display().to_string();
        let field = if map.contains_key("dockerfile") { "dockerfile" } else { "build_from" };
        if !context.is_dir() {
            let kind = ScriptErrorKind::BadBuild { directory: shown, problem: ContextProblem::NotADirectory };
            return Err(fields.error("build_from", kind));
        }
        // Only the context directory is sent to the engine, so a Dockerfile outside it
        // (`../Dockerfile`) could only be read by leaving it, which the engine refuses late
        // and obscurely; the docker CLI would send a copy, which boss does not do.
        if crate::build_context::dockerfile_in_context(context, &dockerfile).is_none() {
            let kind = ScriptErrorKind::BadBuild {
                directory: shown,
                problem: ContextProblem::DockerfileOutside { dockerfile },
            };
            return Err(fields.error(field, kind));
        }
        if !context.join(&dockerfile).is_file() {
            let kind =
                ScriptErrorKind::BadBuild { directory: shown, problem: ContextProblem::NoDockerfile { dockerfile } };
            return Err(fields.error(field, kind));
        }
    }
    let entrypoint = fields.string_list("entrypoint")?;
    let cmd = fields.string_list("cmd")?;
    for (field, words) in [("entrypoint", &entrypoint), ("cmd", &cmd)] {
        for word in words.iter().flatten() {
            fields.template(field, word, word)?;
        }
    }
    let user = fields.string("user")?.filter(|user| !user.is_empty());
    let working_dir = fields.non_empty_string("working_dir")?;
    if let Some(directory) = &working_dir {
        fields.template("working_dir", directory, directory)?;
        if !directory.starts_with(['/', '{']) {
            return Err(fields.bad("working_dir", directory.clone(), FieldProblem::NotAbsolute));
        }
    }
    let extra_hosts = fields.pairs("extra_hosts", ':', |name| {
        let bad = name.chars().any(|c| c.is_whitespace() || c == ':') || name.starts_with('{');
        if bad { Err(FieldProblem::NotAHostName) } else { Ok(()) }
    })?;
    for (host, address) in &extra_hosts {
        fields.template("extra_hosts", host, address)?;
        let literal = crate::interpolate::keys(address).is_empty();
        if literal && address != "host-gateway" && address.parse::<std::net::IpAddr>().is_err() {
            return Err(fields.bad("extra_hosts", format!("{host}:{address}"), FieldProblem::NotAnAddress));
        }
    }
    let labels = fields.pairs("labels", '=', |name| {
        if name.to_ascii_lowercase().starts_with("boss.") { Err(FieldProblem::ReservedLabel) } else { Ok(()) }
    })?;
    for (name, value) in &labels {
        fields.template("labels", name, value)?;
    }
    let tmpfs = tmpfs(&fields)?;
    for mount in &tmpfs {
        if volumes.iter().any(|volume| volume.container == mount.path) {
            return Err(fields.bad("tmpfs", mount.path.clone(), FieldProblem::MountedTwice));
        }
    }
    let restart = match fields.get("restart") {
        None => RestartPolicy::No,
        Some(value) if value.is_string() => {
            let text = value.into_string().unwrap_or_default();
            RestartPolicy::parse(&text).ok_or_else(|| fields.bad("restart", text, FieldProblem::NotARestartPolicy))?
        }
        Some(value) => return Err(fields.wrong_type("restart", "a string", &value)),
    };
    let resources = resources(&fields)?;
    let init = fields.flag("init")?;
    let healthcheck = healthcheck(&fields)?;
    let build = BuildOptions {
        args: fields.pairs("build_args", '=', |_| Ok(()))?,
        target: fields.non_empty_string("build_target")?,
    };
    if build_from.is_none() {
        for field in ["build_args", "build_target"] {
            if map.contains_key(field) {
                return Err(fields.bad(field, field, FieldProblem::NoBuild));
            }
        }
    }

    let ping_interval = match fields.get("ping_interval") {
        None => DEFAULT_PING_INTERVAL,
        Some(value) => {
            match value.as_int().ok().and_then(|ms| u64::try_from(ms).ok()).filter(|ms| (1..=60_000).contains(ms)) {
                Some(ms) => Duration::from_millis(ms),
                None => return Err(fields.wrong_type("ping_interval", "milliseconds from 1 to 60000", &value)),
            }
        }
    };

    let limits = Limits { wait: fields.time_limit("wait_timeout")?, hook: fields.time_limit("hook_timeout")? };

    let mut hooks = Vec::new();
    let mut present = Hooks::default();
    for hook in HookKind::ALL {
        let Some(value) = fields.get(hook.name()) else { continue };
        if !value.is::<FnPtr>() {
            return Err(fields.wrong_type(hook.name(), "a closure like `|ctx| { ... }` or `|| true`", &value));
        }
        present.set(hook);
        hooks.push((hook, value.cast::<FnPtr>()));
    }

    let service = Service {
        name,
        kind,
        image,
        dependencies,
        env,
        ports,
        volumes,
        always_start_new,
        stop_signal,
        build_from,
        dockerfile,
        entrypoint,
        cmd,
        user,
        working_dir,
        extra_hosts,
        labels,
        tmpfs,
        restart,
        resources,
        init,
        healthcheck,
        build,
        secrets,
        profiles,
        hooks: present,
        ping_interval,
        limits,
        span: call.clone(),
        dependencies_span: fields.span("dependencies"),
    };
    Ok(Declared { service, hooks })
}

/// What the service is: `job: true` runs to completion, `external: true` is not boss's to
/// create; neither with the fields that make no sense for it.
fn kind(fields: &Fields<'_>) -> Result<ServiceKind, Error> {
    let (job, external) = (fields.flag("job")?, fields.flag("external")?);
    let not_with = |field: &str, with: ServiceKind| {
        fields.error(field, ScriptErrorKind::NotWith { field: field.to_string(), kind: with })
    };
    if external {
        if job {
            return Err(not_with("job", ServiceKind::External));
        }
        let container_field = |field: &&str| !EXTERNAL_FIELDS.contains(field) && fields.map.contains_key(*field);
        if let Some(field) = FIELDS.into_iter().find(container_field) {
            return Err(not_with(field, ServiceKind::External));
        }
        return Ok(ServiceKind::External);
    }
    if job {
        if fields.map.contains_key("ping") {
            return Err(not_with("ping", ServiceKind::Job));
        }
        return Ok(ServiceKind::Job);
    }
    Ok(ServiceKind::Container)
}

fn resolve(directory: &Path, path: &str) -> PathBuf {
    let path = Path::new(path);
    let joined = if path.is_absolute() { path.to_path_buf() } else { directory.join(path) };
    // Drop `.` components so labels and messages show clean paths.
    joined.components().filter(|component| *component != std::path::Component::CurDir).collect()
}

fn env(fields: &Fields<'_>) -> Result<Vec<(String, String)>, Error> {
    let Some(value) = fields.get("env") else { return Ok(Vec::new()) };
    if !value.is_map() {
        // Name only the type: a string here is often `"PASSWORD=..."`, which must not be echoed.
        let got = if value.is_string() { "a string".to_string() } else { describe(&value) };
        return Err(fields.error(
            "env",
            ScriptErrorKind::WrongType { field: "env".into(), expected: "a map of names to values", got },
        ));
    }
    let mut env = Vec::new();
    for (key, item) in &value.cast::<Map>() {
        let item = item.flatten_clone();
        if let Some(problem) = crate::service::env_name_problem(key) {
            return Err(
                fields.error("env", ScriptErrorKind::BadEnvName { key: key.escape_debug().to_string(), problem })
            );
        }
        let text = if item.is_string() {
            item.into_string().unwrap_or_default()
        } else if item.is_int() || item.is_float() || item.is_bool() {
            // `PORT: 8080` and `PORT: "8080"` are the same definition.
            item.to_string()
        } else {
            return Err(fields.error(
                "env",
                ScriptErrorKind::BadEnv {
                    key: key.to_string(),
                    problem: EnvProblem::NotAScalar { got: describe(&item) },
                },
            ));
        };
        if text.contains('\0') {
            return Err(fields
                .error("env", ScriptErrorKind::BadEnv { key: key.to_string(), problem: EnvProblem::NulCharacter }));
        }
        if let Err(error) = crate::interpolate::check(&text) {
            return Err(fields.error(
                "env",
                ScriptErrorKind::BadEnv { key: key.to_string(), problem: EnvProblem::Placeholder(error) },
            ));
        }
        env.push((key.to_string(), text));
    }
    Ok(env)
}

/// The variables of the `env_file` files (a path or an array of paths, relative to the
/// script), a later file's value beating an earlier one's.
fn env_files(fields: &Fields<'_>, directory: &Path) -> Result<Vec<(String, String)>, Error> {
    let Some(value) = fields.get("env_file") else { return Ok(Vec::new()) };
    let expected = "a path or an array of paths";
    let paths: Vec<String> = if value.is_string() {
        vec![value.into_string().unwrap_or_default()]
    } else if value.is_array() {
        let mut paths = Vec::new();
        for item in &value.clone().cast::<Array>() {
            paths.push(item.clone().into_string().map_err(|_| fields.wrong_type("env_file", expected, item))?);
        }
        paths
    } else {
        return Err(fields.wrong_type("env_file", expected, &value));
    };
    let mut variables: Vec<(String, String)> = Vec::new();
    for path in paths {
        let bad = |problem| fields.error("env_file", ScriptErrorKind::BadEnvFile { path: path.clone(), problem });
        let text = std::fs::read_to_string(resolve(directory, &path))
            .map_err(|error| bad(crate::error::EnvFileProblem::Unreadable(error.to_string())))?;
        for (key, value) in
            crate::dotenv::parse(&text).map_err(|problem| bad(crate::error::EnvFileProblem::Syntax(problem)))?
        {
            match variables.iter_mut().find(|(known, _)| *known == key) {
                Some(entry) => entry.1 = value,
                None => variables.push((key, value)),
            }
        }
    }
    Ok(variables)
}

/// `secrets: #{ name: #{ file: "./path" } }`, or `#{ env: "VARIABLE" }`, or
/// `#{ context: "key" }`.
fn secrets(fields: &Fields<'_>, directory: &Path) -> Result<Vec<Secret>, Error> {
    let Some(value) = fields.get("secrets") else { return Ok(Vec::new()) };
    if !value.is_map() {
        return Err(fields.wrong_type("secrets", "a map of secret names to their sources", &value));
    }
    let mut secrets = Vec::new();
    for (name, spec) in &value.cast::<Map>() {
        let bad = |problem| fields.error("secrets", ScriptErrorKind::BadSecret { name: name.to_string(), problem });
        let valid_name = !name.is_empty()
            && name.len() <= 255
            && !name.starts_with('.')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !valid_name {
            return Err(bad(SecretProblem::BadName));
        }
        let spec = spec.flatten_clone();
        let Some(spec) = spec.clone().try_cast::<Map>() else {
            // A string here may well be the secret itself: name its type only.
            let got = if spec.is_string() { "a string".to_string() } else { describe(&spec) };
            return Err(bad(SecretProblem::NotAMap { got }));
        };
        let found: Vec<String> = spec.keys().map(ToString::to_string).collect();
        let [source] = found.as_slice() else { return Err(bad(SecretProblem::Sources { found })) };
        let (source, text): (&'static str, Option<String>) = match source.as_str() {
            "file" => ("file", spec["file"].clone().into_string().ok()),
            "env" => ("env", spec["env"].clone().into_string().ok()),
            "context" => ("context", spec["context"].clone().into_string().ok()),
            _ => return Err(bad(SecretProblem::Sources { found })),
        };
        let Some(text) = text.filter(|text| !text.trim().is_empty()) else {
            return Err(bad(SecretProblem::NotAString { source }));
        };
        let source = match source {
            "file" => {
                let path = resolve(directory, &text);
                if !path.is_file() {
                    return Err(bad(SecretProblem::NoFile { path: path.display().to_string() }));
                }
                SecretSource::File(path)
            }
            "env" => SecretSource::Env(text),
            _ => SecretSource::Context(text),
        };
        secrets.push(Secret { name: name.to_string(), source });
    }
    Ok(secrets)
}

fn ports(fields: &Fields<'_>) -> Result<Vec<PortMapping>, Error> {
    let Some(value) = fields.get("ports") else { return Ok(Vec::new()) };
    if !value.is_map() {
        return Err(fields.wrong_type("ports", "a map of container ports to host ports", &value));
    }
    let mut ports = Vec::new();
    for (key, item) in &value.cast::<Map>() {
        let item = item.flatten_clone();
        let bad = |reason: &str| {
            fields.error(
                "ports",
                ScriptErrorKind::BadPort { entry: format!("{key}: {item}"), reason: reason.to_string() },
            )
        };
        let (port, protocol) = match key.split_once('/') {
            None => (key.as_str(), Protocol::Tcp),
            Some((port, "tcp")) => (port, Protocol::Tcp),
            Some((port, "udp")) => (port, Protocol::Udp),
            Some(_) => return Err(bad("the protocol must be `tcp` or `udp`")),
        };
        let container_port = match port.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => return Err(bad("the container port must be a number from 1 to 65535")),
        };
        let (host_ip, host_port) = if let Ok(number) = item.as_int() {
            ("127.0.0.1".to_string(), number.to_string())
        } else if item.is_string() {
            let text = item.clone().into_string().unwrap_or_default();
            match text.rsplit_once(':') {
                Some((ip, port)) => (ip.trim_start_matches('[').trim_end_matches(']').to_string(), port.to_string()),
                None => ("127.0.0.1".to_string(), text),
            }
        } else {
            return Err(bad("the host port must be a number or a string like \"0.0.0.0:8080\""));
        };
        if host_ip.parse::<std::net::IpAddr>().is_err() {
            return Err(bad("the host address must be an IP address"));
        }
        let Ok(host_port) = host_port.parse::<u16>() else {
            return Err(bad("the host port must be a number from 0 to 65535"));
        };
        if ports.iter().any(|port: &PortMapping| port.container_port == container_port && port.protocol == protocol) {
            return Err(bad("this container port is mapped twice"));
        }
        ports.push(PortMapping { container_port, protocol, host_ip, host_port });
    }
    Ok(ports)
}

fn volumes(fields: &Fields<'_>, directory: &Path) -> Result<Vec<Volume>, Error> {
    let Some(value) = fields.get("volumes") else { return Ok(Vec::new()) };
    let bad = |entry: String, reason: &str| {
        fields.error("volumes", ScriptErrorKind::BadVolume { entry, reason: reason.to_string() })
    };
    let mode = |entry: &str, mode: Option<&str>| match mode {
        None | Some("rw") => Ok(false),
        Some("ro") => Ok(true),
        Some(_) => Err(bad(entry.to_string(), "the mode must be `ro` or `rw`")),
    };
    // Returns the container path without a trailing `/`, so `/data/` and `/data` are one path.
    let check_paths = |entry: &str, host: &str, container: &str| {
        if host.is_empty() {
            return Err(bad(entry.to_string(), "the host path is empty"));
        }
        if !container.starts_with('/') {
            return Err(bad(entry.to_string(), "the container path must be absolute"));
        }
        let trimmed = if container.len() > 1 { container.trim_end_matches('/') } else { container };
        let normalised = crate::service::normalise_container_path(trimmed);
        if normalised != trimmed {
            return Err(
                fields.error("volumes", ScriptErrorKind::UnnormalisedPath { path: container.to_string(), normalised })
            );
        }
        Ok(normalised)
    };
    let mut volumes = Vec::new();
    if value.is_array() {
        for item in &value.cast::<Array>() {
            if !item.is_string() {
                return Err(bad(item.to_string(), "list entries must be strings like \"./data:/data:ro\""));
            }
            let entry = item.clone().into_string().unwrap_or_default();
            let parts: Vec<&str> = entry.split(':').collect();
            let (host, container, read_only) = match parts.as_slice() {
                [host, container] => (*host, *container, false),
                [host, container, flag] => (*host, *container, mode(&entry, Some(flag))?),
                _ => return Err(bad(entry.clone(), "expected `host:container` or `host:container:mode`")),
            };
            let container = check_paths(&entry, host, container)?;
            let source = mount_source(directory, host).map_err(|reason| bad(entry.clone(), reason))?;
            volumes.push(Volume { source, container, read_only });
        }
    } else if value.is_map() {
        for (host, spec) in &value.cast::<Map>() {
            let spec = spec.flatten_clone();
            let entry = format!("{host}: {spec}");
            if !spec.is_map() {
                return Err(bad(entry, "map values must be maps like `#{ bind: \"/data\", mode: \"ro\" }`"));
            }
            let spec = spec.cast::<Map>();
            let Some(container) = spec.get("bind").filter(|bind| bind.is_string()) else {
                return Err(bad(entry, "a string `bind` (the container path) is required"));
            };
            let container = container.clone().into_string().unwrap_or_default();
            let flag = match spec.get("mode") {
                None => None,
                Some(flag) if flag.is_string() => Some(flag.clone().into_string().unwrap_or_default()),
                Some(_) => return Err(bad(entry, "`mode` must be \"ro\" or \"rw\"")),
            };
            let read_only = mode(&entry, flag.as_deref())?;
            for (which, path) in [("host", host.as_str()), ("container", container.as_str())] {
                if path.contains(':') {
                    return Err(
                        fields.error("volumes", ScriptErrorKind::VolumePathColon { which, path: path.to_string() })
                    );
                }
            }
            let container = check_paths(&entry, host, &container)?;
            let source = mount_source(directory, host).map_err(|reason| bad(entry.clone(), reason))?;
            volumes.push(Volume { source, container, read_only });
        }
    } else {
        return Err(bad(value.to_string(), "expected an array of strings or a map"));
    }
    Ok(volumes)
}

/// What the source of a `volumes` entry names: a host path when it starts with `.`, `/` or `~`
/// (as in docker compose), otherwise a named volume of the group.
fn mount_source(directory: &Path, source: &str) -> Result<MountSource, &'static str> {
    if let Some(rest) = source.strip_prefix('~') {
        if !(rest.is_empty() || rest.starts_with('/')) {
            return Err("only `~` and `~/...` (your home directory) are understood, not `~user`");
        }
        let Some(home) = std::env::var_os("HOME").filter(|home| !home.is_empty()) else {
            return Err("`~` stands for your home directory, but `HOME` is not set");
        };
        return Ok(MountSource::Host(resolve(Path::new(&home), rest.trim_start_matches('/'))));
    }
    if source.starts_with(['.', '/']) {
        return Ok(MountSource::Host(resolve(directory, source)));
    }
    if is_valid_name(source) {
        Ok(MountSource::Named(source.to_string()))
    } else {
        Err(
            "the source is neither a host path (starting with `.`, `/` or `~`) nor a volume name (letters, digits, `-` and `_`)",
        )
    }
}

/// `tmpfs`: a container path, an array of `"path"` or `"path:options"`, or a map of paths to
/// options (`#{ "/tmp": "size=64m" }`).
fn tmpfs(fields: &Fields<'_>) -> Result<Vec<Tmpfs>, Error> {
    let Some(value) = fields.get("tmpfs") else { return Ok(Vec::new()) };
    let expected = "a path, an array of `\"path[:options]\"` strings, or a map of paths to options";
    let mut entries: Vec<(String, String)> = Vec::new();
    if value.is_string() {
        entries.push((value.into_string().unwrap_or_default(), String::new()));
    } else if value.is_array() {
        for item in &value.clone().cast::<Array>() {
            if !item.is_string() {
                return Err(fields.wrong_type("tmpfs", expected, item));
            }
            let entry = item.clone().into_string().unwrap_or_default();
            let (path, options) = entry.split_once(':').unwrap_or((&entry, ""));
            entries.push((path.to_string(), options.to_string()));
        }
    } else if value.is_map() {
        for (path, options) in &value.clone().cast::<Map>() {
            let options = options.flatten_clone();
            if !options.is_string() {
                return Err(fields.bad(
                    "tmpfs",
                    path.to_string(),
                    FieldProblem::NotAScalar { got: describe(&options) },
                ));
            }
            entries.push((path.to_string(), options.into_string().unwrap_or_default()));
        }
    } else {
        return Err(fields.wrong_type("tmpfs", expected, &value));
    }
    let mut mounts: Vec<Tmpfs> = Vec::new();
    for (path, options) in entries {
        if !path.starts_with('/') {
            return Err(fields.bad("tmpfs", path, FieldProblem::NotAbsolute));
        }
        let trimmed = if path.len() > 1 { path.trim_end_matches('/') } else { &path };
        let normalised = crate::service::normalise_container_path(trimmed);
        if normalised != trimmed {
            return Err(fields.error("tmpfs", ScriptErrorKind::UnnormalisedPath { path: path.clone(), normalised }));
        }
        if mounts.iter().any(|mount| mount.path == normalised) {
            return Err(fields.bad("tmpfs", normalised, FieldProblem::MountedTwice));
        }
        if options.contains([' ', '\n', '\0']) {
            return Err(fields.bad("tmpfs", format!("{path}:{options}"), FieldProblem::BadTmpfsOptions));
        }
        mounts.push(Tmpfs { path: normalised, options: options.trim().to_string() });
    }
    Ok(mounts)
}

/// `mem_limit` (bytes, or `"512m"`) and `cpus` (`1.5`).
fn resources(fields: &Fields<'_>) -> Result<Resources, Error> {
    let memory = match fields.get("mem_limit") {
        None => None,
        Some(value) => {
            let shown =
                if value.is_string() { value.clone().into_string().unwrap_or_default() } else { value.to_string() };
            let bytes = if let Ok(bytes) = value.as_int() { u64::try_from(bytes).ok() } else { None }
                .or_else(|| value.is_string().then(|| parse_bytes(&shown)).flatten());
            match bytes {
                // The engine refuses less than 6 MiB.
                Some(bytes) if bytes >= 6 * 1024 * 1024 => Some(bytes),
                Some(_) => return Err(fields.bad("mem_limit", shown, FieldProblem::TooLittleMemory)),
                None => return Err(fields.bad("mem_limit", shown, FieldProblem::NotASize)),
            }
        }
    };
    let nano_cpus = match fields.get("cpus") {
        None => None,
        Some(value) => {
            // Compose files often quote it (`cpus: "1.5"`).
            let count = value
                .as_int()
                .map(|count| count as f64)
                .or_else(|_| value.as_float())
                .ok()
                .or_else(|| value.clone().into_string().ok().and_then(|text| text.trim().parse::<f64>().ok()));
            match count {
                Some(count) if count.is_finite() && (0.01..=1024.0).contains(&count) => {
                    Some((count * 1e9).round() as u64)
                }
                _ => {
                    let shown =
                        if value.is_string() { value.into_string().unwrap_or_default() } else { value.to_string() };
                    return Err(fields.bad("cpus", shown, FieldProblem::NotACpuCount));
                }
            }
        }
    };
    Ok(Resources { memory, nano_cpus })
}

/// `"512m"`, `"1.5g"`, `"100000"`: a number of bytes with an optional unit (`b`, `k`, `m`, `g`,
/// `t`, also as `kb`, `mb`, ...), as `docker run --memory` and compose take it.
fn parse_bytes(text: &str) -> Option<u64> {
    let text = text.trim().to_ascii_lowercase();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let unit = unit.trim();
    let unit =
        unit.strip_suffix("ib").or_else(|| unit.strip_suffix('b').filter(|rest| !rest.is_empty())).unwrap_or(unit);
    let scale: u64 = match unit {
        "" | "b" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        "t" => 1 << 40,
        _ => return None,
    };
    let bytes = number * scale as f64;
    (bytes.is_finite() && bytes >= 1.0 && bytes < u64::MAX as f64).then_some(bytes as u64)
}

/// `healthcheck`: `#{ test, interval, timeout, retries, start_period }` or `#{ disable: true }`.
fn healthcheck(fields: &Fields<'_>) -> Result<Option<Healthcheck>, Error> {
    const KEYS: [&str; 6] = ["test", "interval", "timeout", "retries", "start_period", "disable"];
    let Some(value) = fields.get("healthcheck") else { return Ok(None) };
    if !value.is_map() {
        return Err(fields.wrong_type(
            "healthcheck",
            "a map like `#{ test: \"pg_isready\", interval: \"2s\" }`",
            &value,
        ));
    }
    let map = value.cast::<Map>();
    for key in map.keys() {
        if !KEYS.contains(&key.as_str()) {
            let suggestion = suggest(key, KEYS).map(String::from);
            return Err(fields.bad("healthcheck", key.to_string(), FieldProblem::UnknownKey { suggestion }));
        }
    }
    let get = |key: &str| map.get(key).map(Dynamic::flatten_clone);
    if let Some(disable) = get("disable") {
        match disable.as_bool() {
            Ok(true) => return Ok(Some(Healthcheck { test: vec!["NONE".into()], ..Healthcheck::empty() })),
            Ok(false) => {}
            Err(_) => return Err(fields.wrong_type("healthcheck", "`disable: true` or `false`", &disable)),
        }
    }
    let Some(test) = get("test") else {
        return Err(fields.bad("healthcheck", "test", FieldProblem::NoTest));
    };
    let test = if test.is_string() {
        let command = test.into_string().unwrap_or_default();
        if command.trim().is_empty() {
            return Err(fields.bad("healthcheck", "test", FieldProblem::NoTest));
        }
        vec!["CMD-SHELL".to_string(), command]
    } else if test.is_array() {
        let mut words = Vec::new();
        for word in &test.clone().cast::<Array>() {
            if !word.is_string() {
                return Err(fields.wrong_type("healthcheck", "a `test` string or array of strings", word));
            }
            words.push(word.clone().into_string().unwrap_or_default());
        }
        match words.first().map(String::as_str) {
            None => return Err(fields.bad("healthcheck", "test", FieldProblem::NoTest)),
            Some("CMD" | "CMD-SHELL") if words.len() < 2 => {
                return Err(fields.bad("healthcheck", "test", FieldProblem::NoTest));
            }
            Some("CMD" | "CMD-SHELL" | "NONE") => words,
            Some(_) => std::iter::once("CMD".to_string()).chain(words).collect(),
        }
    } else {
        return Err(fields.wrong_type("healthcheck", "a `test` string or array of strings", &test));
    };
    let duration = |key: &str, field: &'static str| {
        get(key).map(|value| fields.duration("healthcheck", field, &value)).transpose()
    };
    let retries = match get("retries") {
        None => None,
        Some(value) => match value.as_int().ok().and_then(|count| u32::try_from(count).ok()) {
            Some(count) => Some(count),
            None => return Err(fields.wrong_type("healthcheck", "`retries` as a whole number from 0", &value)),
        },
    };
    Ok(Some(Healthcheck {
        test,
        interval: duration("interval", "healthcheck.interval")?,
        timeout: duration("timeout", "healthcheck.timeout")?,
        retries,
        start_period: duration("start_period", "healthcheck.start_period")?,
    }))
}

/// Finds `field:` among the top-level keys of the map literal passed to the call at `call`.
/// Returns `None` when the map is not written inline (e.g. `service(m)`).
pub(super) fn locate_field(call: &Span, field: &str) -> Option<Span> {
    let text = &call.file.text;
    let start = offset_of(&call.file, call.line, call.column)?;
    let rest = &text[start..];
    let open = rest.find('(')?;
    let after = rest[open + 1..].trim_start();
    if !after.starts_with("#{") {
        return None;
    }
    let map_start = start + open + 1 + (rest[open + 1..].len() - after.len()) + 2;
    let bytes = text.as_bytes();
    let mut index = map_start;
    let mut depth = 1usize;
    let mut expect_key = true;
    while index < bytes.len() && depth > 0 {
        let c = bytes[index];
        match c {
            b'/' if bytes.get(index + 1) == Some(&b'/') => {
                index = text[index..].find('\n').map_or(bytes.len(), |n| index + n);
                continue;
            }
            b'/' if bytes.get(index + 1) == Some(&b'*') => {
                index = text[index + 2..].find("*/").map_or(bytes.len(), |n| index + 2 + n + 2);
                continue;
            }
            b'"' | b'`' | b'\'' => {
                let quote = c;
                let token_start = index;
                index += 1;
                while index < bytes.len() && bytes[index] != quote {
                    index += if bytes[index] == b'\\' { 2 } else { 1 };
                }
                index += 1;
                if depth == 1 && expect_key {
                    let key = &text[token_start + 1..index.saturating_sub(1).max(token_start + 1)];
                    expect_key = false;
                    if key == field && followed_by_colon(text, index) {
                        return Some(span_at(call, text, token_start));
                    }
                }
                continue;
            }
            b'{' | b'(' | b'[' => depth += 1,
            b'}' | b')' | b']' => depth -= 1,
            b',' if depth == 1 => expect_key = true,
            c if depth == 1 && expect_key && (c.is_ascii_alphabetic() || c == b'_') => {
                let token_start = index;
                while index < bytes.len() && (bytes[index].is_ascii_alphanumeric() || bytes[index] == b'_') {
                    index += 1;
                }
                expect_key = false;
                if &text[token_start..index] == field && followed_by_colon(text, index) {
                    return Some(span_at(call, text, token_start));
                }
                continue;
            }
            _ => {}
        }
        index += 1;
    }
    None
}

fn followed_by_colon(text: &str, index: usize) -> bool {
    text[index..].trim_start().starts_with(':')
}

/// The byte offset of a 1-based line and character column.
fn offset_of(file: &SourceFile, line: usize, column: usize) -> Option<usize> {
    let text = &file.text;
    let line_start = file.line_start(line.max(1))?;
    let column_offset: usize = text[line_start..].chars().take(column.saturating_sub(1)).map(char::len_utf8).sum();
    Some(line_start + column_offset)
}

fn span_at(call: &Span, text: &str, offset: usize) -> Span {
    let (line, line_start) = call.file.line_of(offset);
    let column = text[line_start..offset].chars().count() + 1;
    Span::new(&call.file, line, column)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn call_span(text: &str) -> Span {
        let file = Arc::new(SourceFile::new(PathBuf::from("s.rhai"), text.to_string()));
        let offset = text.find("service").unwrap();
        span_at(&Span::file_only(&file), text, offset)
    }

    #[test]
    fn finds_top_level_keys_only() {
        let text =
            "let x = 1;\nservice(#{\n  name: \"a\", // ports: here\n  env: #{ ports: 1 },\n  \"ports\": #{},\n});";
        let call = call_span(text);
        let ports = locate_field(&call, "ports").unwrap();
        assert_eq!((ports.line, ports.column), (5, 3));
        let env = locate_field(&call, "env").unwrap();
        assert_eq!((env.line, env.column), (4, 3));
        assert!(locate_field(&call, "image").is_none());
    }

    #[test]
    fn map_in_a_variable_has_no_field_positions() {
        let call = call_span("let m = #{ name: \"a\" };\nservice(m);");
        assert!(locate_field(&call, "name").is_none());
    }

    #[test]
    fn sizes_take_docker_units() {
        assert_eq!(parse_bytes("512m"), Some(512 << 20));
        assert_eq!(parse_bytes("1.5g"), Some(3 << 29));
        assert_eq!(parse_bytes("64MB"), Some(64 << 20));
        assert_eq!(parse_bytes("2GiB"), Some(2 << 30));
        assert_eq!(parse_bytes("100000"), Some(100_000));
        assert_eq!(parse_bytes("10b"), Some(10));
        for bad in ["", "m", "lots", "5x", "-1m", "1.2.3k"] {
            assert_eq!(parse_bytes(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_are_hostnames() {
        for good in ["a", "web", "service_one", "db-2", "A1"] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in ["", "-a", "a-", "a b", "a.b", "ä", &"x".repeat(64)] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }
}
