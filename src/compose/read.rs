//! Reads a compose file's YAML tree (`yaml.rs`) into the model (`model.rs`): every key is
//! either read, ignored with a typed warning, or refused with a typed error naming it and its
//! line; every string value is interpolated (`variables.rs`) as it is read, so keys that are
//! ignored are never interpolated. Pure: the caller reads the files.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{
    ComposeError, ComposeErrorKind, ComposePlace, ComposeReference, Error, PortProblem, UnsupportedHint, VolumeProblem,
};
use crate::service::Protocol;
use crate::source::{SourceFile, Span};
use crate::text::suggest;

use super::model::{
    Build, ComposeFile, ComposeService, ComposeWarning, ComposeWarningKind, Condition, Dependency, EnvEntry, EnvFile,
    HealthTest, Healthcheck, IgnoredReason, Located, Mount, NamedVolume, Port, Restart, Secret, SecretSource,
    SecretUse,
};
use super::units::{parse_bytes, parse_duration};
use super::variables::{Variables, substitute};
use super::yaml::{self, Node, Value};

/// The service keys boss reads.
pub(crate) const SERVICE_KEYS: &[&str] = &[
    "image",
    "build",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "volumes",
    "tmpfs",
    "secrets",
    "depends_on",
    "healthcheck",
    "user",
    "working_dir",
    "stop_signal",
    "stop_grace_period",
    "extra_hosts",
    "labels",
    "profiles",
    "restart",
    "init",
    "mem_limit",
    "cpus",
];

/// The service keys boss ignores with a warning, and why that changes nothing that runs.
pub(crate) const IGNORED_SERVICE_KEYS: &[(&str, IgnoredReason)] = &[
    ("container_name", IgnoredReason::ContainerName),
    ("networks", IgnoredReason::Networks),
    ("expose", IgnoredReason::SameNetwork),
    ("links", IgnoredReason::SameNetwork),
    ("hostname", IgnoredReason::Hostname),
    ("domainname", IgnoredReason::Hostname),
    ("tty", IgnoredReason::NotAttached),
    ("stdin_open", IgnoredReason::NotAttached),
    ("attach", IgnoredReason::NotAttached),
    ("platform", IgnoredReason::Images),
    ("pull_policy", IgnoredReason::Images),
    ("logging", IgnoredReason::Logging),
    ("develop", IgnoredReason::EngineDefaults),
];

const TOP_LEVEL_KEYS: &[&str] = &["name", "services", "volumes", "secrets"];

/// Reads `source` (a compose file in `directory`) with `variables`.
pub(crate) fn read(source: &Arc<SourceFile>, directory: &Path, variables: &Variables) -> Result<ComposeFile, Error> {
    let root = yaml::parse(&source.text).map_err(|error| {
        let kind = ComposeErrorKind::Yaml(error.problem);
        // The parser places an error at the end of the text on the line after the last one;
        // point at the end of the last line instead, which the snippet can show.
        let (line, column) = match source.line_count() {
            last if error.at.line > last && last > 0 => {
                (last, Span::new(source, last, 1).line_text().map_or(1, |text| text.chars().count() + 1))
            }
            _ => (error.at.line, error.at.column),
        };
        compose_error(kind, Span::new(source, line, column))
    })?;
    let mut reader = Reader { source, directory, variables, warnings: Vec::new() };
    let file = reader.file(&root)?;
    // A variable in a value that anchors copy into many services is read once per copy;
    // compose warns once per variable, and so does boss.
    let mut warnings: Vec<ComposeWarning> = Vec::new();
    for warning in reader.warnings {
        if !warnings.iter().any(|seen| seen.kind == warning.kind) {
            warnings.push(warning);
        }
    }
    Ok(ComposeFile { warnings, ..file })
}

fn compose_error(kind: ComposeErrorKind, span: Span) -> Error {
    Error::Compose(Box::new(ComposeError { kind, span }))
}

/// A `NAME=value` entry; `None` when the value is left out.
type Pair = (String, Option<String>);

struct Reader<'a> {
    source: &'a Arc<SourceFile>,
    directory: &'a Path,
    variables: &'a Variables,
    warnings: Vec<ComposeWarning>,
}

/// The text of a key (`yaml.rs` refused keys that are not scalars).
fn key_text(key: &Node) -> &str {
    match &key.value {
        Value::Scalar(scalar) => &scalar.text,
        _ => unreachable!("yaml.rs refuses keys that are not scalars"),
    }
}

impl Reader<'_> {
    fn span(&self, node: &Node) -> Span {
        Span::new(self.source, node.at.line, node.at.column)
    }

    fn error(&self, node: &Node, kind: ComposeErrorKind) -> Error {
        compose_error(kind, self.span(node))
    }

    fn located<T>(&self, node: &Node, value: T) -> Located<T> {
        Located { value, span: self.span(node) }
    }

    fn wrong_type(&self, node: &Node, key: &str, expected: &'static str) -> Error {
        self.error(node, ComposeErrorKind::WrongType { key: key.to_string(), expected, got: node.kind() })
    }

    fn ignore(&mut self, key: &Node, place: &ComposePlace, reason: IgnoredReason) {
        let kind = ComposeWarningKind::IgnoredKey { key: key_text(key).to_string(), place: place.clone(), reason };
        self.warnings.push(ComposeWarning { kind, span: self.span(key) });
    }

    /// The refusal of `key` in `place`, with a suggestion from `known`.
    fn unsupported(&self, key: &Node, place: ComposePlace, known: &[&str]) -> Error {
        let text = key_text(key);
        let hint = match text {
            "deploy" => Some(UnsupportedHint::Deploy),
            "extends" => Some(UnsupportedHint::Extends),
            "include" => Some(UnsupportedHint::Include),
            "configs" => Some(UnsupportedHint::Configs),
            "network_mode" => Some(UnsupportedHint::NetworkMode),
            _ => None,
        };
        let suggestion = suggest(text, known.iter().copied()).map(str::to_string);
        self.error(key, ComposeErrorKind::UnsupportedKey { key: text.to_string(), place, suggestion, hint })
    }

    fn mapping<'n>(&self, node: &'n Node, key: &str) -> Result<&'n [(Node, Node)], Error> {
        match &node.value {
            Value::Mapping(entries) => Ok(entries),
            _ => Err(self.wrong_type(node, key, "a mapping")),
        }
    }

    /// A mapping's entries, `[]` for null.
    fn optional_mapping<'n>(&self, node: &'n Node, key: &str) -> Result<&'n [(Node, Node)], Error> {
        if node.is_null() { Ok(&[]) } else { self.mapping(node, key) }
    }

    fn sequence<'n>(&self, node: &'n Node, key: &str) -> Result<&'n [Node], Error> {
        match &node.value {
            Value::Sequence(items) => Ok(items),
            _ => Err(self.wrong_type(node, key, "a list")),
        }
    }

    /// A scalar, interpolated; unset variables become warnings.
    fn string(&mut self, node: &Node, key: &str) -> Result<String, Error> {
        let Value::Scalar(scalar) = &node.value else {
            return Err(self.wrong_type(node, key, "a string"));
        };
        if node.is_null() {
            return Err(self.wrong_type(node, key, "a string"));
        }
        match substitute(&scalar.text, self.variables) {
            Ok((text, unset)) => {
                for (name, offset) in unset {
                    let span = self.span_in(node, offset);
                    self.warnings.push(ComposeWarning { kind: ComposeWarningKind::UnsetVariable { name }, span });
                }
                Ok(text)
            }
            Err(error) => Err(compose_error(
                ComposeErrorKind::Variable { problem: error.problem },
                self.span_in(node, error.offset),
            )),
        }
    }

    /// Where character `offset` of a scalar's text is, when the source writes it as is.
    fn span_in(&self, node: &Node, offset: usize) -> Span {
        let column = match &node.value {
            Value::Scalar(scalar) => scalar.offset.map_or(node.at.column, |start| node.at.column + start + offset),
            _ => node.at.column,
        };
        Span::new(self.source, node.at.line, column)
    }

    fn optional_string(&mut self, node: &Node, key: &str) -> Result<Option<String>, Error> {
        if node.is_null() { Ok(None) } else { self.string(node, key).map(Some) }
    }

    fn located_string(&mut self, node: &Node, key: &str) -> Result<Located<String>, Error> {
        let value = self.string(node, key)?;
        Ok(self.located(node, value))
    }

    /// A string or a list of strings, as a list.
    fn strings(&mut self, node: &Node, key: &str) -> Result<Vec<String>, Error> {
        match &node.value {
            Value::Sequence(items) => items.iter().map(|item| self.string(item, key)).collect(),
            _ => Ok(vec![self.string(node, key)?]),
        }
    }

    fn bool(&mut self, node: &Node, key: &str) -> Result<bool, Error> {
        self.allowed(node, key, &["true", "false"], |text| match text {
            "true" | "True" | "TRUE" => Some(true),
            "false" | "False" | "FALSE" => Some(false),
            _ => None,
        })
    }

    fn number<T: std::str::FromStr>(&mut self, node: &Node, key: &str) -> Result<T, Error> {
        let text = self.string(node, key)?;
        text.parse().map_err(|_| self.error(node, ComposeErrorKind::BadNumber { key: key.to_string(), value: text }))
    }

    fn duration(&mut self, node: &Node, key: &str) -> Result<Duration, Error> {
        let text = self.string(node, key)?;
        parse_duration(&text)
            .ok_or_else(|| self.error(node, ComposeErrorKind::BadDuration { key: key.to_string(), value: text }))
    }

    fn bytes(&mut self, node: &Node, key: &str) -> Result<u64, Error> {
        let text = self.string(node, key)?;
        parse_bytes(&text)
            .ok_or_else(|| self.error(node, ComposeErrorKind::BadBytes { key: key.to_string(), value: text }))
    }

    fn allowed<T>(
        &mut self,
        node: &Node,
        key: &str,
        allowed: &'static [&'static str],
        from_name: impl Fn(&str) -> Option<T>,
    ) -> Result<T, Error> {
        let text = self.string(node, key)?;
        from_name(&text).ok_or_else(|| {
            self.error(node, ComposeErrorKind::NotAllowed { key: key.to_string(), value: text, allowed })
        })
    }

    /// A string that is a host path, resolved.
    fn path(&mut self, node: &Node, key: &str) -> Result<PathBuf, Error> {
        let text = self.string(node, key)?;
        Ok(self.host_path(&text))
    }

    /// A path resolved against the compose file's directory, `~/` against `HOME`.
    fn host_path(&self, path: &str) -> PathBuf {
        match path.strip_prefix("~/").zip(self.variables.get("HOME")) {
            Some((rest, home)) => Path::new(home).join(rest),
            None => self.directory.join(path),
        }
    }

    /// The list (`NAME=value`, or `NAME` alone) or mapping (`NAME: value`, `NAME:` alone) form
    /// of environment, labels, build args and extra hosts; `separators` split list entries.
    fn pairs(&mut self, node: &Node, key: &'static str, separators: &[char]) -> Result<Vec<Located<Pair>>, Error> {
        let mut pairs = Vec::new();
        match &node.value {
            Value::Sequence(items) => {
                for item in items {
                    let entry = self.string(item, key)?;
                    let pair = match entry.split_once(separators) {
                        Some((name, value)) => (name.to_string(), Some(value.to_string())),
                        None => (entry, None),
                    };
                    pairs.push(self.located(item, pair));
                }
            }
            Value::Mapping(entries) => {
                for (name, value) in entries {
                    let value = match &value.value {
                        _ if value.is_null() => None,
                        Value::Scalar(_) => Some(self.string(value, key)?),
                        _ => return Err(self.wrong_type(value, key, "a string, a number or a boolean")),
                    };
                    pairs.push(self.located(name, (key_text(name).to_string(), value)));
                }
            }
            _ if node.is_null() => {}
            _ => return Err(self.wrong_type(node, key, "a list or a mapping")),
        }
        Ok(pairs)
    }

    /// Pairs whose values must be given (labels, extra hosts).
    fn complete_pairs(
        &mut self,
        node: &Node,
        key: &'static str,
        separators: &[char],
    ) -> Result<Vec<Located<(String, String)>>, Error> {
        self.pairs(node, key, separators)?
            .into_iter()
            .map(|pair| match pair.value {
                (name, Some(value)) => Ok(Located { value: (name, value), span: pair.span }),
                (name, None) if key == "labels" => Ok(Located { value: (name, String::new()), span: pair.span }),
                (name, None) => Err(compose_error(ComposeErrorKind::BadListEntry { key, entry: name }, pair.span)),
            })
            .collect()
    }

    fn file(&mut self, root: &Node) -> Result<ComposeFile, Error> {
        if root.is_null() {
            return Err(self.error(root, ComposeErrorKind::NoServices));
        }
        let mut file = ComposeFile {
            source: Arc::clone(self.source),
            name: None,
            services: Vec::new(),
            volumes: Vec::new(),
            secrets: Vec::new(),
            warnings: Vec::new(),
            variables: self.variables.clone(),
        };
        let mut services = None;
        for (key, value) in self.mapping(root, "the compose file")? {
            match key_text(key) {
                "name" => file.name = Some(self.located_string(value, "name")?),
                "services" => services = Some((key, value)),
                "volumes" => file.volumes = self.named_volumes(value)?,
                "secrets" => file.secrets = self.secrets(value)?,
                "version" => self.ignore(key, &ComposePlace::TopLevel, IgnoredReason::Obsolete),
                "networks" => self.ignore(key, &ComposePlace::TopLevel, IgnoredReason::Networks),
                text if text.starts_with("x-") => {}
                _ => return Err(self.unsupported(key, ComposePlace::TopLevel, TOP_LEVEL_KEYS)),
            }
        }
        let Some((services_key, services)) = services else {
            return Err(self.error(root, ComposeErrorKind::NoServices));
        };
        for (name, service) in self.optional_mapping(services, "services")? {
            let service = self.service(name, service)?;
            file.services.push(service);
        }
        if file.services.is_empty() {
            return Err(self.error(services_key, ComposeErrorKind::NoServices));
        }
        self.check_references(&mut file)?;
        Ok(file)
    }

    fn named_volumes(&mut self, node: &Node) -> Result<Vec<NamedVolume>, Error> {
        let mut volumes = Vec::new();
        for (key, value) in self.optional_mapping(node, "volumes")? {
            let name = key_text(key).to_string();
            let place = ComposePlace::Volume(name.clone());
            let mut volume =
                NamedVolume { key: name, span: self.span(key), name: None, external: false, labels: Vec::new() };
            for (field, value) in self.optional_mapping(value, "volume")? {
                match key_text(field) {
                    "name" => volume.name = Some(self.string(value, "name")?),
                    "external" => volume.external = self.external(value)?,
                    "labels" => {
                        volume.labels =
                            self.complete_pairs(value, "labels", &['='])?.into_iter().map(|pair| pair.value).collect();
                    }
                    "driver" if self.string(value, "driver")? == "local" => {}
                    text if text.starts_with("x-") => {}
                    _ => return Err(self.unsupported(field, place, &["name", "external", "labels"])),
                }
            }
            volumes.push(volume);
        }
        Ok(volumes)
    }

    /// `external: true`, or the legacy `external: { name: ... }`.
    fn external(&mut self, node: &Node) -> Result<bool, Error> {
        match &node.value {
            Value::Mapping(_) => Ok(true),
            _ => self.bool(node, "external"),
        }
    }

    fn secrets(&mut self, node: &Node) -> Result<Vec<Secret>, Error> {
        let mut secrets = Vec::new();
        for (key, value) in self.optional_mapping(node, "secrets")? {
            let name = key_text(key).to_string();
            let mut source = None;
            for (field, value) in self.mapping(value, "secret")? {
                match key_text(field) {
                    "file" => source = Some(SecretSource::File(self.path(value, "file")?)),
                    "environment" => source = Some(SecretSource::Environment(self.string(value, "environment")?)),
                    "external" if self.external(value)? => {
                        return Err(self.error(field, ComposeErrorKind::ExternalSecret { secret: name }));
                    }
                    "external" => {}
                    text if text.starts_with("x-") => {}
                    _ => return Err(self.unsupported(field, ComposePlace::Secret(name), &["file", "environment"])),
                }
            }
            let Some(source) = source else {
                return Err(
                    self.error(key, ComposeErrorKind::MissingKey { key: "file", place: ComposePlace::Secret(name) })
                );
            };
            secrets.push(Secret { key: name, span: self.span(key), source });
        }
        Ok(secrets)
    }

    fn service(&mut self, name_node: &Node, node: &Node) -> Result<ComposeService, Error> {
        let name = key_text(name_node).to_string();
        if !crate::script::is_valid_name(&name) {
            return Err(self.error(name_node, ComposeErrorKind::BadName { what: "service", name }));
        }
        let mut service = ComposeService::new(name.clone(), self.span(name_node));
        let place = ComposePlace::Service(name.clone());
        let mut tmpfs = Vec::new();
        for (key, value) in self.optional_mapping(node, "service")? {
            let text = key_text(key);
            match text {
                "image" => service.image = Some(self.located_string(value, text)?),
                "build" => service.build = Some(self.build(value, &name)?),
                "command" | "entrypoint" => {
                    let words = if value.is_null() {
                        None
                    } else {
                        Some(self.command(value, if text == "command" { "command" } else { "entrypoint" })?)
                    };
                    let words = words.map(|words| self.located(value, words));
                    if text == "command" {
                        service.command = words;
                    } else {
                        service.entrypoint = words;
                    }
                }
                "environment" => {
                    for pair in self.pairs(value, "environment", &['='])? {
                        let (name, value) = pair.value;
                        // A bare `NAME` takes its value from where boss runs; unset leaves it out.
                        let value = value.or_else(|| self.variables.get(&name).map(str::to_string));
                        service.environment.push(Located { value: EnvEntry { name, value }, span: pair.span });
                    }
                }
                "env_file" => service.env_files = self.env_files(value, &name)?,
                "ports" => {
                    for item in self.sequence(value, text)? {
                        let ports = self.ports(item, &name)?;
                        service.ports.extend(ports.into_iter().map(|port| self.located(item, port)));
                    }
                }
                "volumes" => {
                    for item in self.sequence(value, text)? {
                        let mount = self.mount(item, &name)?;
                        service.volumes.push(self.located(item, mount));
                    }
                }
                "tmpfs" => {
                    let items: Vec<&Node> = match &value.value {
                        Value::Sequence(items) => items.iter().collect(),
                        _ => vec![value],
                    };
                    for item in items {
                        let mount = self.tmpfs(item)?;
                        tmpfs.push(self.located(item, mount));
                    }
                }
                "secrets" => {
                    for item in self.sequence(value, text)? {
                        let secret = self.secret_use(item, &name)?;
                        service.secrets.push(self.located(item, secret));
                    }
                }
                "depends_on" => service.depends_on = self.depends_on(value, &name)?,
                "healthcheck" => {
                    let healthcheck = self.healthcheck(value, &name)?;
                    service.healthcheck = Some(self.located(key, healthcheck));
                }
                "user" => service.user = Some(self.located_string(value, text)?),
                "working_dir" => service.working_dir = Some(self.located_string(value, text)?),
                "stop_signal" => service.stop_signal = Some(self.located_string(value, text)?),
                "stop_grace_period" => service.stop_grace_period = Some(self.duration(value, text)?),
                "extra_hosts" => service.extra_hosts = self.complete_pairs(value, "extra_hosts", &['=', ':'])?,
                "labels" => {
                    service.labels =
                        self.complete_pairs(value, "labels", &['='])?.into_iter().map(|pair| pair.value).collect();
                }
                "profiles" => service.profiles = self.strings(value, text)?,
                "restart" => service.restart = Some(self.restart(value)?),
                "init" => service.init = Some(self.bool(value, text)?),
                "mem_limit" => service.mem_limit = Some(self.bytes(value, text)?),
                "cpus" => {
                    let cpus: f64 = self.number(value, text)?;
                    if !(cpus.is_finite() && cpus > 0.0) {
                        return Err(self.error(
                            value,
                            ComposeErrorKind::BadNumber { key: text.to_string(), value: cpus.to_string() },
                        ));
                    }
                    service.cpus = Some(cpus);
                }
                text if text.starts_with("x-") => {}
                text => match IGNORED_SERVICE_KEYS.iter().find(|(ignored, _)| *ignored == text) {
                    Some((_, reason)) => self.ignore(key, &place, *reason),
                    None => return Err(self.unsupported(key, place, SERVICE_KEYS)),
                },
            }
        }
        service.volumes.extend(tmpfs);
        if service.image.is_none() && service.build.is_none() {
            return Err(self.error(name_node, ComposeErrorKind::NoImage { service: name }));
        }
        Ok(service)
    }

    fn build(&mut self, node: &Node, service: &str) -> Result<Located<Build>, Error> {
        if let Value::Scalar(_) = node.value {
            let context = self.path(node, "build")?;
            return Ok(self.located(node, Build { context, dockerfile: None, args: Vec::new(), target: None }));
        }
        let place = ComposePlace::ServiceField { service: service.to_string(), field: "build" };
        let mut build =
            Build { context: self.directory.to_path_buf(), dockerfile: None, args: Vec::new(), target: None };
        for (key, value) in self.mapping(node, "build")? {
            match key_text(key) {
                "context" => build.context = self.path(value, "context")?,
                "dockerfile" => build.dockerfile = Some(self.string(value, "dockerfile")?),
                "args" => build.args = self.pairs(value, "args", &['='])?.into_iter().map(|pair| pair.value).collect(),
                "target" => build.target = Some(self.string(value, "target")?),
                text if text.starts_with("x-") => {}
                _ => return Err(self.unsupported(key, place, &["context", "dockerfile", "args", "target"])),
            }
        }
        Ok(self.located(node, build))
    }

    /// A list as is, or a string split into words as compose splits it.
    fn command(&mut self, node: &Node, key: &'static str) -> Result<Vec<String>, Error> {
        if let Value::Sequence(items) = &node.value {
            return items.iter().map(|item| self.string(item, key)).collect();
        }
        let text = self.string(node, key)?;
        shlex::split(&text).ok_or_else(|| self.error(node, ComposeErrorKind::BadCommand { key, value: text }))
    }

    fn env_files(&mut self, node: &Node, service: &str) -> Result<Vec<Located<EnvFile>>, Error> {
        let place = ComposePlace::ServiceField { service: service.to_string(), field: "env_file" };
        let items: Vec<&Node> = match &node.value {
            Value::Sequence(items) => items.iter().collect(),
            _ => vec![node],
        };
        let mut files = Vec::new();
        for item in items {
            let file = match &item.value {
                Value::Mapping(entries) => {
                    let mut file = EnvFile { path: PathBuf::new(), required: true };
                    let mut has_path = false;
                    for (key, value) in entries {
                        match key_text(key) {
                            "path" => {
                                file.path = self.path(value, "path")?;
                                has_path = true;
                            }
                            "required" => file.required = self.bool(value, "required")?,
                            // Compose's `format: raw` reads values without quotes or `${}`.
                            _ => return Err(self.unsupported(key, place, &["path", "required"])),
                        }
                    }
                    if !has_path {
                        return Err(self
                            .error(item, ComposeErrorKind::MissingKey { key: "path", place: ComposePlace::TopLevel }));
                    }
                    file
                }
                _ => EnvFile { path: self.path(item, "env_file")?, required: true },
            };
            files.push(self.located(item, file));
        }
        Ok(files)
    }

    /// One entry of `ports`, which a range makes several.
    fn ports(&mut self, node: &Node, service: &str) -> Result<Vec<Port>, Error> {
        let Value::Mapping(entries) = &node.value else {
            let entry = self.string(node, "ports")?;
            return parse_port(&entry)
                .map_err(|problem| self.error(node, ComposeErrorKind::BadPort { entry, problem }));
        };
        let place = ComposePlace::ServiceField { service: service.to_string(), field: "ports" };
        let (mut target, mut published, mut host_ip, mut protocol) = (None, None, None, Protocol::Tcp);
        for (key, value) in entries {
            let text = key_text(key);
            let port = |reader: &mut Reader<'_>, allow_zero: bool| -> Result<u16, Error> {
                let entry = reader.string(value, text)?;
                let problem = match entry.parse::<u16>() {
                    Ok(0) if !allow_zero => PortProblem::Zero,
                    Ok(port) => return Ok(port),
                    Err(_) if allow_zero && entry.contains('-') => PortProblem::HostRangeToOnePort,
                    Err(_) => PortProblem::NotAPort { part: entry.clone() },
                };
                Err(reader.error(value, ComposeErrorKind::BadPort { entry, problem }))
            };
            match text {
                "target" => target = Some(port(self, false)?),
                "published" => published = Some(port(self, true)?),
                "host_ip" => host_ip = Some(self.string(value, text)?),
                "protocol" => {
                    let name = self.string(value, text)?;
                    protocol = Protocol::from_name(&name).ok_or_else(|| {
                        self.error(
                            value,
                            ComposeErrorKind::BadPort {
                                entry: name.clone(),
                                problem: PortProblem::Protocol { protocol: name.clone() },
                            },
                        )
                    })?;
                }
                // `mode: ingress` is Swarm's routing mesh; without Swarm both modes publish on
                // the host. `name` and `app_protocol` only describe the port.
                "mode" | "name" | "app_protocol" => {
                    self.string(value, text)?;
                }
                text if text.starts_with("x-") => {}
                _ => {
                    return Err(self.unsupported(
                        key,
                        place,
                        &["target", "published", "host_ip", "protocol", "mode", "name", "app_protocol"],
                    ));
                }
            }
        }
        let Some(target) = target else {
            return Err(self.error(node, ComposeErrorKind::MissingKey { key: "target", place }));
        };
        Ok(vec![Port { target, published, host_ip, protocol }])
    }

    fn mount(&mut self, node: &Node, service: &str) -> Result<Mount, Error> {
        let Value::Mapping(entries) = &node.value else {
            let entry = self.string(node, "volumes")?;
            let (source, target, read_only) = parse_volume(&entry)
                .map_err(|problem| self.error(node, ComposeErrorKind::BadVolume { entry: entry.clone(), problem }))?;
            return Ok(match source {
                Some(source) if is_host_path(&source) => {
                    Mount::Bind { source: self.host_path(&source), target, read_only }
                }
                source => Mount::Volume { source, target, read_only },
            });
        };
        let place = ComposePlace::ServiceField { service: service.to_string(), field: "volumes" };
        let (mut kind, mut source, mut target, mut read_only, mut size, mut mode) =
            (None, None, None, false, None, None);
        for (key, value) in entries {
            match key_text(key) {
                "type" => kind = Some((self.string(value, "type")?, value)),
                "source" => source = Some(self.string(value, "source")?),
                "target" => target = Some(self.string(value, "target")?),
                "read_only" => read_only = self.bool(value, "read_only")?,
                // Docker's legacy binds create a missing host path, as compose's default does.
                "bind" => {
                    for (field, value) in self.mapping(value, "bind")? {
                        match key_text(field) {
                            "create_host_path" => {
                                self.bool(value, "create_host_path")?;
                            }
                            _ => return Err(self.unsupported(field, place, &["create_host_path"])),
                        }
                    }
                }
                "tmpfs" => {
                    for (field, value) in self.mapping(value, "tmpfs")? {
                        match key_text(field) {
                            "size" => size = Some(self.bytes(value, "size")?),
                            "mode" => mode = Some(self.octal(value)?),
                            _ => return Err(self.unsupported(field, place, &["size", "mode"])),
                        }
                    }
                }
                // Docker Desktop's file sharing hints; the engine ignores them.
                "consistency" => {
                    self.string(value, "consistency")?;
                }
                text if text.starts_with("x-") => {}
                _ => {
                    return Err(self.unsupported(
                        key,
                        place,
                        &["type", "source", "target", "read_only", "bind", "tmpfs", "consistency"],
                    ));
                }
            }
        }
        let Some((kind, kind_node)) = kind else {
            return Err(self.error(node, ComposeErrorKind::MissingKey { key: "type", place }));
        };
        let Some(target) = target else {
            return Err(self.error(node, ComposeErrorKind::MissingKey { key: "target", place }));
        };
        if !target.starts_with('/') {
            return Err(
                self.error(node, ComposeErrorKind::BadVolume { entry: target, problem: VolumeProblem::RelativeTarget })
            );
        }
        match kind.as_str() {
            "bind" => {
                match source {
                    Some(source) => Ok(Mount::Bind { source: self.host_path(&source), target, read_only }),
                    None => Err(self
                        .error(node, ComposeErrorKind::BadVolume { entry: target, problem: VolumeProblem::NoSource })),
                }
            }
            "volume" => Ok(Mount::Volume { source, target, read_only }),
            "tmpfs" => Ok(Mount::Tmpfs { target, size, mode }),
            _ => Err(self.error(
                kind_node,
                ComposeErrorKind::BadVolume { entry: target, problem: VolumeProblem::Type { kind } },
            )),
        }
    }

    fn octal(&mut self, node: &Node) -> Result<u32, Error> {
        let text = self.string(node, "mode")?;
        u32::from_str_radix(text.trim_start_matches("0o"), 8)
            .map_err(|_| self.error(node, ComposeErrorKind::BadNumber { key: "mode".into(), value: text }))
    }

    /// `/path` or `/path:size=64m,mode=1777`.
    fn tmpfs(&mut self, node: &Node) -> Result<Mount, Error> {
        let entry = self.string(node, "tmpfs")?;
        let (target, options) = entry.split_once(':').unwrap_or((&entry, ""));
        let bad = |problem| ComposeErrorKind::BadVolume { entry: entry.clone(), problem };
        if !target.starts_with('/') {
            return Err(self.error(node, bad(VolumeProblem::RelativeTarget)));
        }
        let (mut size, mut mode) = (None, None);
        for option in options.split(',').filter(|option| !option.is_empty()) {
            match option.split_once('=') {
                Some(("size", value)) if parse_bytes(value).is_some() => size = parse_bytes(value),
                Some(("mode", value)) if u32::from_str_radix(value, 8).is_ok() => {
                    mode = u32::from_str_radix(value, 8).ok()
                }
                _ => return Err(self.error(node, bad(VolumeProblem::Mode { mode: option.to_string() }))),
            }
        }
        Ok(Mount::Tmpfs { target: target.to_string(), size, mode })
    }

    fn secret_use(&mut self, node: &Node, service: &str) -> Result<SecretUse, Error> {
        let Value::Mapping(entries) = &node.value else {
            let source = self.string(node, "secrets")?;
            return Ok(SecretUse { target: format!("/run/secrets/{source}"), source });
        };
        let place = ComposePlace::ServiceField { service: service.to_string(), field: "secrets" };
        let (mut source, mut target) = (None, None);
        for (key, value) in entries {
            match key_text(key) {
                "source" => source = Some(self.string(value, "source")?),
                "target" => target = Some(self.string(value, "target")?),
                "uid" | "gid" | "mode" => self.ignore(key, &place, IgnoredReason::SecretOwnership),
                text if text.starts_with("x-") => {}
                _ => return Err(self.unsupported(key, place, &["source", "target", "uid", "gid", "mode"])),
            }
        }
        let Some(source) = source else {
            return Err(self.error(node, ComposeErrorKind::MissingKey { key: "source", place }));
        };
        let target = match target {
            Some(target) if target.starts_with('/') => target,
            Some(target) => format!("/run/secrets/{target}"),
            None => format!("/run/secrets/{source}"),
        };
        Ok(SecretUse { source, target })
    }

    fn depends_on(&mut self, node: &Node, service: &str) -> Result<Vec<Located<Dependency>>, Error> {
        let mut dependencies = Vec::new();
        if let Value::Sequence(items) = &node.value {
            for item in items {
                let name = self.string(item, "depends_on")?;
                let dependency =
                    Dependency { service: name, condition: Condition::Started, required: true, restart: false };
                dependencies.push(self.located(item, dependency));
            }
            return Ok(dependencies);
        }
        let place = ComposePlace::ServiceField { service: service.to_string(), field: "depends_on" };
        for (name, value) in self.mapping(node, "depends_on")? {
            let mut dependency = Dependency {
                service: key_text(name).to_string(),
                condition: Condition::Started,
                required: true,
                restart: false,
            };
            for (key, value) in self.optional_mapping(value, "depends_on")? {
                match key_text(key) {
                    "condition" => {
                        dependency.condition =
                            self.allowed(value, "condition", Condition::NAMES, Condition::from_name)?
                    }
                    "required" => dependency.required = self.bool(value, "required")?,
                    "restart" => dependency.restart = self.bool(value, "restart")?,
                    text if text.starts_with("x-") => {}
                    _ => return Err(self.unsupported(key, place, &["condition", "required", "restart"])),
                }
            }
            dependencies.push(self.located(name, dependency));
        }
        Ok(dependencies)
    }

    fn healthcheck(&mut self, node: &Node, service: &str) -> Result<Healthcheck, Error> {
        let place = ComposePlace::ServiceField { service: service.to_string(), field: "healthcheck" };
        let mut healthcheck = Healthcheck {
            test: None,
            interval: None,
            timeout: None,
            start_period: None,
            start_interval: None,
            retries: None,
        };
        let mut disabled = false;
        for (key, value) in self.mapping(node, "healthcheck")? {
            let text = key_text(key);
            match text {
                "test" => healthcheck.test = Some(self.health_test(value)?),
                "interval" => healthcheck.interval = Some(self.duration(value, text)?),
                "timeout" => healthcheck.timeout = Some(self.duration(value, text)?),
                "start_period" => healthcheck.start_period = Some(self.duration(value, text)?),
                "start_interval" => healthcheck.start_interval = Some(self.duration(value, text)?),
                "retries" => healthcheck.retries = Some(self.number(value, text)?),
                "disable" => disabled = self.bool(value, text)?,
                text if text.starts_with("x-") => {}
                _ => {
                    return Err(self.unsupported(
                        key,
                        place,
                        &["test", "interval", "timeout", "start_period", "start_interval", "retries", "disable"],
                    ));
                }
            }
        }
        if disabled {
            healthcheck.test = Some(HealthTest::Disabled);
        }
        Ok(healthcheck)
    }

    fn health_test(&mut self, node: &Node) -> Result<HealthTest, Error> {
        let Value::Sequence(items) = &node.value else {
            return Ok(HealthTest::Shell(self.string(node, "test")?));
        };
        let Some((first, rest)) = items.split_first() else {
            return Err(self.wrong_type(node, "test", "a string or a list starting with `CMD`, `CMD-SHELL` or `NONE`"));
        };
        const FORMS: &[&str] = &["CMD", "CMD-SHELL", "NONE"];
        let form = self.allowed(first, "test", FORMS, |form| FORMS.iter().position(|known| *known == form))?;
        let words: Vec<String> = rest.iter().map(|item| self.string(item, "test")).collect::<Result<_, _>>()?;
        Ok(match form {
            0 => HealthTest::Exec(words),
            1 => HealthTest::Shell(words.join(" ")),
            _ => HealthTest::Disabled,
        })
    }

    fn restart(&mut self, node: &Node) -> Result<Restart, Error> {
        const POLICIES: &[&str] = &["no", "always", "on-failure", "on-failure:N", "unless-stopped"];
        self.allowed(node, "restart", POLICIES, |policy| match policy {
            "no" => Some(Restart::No),
            "always" => Some(Restart::Always),
            "unless-stopped" => Some(Restart::UnlessStopped),
            "on-failure" => Some(Restart::OnFailure { max_retries: None }),
            _ => {
                let retries = policy.strip_prefix("on-failure:")?.parse().ok()?;
                Some(Restart::OnFailure { max_retries: Some(retries) })
            }
        })
    }

    /// Refuses dependencies, volumes and secrets the file does not define; drops optional
    /// dependencies it does not define, with a warning, as compose does.
    fn check_references(&mut self, file: &mut ComposeFile) -> Result<(), Error> {
        let known: Vec<String> = file.services.iter().map(|service| service.name.clone()).collect();
        for service in &mut file.services {
            let (kept, missing): (Vec<_>, Vec<_>) = std::mem::take(&mut service.depends_on)
                .into_iter()
                .partition(|dependency| dependency.value.required || known.contains(&dependency.value.service));
            service.depends_on = kept;
            for dependency in missing {
                let kind = ComposeWarningKind::OptionalDependencyMissing {
                    service: service.name.clone(),
                    dependency: dependency.value.service,
                };
                self.warnings.push(ComposeWarning { kind, span: dependency.span });
            }
        }
        let services: Vec<&str> = file.services.iter().map(|service| service.name.as_str()).collect();
        let volumes: Vec<&str> = file.volumes.iter().map(|volume| volume.key.as_str()).collect();
        let secrets: Vec<&str> = file.secrets.iter().map(|secret| secret.key.as_str()).collect();
        for service in &file.services {
            let undefined = |reference, name: &str, span: &Span, known: &[&str]| {
                compose_error(
                    ComposeErrorKind::UndefinedReference {
                        service: service.name.clone(),
                        reference,
                        name: name.to_string(),
                        suggestion: suggest(name, known.iter().copied()).map(str::to_string),
                    },
                    span.clone(),
                )
            };
            for dependency in &service.depends_on {
                if !services.contains(&dependency.value.service.as_str()) {
                    let others: Vec<&str> = services.iter().copied().filter(|other| *other != service.name).collect();
                    return Err(undefined(
                        ComposeReference::Service,
                        &dependency.value.service,
                        &dependency.span,
                        &others,
                    ));
                }
            }
            for mount in &service.volumes {
                if let Mount::Volume { source: Some(source), .. } = &mount.value
                    && !volumes.contains(&source.as_str())
                {
                    return Err(undefined(ComposeReference::Volume, source, &mount.span, &volumes));
                }
            }
            for secret in &service.secrets {
                if !secrets.contains(&secret.value.source.as_str()) {
                    return Err(undefined(ComposeReference::Secret, &secret.value.source, &secret.span, &secrets));
                }
            }
        }
        Ok(())
    }
}

/// `/abs`, `./rel`, `../rel`, `~/home` (and `.` alone) are host paths; anything else names a
/// volume, as compose decides.
fn is_host_path(source: &str) -> bool {
    source.starts_with(['/', '.', '~'])
}

/// `[SOURCE:]TARGET[:MODE]` into the source, target and whether it is read-only.
fn parse_volume(entry: &str) -> Result<(Option<String>, String, bool), VolumeProblem> {
    let parts: Vec<&str> = entry.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [target] => (None, *target, None),
        [source, target] => (Some(*source), *target, None),
        [source, target, mode] => (Some(*source), *target, Some(*mode)),
        _ => return Err(VolumeProblem::Shape),
    };
    if source == Some("") || target.is_empty() {
        return Err(VolumeProblem::Shape);
    }
    if !target.starts_with('/') {
        return Err(VolumeProblem::RelativeTarget);
    }
    let mut read_only = false;
    for option in mode.into_iter().flat_map(|mode| mode.split(',')) {
        match option {
            "ro" => read_only = true,
            // SELinux relabelling is the engine's; the consistency flags are Docker
            // Desktop's, which the engine ignores.
            "rw" | "z" | "Z" | "cached" | "delegated" | "consistent" => {}
            _ => return Err(VolumeProblem::Mode { mode: option.to_string() }),
        }
    }
    Ok((source.map(str::to_string), target.to_string(), read_only))
}

/// `[[HOST_IP:][HOST_PORT]:]CONTAINER_PORT[/PROTOCOL]`, with equal ranges (`8000-8002:80-82`)
/// expanded into one port each, as compose does. A host IPv6 address is written in brackets.
fn parse_port(entry: &str) -> Result<Vec<Port>, PortProblem> {
    let (rest, protocol) = match entry.rsplit_once('/') {
        Some((rest, protocol)) => (
            rest,
            Protocol::from_name(protocol).ok_or_else(|| PortProblem::Protocol { protocol: protocol.to_string() })?,
        ),
        None => (entry, Protocol::Tcp),
    };
    let (host_ip, rest) = match rest.strip_prefix('[') {
        Some(bracketed) => {
            let (address, rest) = bracketed.split_once("]:").ok_or(PortProblem::Shape)?;
            (Some(address.to_string()), rest)
        }
        None => match rest.matches(':').count() {
            2 => {
                let (address, rest) = rest.split_once(':').expect("two colons");
                (Some(address.to_string()), rest)
            }
            0 | 1 => (None, rest),
            _ => return Err(PortProblem::Shape),
        },
    };
    let (published, target) = match rest.split_once(':') {
        Some((published, target)) => (Some(published), target),
        None if host_ip.is_some() => return Err(PortProblem::Shape),
        None => (None, rest),
    };
    let host_ip = host_ip.filter(|address| !address.is_empty());
    let targets = port_range(target, false)?;
    let published = match published {
        None | Some("") => None,
        Some(published) => Some(port_range(published, true)?),
    };
    match published {
        None => {
            Ok(targets.map(|target| Port { target, published: None, host_ip: host_ip.clone(), protocol }).collect())
        }
        Some(published) if published.len() == targets.len() => Ok(published
            .zip(targets)
            .map(|(published, target)| Port { target, published: Some(published), host_ip: host_ip.clone(), protocol })
            .collect()),
        Some(_) if targets.len() == 1 => Err(PortProblem::HostRangeToOnePort),
        Some(_) => Err(PortProblem::RangeLengths),
    }
}

/// `8080` or `8080-8082`; 0 only on the host side.
fn port_range(text: &str, host: bool) -> Result<std::ops::RangeInclusive<u16>, PortProblem> {
    let number = |part: &str| part.parse::<u16>().map_err(|_| PortProblem::NotAPort { part: part.to_string() });
    let (start, end) = match text.split_once('-') {
        Some((start, end)) => (number(start)?, number(end)?),
        None => (number(text)?, number(text)?),
    };
    if (start == 0 && !host) || end < start {
        return Err(if start == 0 { PortProblem::Zero } else { PortProblem::NotAPort { part: text.to_string() } });
    }
    Ok(start..=end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(target: u16, published: Option<u16>, host_ip: Option<&str>, protocol: Protocol) -> Port {
        Port { target, published, host_ip: host_ip.map(str::to_string), protocol }
    }

    #[test]
    fn short_port_syntax() {
        use Protocol::{Tcp, Udp};
        assert_eq!(parse_port("80"), Ok(vec![port(80, None, None, Tcp)]));
        assert_eq!(parse_port("8080:80"), Ok(vec![port(80, Some(8080), None, Tcp)]));
        assert_eq!(parse_port("127.0.0.1:8080:80/udp"), Ok(vec![port(80, Some(8080), Some("127.0.0.1"), Udp)]));
        assert_eq!(parse_port("127.0.0.1::80"), Ok(vec![port(80, None, Some("127.0.0.1"), Tcp)]));
        assert_eq!(parse_port("[::1]:5432:5432"), Ok(vec![port(5432, Some(5432), Some("::1"), Tcp)]));
        assert_eq!(parse_port("0:80"), Ok(vec![port(80, Some(0), None, Tcp)]));
        assert_eq!(
            parse_port("9000-9001:7000-7001"),
            Ok(vec![port(7000, Some(9000), None, Tcp), port(7001, Some(9001), None, Tcp)])
        );
        assert_eq!(parse_port("3000-3001"), Ok(vec![port(3000, None, None, Tcp), port(3001, None, None, Tcp)]));
        assert_eq!(parse_port("8000-8010:80"), Err(PortProblem::HostRangeToOnePort));
        assert_eq!(parse_port("8000-8001:80-82"), Err(PortProblem::RangeLengths));
        assert_eq!(parse_port("80/sctp"), Err(PortProblem::Protocol { protocol: "sctp".into() }));
        assert_eq!(parse_port("http"), Err(PortProblem::NotAPort { part: "http".into() }));
        assert_eq!(parse_port("8080:0"), Err(PortProblem::Zero));
        assert_eq!(parse_port("1:2:3:4"), Err(PortProblem::Shape));
        assert_eq!(parse_port("90-80"), Err(PortProblem::NotAPort { part: "90-80".into() }));
    }

    #[test]
    fn short_volume_syntax() {
        assert_eq!(parse_volume("/data"), Ok((None, "/data".into(), false)));
        assert_eq!(parse_volume("db:/var/lib/db"), Ok((Some("db".into()), "/var/lib/db".into(), false)));
        assert_eq!(parse_volume("./conf:/etc/app:ro,z"), Ok((Some("./conf".into()), "/etc/app".into(), true)));
        assert_eq!(parse_volume("./conf:etc"), Err(VolumeProblem::RelativeTarget));
        assert_eq!(parse_volume("a:/b:rw:x"), Err(VolumeProblem::Shape));
        assert_eq!(parse_volume("a:/b:nocopy"), Err(VolumeProblem::Mode { mode: "nocopy".into() }));
        assert!(is_host_path("./x") && is_host_path("/x") && is_host_path("~/x") && !is_host_path("data"));
    }
}
