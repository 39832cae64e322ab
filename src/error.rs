//! Every error boss reports, as data, and the one renderer that turns it into text.
//!
//! Code elsewhere builds variants with structured fields; only this file decides wording,
//! hints and the exit status ([`exit_code`]). Messages are lowercase fragments with names in
//! backticks, followed by an optional source snippet, `caused by:` and `hint:` lines.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::backend::{BackendError, BackendErrorKind};
use crate::hook::HookKind;
use crate::interpolate::InterpolationError;
use crate::service::{LimitSource, TimeLimit};
use crate::source::Span;
use crate::text::{and_ticked, count, suggest};
use std::time::Duration;

/// Named process exit statuses (listed in the README).
pub mod exit_code {
    /// Everything asked for succeeded.
    pub const SUCCESS: i32 = 0;
    /// A service failed to start or stop, or a runtime error happened.
    pub const FAILURE: i32 = 1;
    /// Usage error or invalid input, refused before Docker was touched.
    pub const INVALID_INPUT: i32 = 2;
    /// The Docker daemon could not be reached.
    pub const DOCKER_UNREACHABLE: i32 = 3;
    /// Another boss kept the group busy for longer than `--lock-timeout` (sysexits'
    /// `EX_TEMPFAIL`: try again later).
    pub const LOCKED: i32 = 75;
    /// `boss run`: the command could not be started (as a shell says it).
    pub const COMMAND_NOT_RUN: i32 = 126;
    /// `boss run`: the command was not found (as a shell says it).
    pub const COMMAND_NOT_FOUND: i32 = 127;
    /// Interrupted by Ctrl-C (SIGINT) or SIGTERM, after cleaning up.
    pub const INTERRUPTED: i32 = 130;
}

/// An error that ends a command or a library call: data, worded only by [`Error::render`]
/// (and `Display`, which is the same text), with [`Error::exit_code`] for the CLI's status.
///
/// ```
/// let directory = std::env::temp_dir();
/// let error = match boss::Group::from_source(r#"service(#{ name: "web" });"#, &directory) {
///     Err(error) => error,
///     Ok(_) => unreachable!("`image` is missing"),
/// };
/// assert!(matches!(error, boss::Error::Script(_)));
/// assert_eq!(error.exit_code(), 2);
/// assert!(error.to_string().starts_with("error: field `image` is required"));
/// ```
#[derive(Debug)]
pub enum Error {
    /// Something is wrong in the services script.
    Script(Box<ScriptError>),
    /// Something is wrong in a compose file (or the `.env` file next to it).
    Compose(Box<ComposeError>),
    /// A command-line value breaks a rule (exclusions, unknown service names, missing file).
    Usage(UsageError),
    /// The context file exists but cannot be used.
    ContextLoad { path: PathBuf, problem: ContextFileProblem },
    /// `stop --remove` could not delete the context file; `error` is the system's words.
    ContextDelete { path: PathBuf, error: String },
    /// The context could not be written.
    ContextSave { path: PathBuf, reason: String },
    /// No Docker daemon answers at `address`.
    DockerUnreachable { address: String, cause: String },
    /// A Docker call outside any single service failed (network set-up, listing).
    Backend { action: Action, error: BackendError },
    /// The engine at `address` went away or stopped answering (`error.kind` says which) in the
    /// middle of `boss <verb>`, when it was asked for `action`. What the run did so far is kept
    /// and the context is saved, so running the command again continues from there.
    EngineLost { verb: &'static str, address: String, action: Action, error: BackendError },
    /// A network with the name boss needs exists but was not created by boss for this group;
    /// `owner` is the boss group it belongs to, if any.
    ForeignNetwork { name: String, owner: Option<String> },
    /// The group's containers or network were created by a script in another directory.
    /// `only_volumes`: nothing of it runs any more; only its kept volumes hold the claim.
    GroupClaimed { group: String, directory: String, only_volumes: bool },
    /// Env values hold `{key}`s that nothing provides: no `.boss-context` entry, no hook of a
    /// dependency that runs. Refused before anything starts.
    MissingContextKeys { missing: Vec<crate::plan::MissingKey> },
    /// `boss plan --exit-code` found that `start` would change something; the plan itself
    /// was printed, so this says nothing more.
    PlanHasChanges,
    /// `boss status` found a declared service that is not running, or never became ready; the status itself was
    /// printed, so this says nothing more.
    NotAllRunning,
    /// Ctrl-C or SIGTERM arrived; services that were starting were torn down.
    Interrupted,
    /// `--timings FILE` could not be written; `error` is the system's words.
    SaveTimings { path: PathBuf, error: String },
    /// Another boss (`holder`, when it said who it is) kept working on `group` for all of
    /// `waited`, the `--lock-timeout` ([`crate::Group::lock_timeout`]); nothing was changed.
    LockTimeout { group: String, holder: Option<crate::event::LockHolder>, waited: Duration },
    /// The lock file of a group, or its directory at `path`, cannot be used.
    LockUnusable { path: PathBuf, problem: LockProblem },
    /// `boss run`: the command could not be started; `error` is the system's words.
    CommandNotRun { program: String, error: String, not_found: bool },
    /// `boss run`: the command ended with status `code` (128 + N when signal N ended it),
    /// which is boss's exit status.
    CommandFailed { program: String, code: i32 },
    /// A group name given to the library is not a valid hostname.
    BadGroupName { name: String },
    /// [`crate::Running::port`] was asked for a port the service does not publish.
    NoPublishedPort { service: String, container_port: u16 },
    /// Some services did not reach the requested state; each was reported when it failed.
    ServicesFailed { verb: &'static str, failed: Vec<String> },
    /// `boss gc` could not remove `failed` of the `tried` things; each was reported.
    GcIncomplete { failed: usize, tried: usize },
    /// A service's log could not be written to `path`; `error` is the system's words.
    SaveLog { path: PathBuf, error: String },
    /// `boss exec` asked for a service that has no running container.
    ServiceNotRunning { service: String },
    /// The command `boss exec` ran exited with a status other than 0, which boss exits with;
    /// the command printed its own words, so this says nothing more.
    CommandExited { code: i32 },
}

/// The engine call that found the engine gone or stalled in the middle of a run.
#[derive(Debug, Clone)]
pub(crate) struct LostEngine {
    pub address: String,
    pub action: Action,
    pub error: BackendError,
}

impl LostEngine {
    /// The first of `failures` that found the engine at `address` gone or stalled.
    pub(crate) fn first<'a>(
        address: &str,
        failures: impl IntoIterator<Item = &'a ServiceFailure>,
    ) -> Option<LostEngine> {
        let (action, error) = failures.into_iter().find_map(ServiceFailure::lost_engine)?;
        Some(LostEngine { address: address.to_string(), action: action.clone(), error: error.clone() })
    }

    /// The error of `boss <verb>` that lost its engine.
    pub(crate) fn into_error(self, verb: &'static str) -> Error {
        Error::EngineLost { verb, address: self.address, action: self.action, error: self.error }
    }
}

impl Error {
    /// An engine call outside any service that found the engine gone or stalled, as
    /// [`Error::EngineLost`]; any other error as it is.
    pub(crate) fn at_engine(self, verb: &'static str, address: &str) -> Error {
        match self {
            Error::Backend { action, error } if error.engine_lost() => {
                Error::EngineLost { verb, address: address.to_string(), action, error }
            }
            other => other,
        }
    }
}

/// Why a group's lock cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockProblem {
    /// The directory belongs to another user, who could take or fake boss's locks.
    NotOwned { owner: u32 },
    /// Something other than a directory (a symbolic link, say) is where the directory belongs.
    NotADirectory,
    /// Creating, opening or locking failed; `error` is the system's words.
    Io { error: String },
}

/// Why the context file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextFileProblem {
    /// Reading it failed; `error` is the system's words.
    Unreadable {
        error: String,
    },
    NotAnObject,
    /// `error` is the JSON parser's words.
    InvalidJson {
        error: String,
    },
}

/// Why an env entry of a service cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvProblem {
    /// The value is an array, a map or another non-scalar, described by its type.
    NotAScalar {
        got: String,
    },
    NulCharacter,
    /// A malformed `{placeholder}`.
    Placeholder(InterpolationError),
}

/// A command line that asks for something the script does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageError {
    /// The services script named (or the default `services.rhai`) does not exist.
    NoScript {
        path: PathBuf,
    },
    /// `boss reload FILE.rhai` without the service to reload.
    ReloadWithoutService {
        file: String,
    },
    /// `boss exec` without the command to run.
    ExecWithoutCommand,
    /// A service name that the script does not declare; `known` are the declared ones.
    UnknownService {
        name: String,
        known: Vec<String>,
    },
    /// `reload` of a service that has no `build_from`.
    NotReloadable {
        service: String,
    },
    BadNetworkName {
        name: String,
    },
    /// `BOSS_REQUEST_TIMEOUT` is not a whole number of seconds above 0.
    BadRequestTimeout {
        value: String,
    },
    /// `--exclude` names services that the script does not declare.
    UnknownExclusion {
        unknown: Vec<String>,
        known: Vec<String>,
    },
    /// `start --exclude dependency` while `dependant`, which needs it, would be started.
    ExcludedDependency {
        dependency: String,
        dependant: String,
    },
    /// `stop --exclude service` while `dependency`, which it needs, would be stopped.
    ExcludedDependant {
        service: String,
        dependency: String,
    },
    /// `service` would start, but `dependency`, which it needs, is only in `profiles`, none of
    /// them active.
    InactiveDependency {
        service: String,
        dependency: String,
        profiles: Vec<String>,
    },
    /// A secret of `service` reads the host variable `variable`, which is not set.
    SecretVariableUnset {
        service: String,
        secret: String,
        variable: String,
    },
    /// A secret file of `service` cannot be read; `error` is the system's words.
    SecretFileUnreadable {
        service: String,
        secret: String,
        path: PathBuf,
        error: String,
    },
    /// `--env-file PATH` cannot be read or is not a `.env` file.
    BadEnvFile {
        path: PathBuf,
        problem: EnvFileProblem,
    },
}

/// Why a `.env` file (`--env-file`, `env_file`) cannot be used. Never holds a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnvFileProblem {
    /// The system's words.
    Unreadable(String),
    Syntax(crate::dotenv::DotenvProblem),
}

impl EnvFileProblem {
    fn describe(&self) -> String {
        use crate::dotenv::DotenvProblem;
        match self {
            EnvFileProblem::Unreadable(error) => format!("cannot be read: {error}"),
            EnvFileProblem::Syntax(DotenvProblem::NotAnAssignment { line }) => {
                format!("line {line} is not `NAME=value`, a comment or blank")
            }
            EnvFileProblem::Syntax(DotenvProblem::BadName { line }) => {
                format!("line {line} has a name that cannot be an environment variable's")
            }
            EnvFileProblem::Syntax(DotenvProblem::Unclosed { line }) => {
                format!("the quote opened on line {line} is never closed")
            }
        }
    }
}

/// Why a `secrets` entry is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretProblem {
    /// The name cannot be a file name under `/run/secrets`.
    BadName,
    /// The entry is not a map (`got` describes it; a string is never repeated).
    NotAMap { got: String },
    /// The map names no source, or more than one.
    Sources { found: Vec<String> },
    /// The source's value is not a non-empty string.
    NotAString { source: &'static str },
    /// The file does not exist (or is not a file).
    NoFile { path: String },
    /// A bind in `volumes` mounts something at the secret's path too.
    MountedTwice { path: String },
}

/// A Docker call that failed, named for the `failed to ...` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    ListNetworksNamed {
        name: String,
    },
    CreateNetwork {
        name: String,
    },
    RemoveNetwork {
        name: String,
    },
    ListGroupContainers {
        group: String,
    },
    ListGroupNetworks {
        group: String,
    },
    ListGroupVolumes {
        group: String,
    },
    ListServiceContainers {
        service: String,
    },
    /// Inspecting a service's container for the ports it got.
    InspectServiceContainer {
        service: String,
    },
    /// Waiting on the engine for a starting service's container to exit (it fails the start).
    WatchServiceContainer {
        service: String,
    },
    LookUpContainer {
        container: String,
    },
    CreateContainer {
        container: String,
    },
    StartContainer {
        container: String,
    },
    UnpauseContainer {
        container: String,
    },
    StopContainer {
        container: String,
    },
    RemoveContainer {
        container: String,
    },
    /// Removing a container that a new one replaces.
    RemoveOldContainer {
        container: String,
    },
    LookUpImage {
        image: String,
    },
    InspectImage {
        image: String,
    },
    LookUpVolume {
        volume: String,
    },
    CreateVolume {
        volume: String,
    },
    RemoveVolume {
        volume: String,
    },
    /// `boss gc`: listing every container on the engine.
    ListContainers,
    /// `boss gc`: listing boss's networks.
    ListNetworks,
    /// `boss gc`: listing boss's volumes.
    ListVolumes,
    /// `boss gc`: listing boss's images.
    ListImages,
    /// `boss gc`: removing an image tag (and the image when it was its last).
    RemoveImage {
        image: String,
    },
    /// Reading a container's log.
    ReadLogs {
        container: String,
    },
    /// Watching the engine for containers of the group that start (`logs -f`).
    WatchContainers {
        group: String,
    },
    /// Running a command in a container for `boss exec`.
    ExecIn {
        container: String,
    },
}

/// How to give a service more time, by what set the limit that ran out.
fn raise_limit_hint(set_by: LimitSource, otherwise: &str) -> String {
    match set_by {
        LimitSource::WaitTimeoutOption => format!("raise `--wait-timeout`, {otherwise}"),
        LimitSource::WaitTimeoutField | LimitSource::HookTimeoutField => {
            format!("raise the service's `{}`, {otherwise}", set_by.name())
        }
    }
}

/// Why a value of a container field is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldProblem {
    /// A label named `boss.*`: boss's own labels say what it owns, so they cannot be set.
    ReservedLabel,
    EmptyName,
    /// The same name twice (`"A=1"` and `"A=2"` in the array form).
    Twice,
    /// An array entry without the separator between name and value.
    NoSeparator {
        separator: char,
    },
    NotAScalar {
        got: String,
    },
    NulCharacter,
    /// A `{key}` placeholder that is not well formed.
    Placeholder(crate::interpolate::InterpolationError),
    /// A container path that does not start with `/`.
    NotAbsolute,
    /// A tmpfs path that a volume or another tmpfs already mounts.
    MountedTwice,
    BadTmpfsOptions,
    NotAHostName,
    NotAnAddress,
    NotARestartPolicy,
    NotASize,
    TooLittleMemory,
    NotACpuCount,
    UnknownKey {
        suggestion: Option<String>,
    },
    /// A healthcheck without a command to run.
    NoTest,
    /// `build_args` or `build_target` without `build_from`.
    NoBuild,
}

impl FieldProblem {
    fn describe(&self) -> String {
        match self {
            FieldProblem::ReservedLabel => "labels starting with `boss.` are boss's own".into(),
            FieldProblem::EmptyName => "the name is empty".into(),
            FieldProblem::Twice => "the name is given twice".into(),
            FieldProblem::NoSeparator { separator } => format!("expected `name{separator}value`"),
            FieldProblem::NotAScalar { got } => format!("values must be strings, numbers or booleans, got {got}"),
            FieldProblem::NulCharacter => "the value contains a NUL character".into(),
            FieldProblem::Placeholder(error) => error.describe(),
            FieldProblem::NotAbsolute => "the container path must be absolute".into(),
            FieldProblem::MountedTwice => "this container path is mounted twice".into(),
            FieldProblem::BadTmpfsOptions => "the options must not contain spaces or line breaks".into(),
            FieldProblem::NotAHostName => "the host name must not be empty or contain spaces or `:`".into(),
            FieldProblem::NotAnAddress => "the address must be an IP address or `host-gateway`".into(),
            FieldProblem::NotARestartPolicy => "it is not a restart policy".into(),
            FieldProblem::NotASize => "it is not a size".into(),
            FieldProblem::TooLittleMemory => "Docker needs at least 6 MiB".into(),
            FieldProblem::NotACpuCount => "it must be a number of CPUs from 0.01 to 1024".into(),
            FieldProblem::UnknownKey { .. } => "there is no such key".into(),
            FieldProblem::NoTest => "a healthcheck needs a `test` command".into(),
            FieldProblem::NoBuild => "it applies only to an image built with `build_from`".into(),
        }
    }

    fn hint(&self, field: &str) -> Option<String> {
        Some(match self {
            FieldProblem::ReservedLabel => {
                "rename the label; boss sets `boss.group`, `boss.service` and the others itself".into()
            }
            FieldProblem::Twice | FieldProblem::EmptyName | FieldProblem::NoSeparator { .. }
                if field == "extra_hosts" =>
            {
                "write `#{ \"db.local\": \"10.0.0.5\" }` or `[\"db.local:10.0.0.5\"]`".into()
            }
            FieldProblem::Twice | FieldProblem::EmptyName | FieldProblem::NoSeparator { .. } => {
                format!("write `#{{ name: \"value\" }}` or `[\"name=value\"]` for `{field}`")
            }
            FieldProblem::NotAbsolute => "write an absolute path like `/app`".into(),
            FieldProblem::MountedTwice => "mount each container path once, in `volumes` or in `tmpfs`".into(),
            FieldProblem::BadTmpfsOptions => "write options like `\"/tmp:size=64m,mode=1777\"`".into(),
            FieldProblem::NotAnAddress => {
                "write `#{ \"db.local\": \"10.0.0.5\" }`; `{key}` fills the address in from the context".into()
            }
            FieldProblem::NotARestartPolicy => {
                "use `\"no\"`, `\"always\"`, `\"on-failure\"`, `\"on-failure:3\"` or `\"unless-stopped\"`".into()
            }
            FieldProblem::NotASize | FieldProblem::TooLittleMemory => {
                "write bytes as a number, or a string with a unit: `\"512m\"`, `\"1g\"`".into()
            }
            FieldProblem::NotACpuCount => "write a number like `1` or `0.5`".into(),
            FieldProblem::UnknownKey { suggestion: Some(suggestion) } => format!("did you mean `{suggestion}`?"),
            FieldProblem::UnknownKey { suggestion: None } => {
                "the keys are `test`, `interval`, `timeout`, `retries`, `start_period` and `disable`".into()
            }
            FieldProblem::NoTest => {
                "write `test: \"pg_isready -U postgres\"` (run by a shell) or `test: [\"CMD\", \"pg_isready\"]`".into()
            }
            FieldProblem::NoBuild => "set `build_from` to the build context, or remove the field".into(),
            FieldProblem::NotAHostName
            | FieldProblem::NotAScalar { .. }
            | FieldProblem::NulCharacter
            | FieldProblem::Placeholder(_) => return None,
        })
    }
}

/// Why a `wait_timeout` or `hook_timeout` value is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitProblem {
    /// Neither a number nor a string with a unit, or a unit boss does not know.
    NotADuration,
    /// A number written as a string (`"2"`): the unit is missing.
    NoUnit { seconds: String },
    /// Zero or negative: a hook could never run.
    NotPositive,
    /// Longer than a day, the longest `--wait-timeout`.
    TooLong,
}

/// Why a hook failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookProblem {
    /// The script layer's account of the error (Rhai's words, a throw, a time-out).
    Script { message: String },
    /// `ping` returned something other than a boolean, described by its type.
    NotABool { got: String },
    /// The blocking thread that ran the hook panicked or was cancelled by the runtime.
    Crashed { reason: String },
    /// The hook ran past `limit` and was cut off.
    TimedOut { limit: TimeLimit },
}

/// A mistake in the script, with where it is.
#[derive(Debug)]
pub struct ScriptError {
    pub kind: ScriptErrorKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ScriptErrorKind {
    /// The script file could not be read.
    Unreadable {
        path: PathBuf,
        reason: String,
    },
    /// Rhai could not parse the script.
    Syntax {
        message: String,
    },
    /// Evaluating the script's top level failed (a `throw`, a runtime error).
    Evaluation {
        message: String,
    },
    /// A declaration function was given the wrong kind of argument.
    BadArgument {
        function: &'static str,
        expected: &'static str,
        got: String,
    },
    /// A variable that is not defined where it is used.
    UndefinedVariable {
        name: String,
    },
    UnknownField {
        field: String,
        suggestion: Option<String>,
    },
    MissingField {
        field: &'static str,
    },
    WrongType {
        field: String,
        expected: &'static str,
        got: String,
    },
    InvalidName {
        what: &'static str,
        name: String,
    },
    BadStopSignal {
        value: String,
    },
    /// A field that makes no sense for a job or an external service.
    NotWith {
        field: String,
        kind: crate::service::ServiceKind,
    },
    /// `wait_timeout` or `hook_timeout` is not a usable time limit.
    BadTimeLimit {
        field: &'static str,
        got: String,
        problem: LimitProblem,
    },
    BadImage {
        image: String,
    },
    BadBuild {
        directory: String,
        problem: ContextProblem,
    },
    /// Two services publish the same host port.
    PortTaken {
        port: String,
        service: String,
        other: String,
    },
    BadPort {
        entry: String,
        reason: String,
    },
    BadVolume {
        entry: String,
        reason: String,
    },
    BadEnv {
        key: String,
        problem: EnvProblem,
    },
    /// A value of a container field (`labels`, `tmpfs`, `mem_limit`, ...) that Docker would
    /// refuse or boss cannot use; `value` is the entry or value at fault.
    BadField {
        field: &'static str,
        value: String,
        problem: FieldProblem,
    },
    /// A `secrets` entry that boss cannot use.
    BadSecret {
        name: String,
        problem: SecretProblem,
    },
    /// A file of `env_file` that cannot be used.
    BadEnvFile {
        path: String,
        problem: EnvFileProblem,
    },
    /// An env name Docker cannot take; `key` is escaped so it prints on one line.
    BadEnvName {
        key: String,
        problem: &'static str,
    },
    /// A container path with `.`, `..` or `//`, which Docker would resolve differently from
    /// how boss compares paths.
    UnnormalisedPath {
        path: String,
        normalised: String,
    },
    /// A volume path in the map form with `:`, which Docker's bind syntax cannot express.
    VolumePathColon {
        which: &'static str,
        path: String,
    },
    BadHook {
        hook: HookKind,
        problem: BadHookProblem,
    },
    DuplicateService {
        name: String,
        first: Span,
    },
    UnknownDependency {
        service: String,
        dependency: String,
        suggestion: Option<String>,
    },
    /// `hooks(name, ...)` names no declared service.
    UnknownHookService {
        service: String,
        suggestion: Option<String>,
    },
    Cycle {
        path: Vec<String>,
    },
    NoServices,
    GroupSetTwice {
        first: Span,
    },
}

/// A mistake in a compose file, with where it is.
#[derive(Debug)]
pub struct ComposeError {
    pub kind: ComposeErrorKind,
    pub span: Span,
}

/// Where in a compose file a key or value belongs, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComposePlace {
    TopLevel,
    Service(String),
    /// A mapping inside a service, such as its `healthcheck` or a long-syntax port.
    ServiceField {
        service: String,
        field: &'static str,
    },
    Volume(String),
    Secret(String),
}

/// What a service refers to by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ComposeReference {
    Service,
    Volume,
    Secret,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ComposeErrorKind {
    Unreadable {
        path: PathBuf,
        reason: String,
    },
    /// The text is not a usable YAML document.
    Yaml(YamlProblem),
    /// A key boss does not support (or does not know) where it is.
    UnsupportedKey {
        key: String,
        place: ComposePlace,
        suggestion: Option<String>,
        hint: Option<UnsupportedHint>,
    },
    MissingKey {
        key: &'static str,
        place: ComposePlace,
    },
    WrongType {
        key: String,
        expected: &'static str,
        got: &'static str,
    },
    /// A value outside a fixed set.
    NotAllowed {
        key: String,
        value: String,
        allowed: &'static [&'static str],
    },
    NoServices,
    NoImage {
        service: String,
    },
    BadName {
        what: &'static str,
        name: String,
    },
    BadPort {
        entry: String,
        problem: PortProblem,
    },
    BadVolume {
        entry: String,
        problem: VolumeProblem,
    },
    BadDuration {
        key: String,
        value: String,
    },
    BadBytes {
        key: String,
        value: String,
    },
    BadNumber {
        key: String,
        value: String,
    },
    /// A string command that does not split into words (an unclosed quote).
    BadCommand {
        key: &'static str,
        value: String,
    },
    /// `KEY=value` expected in a list form of a mapping (environment, labels, extra_hosts).
    BadListEntry {
        key: &'static str,
        entry: String,
    },
    Variable {
        problem: VariableProblem,
    },
    UndefinedReference {
        service: String,
        reference: ComposeReference,
        name: String,
        suggestion: Option<String>,
    },
    /// `external: true` secrets (Swarm's).
    ExternalSecret {
        secret: String,
    },
    /// A `.env` line that cannot be read.
    Dotenv {
        problem: DotenvProblem,
    },
}

/// Why a compose file's text is not a usable YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum YamlProblem {
    /// The YAML parser's own words.
    Syntax(String),
    /// `first_line` and `first_column` are where the key is written first.
    DuplicateKey {
        key: String,
        first_line: usize,
        first_column: usize,
    },
    /// A key that is a list or a mapping.
    ComplexKey,
    /// `<<:` with something other than a mapping or a list of mappings.
    BadMerge,
    /// A `!tag` other than YAML's own (`!!str`, ...), such as compose's `!reset`.
    UnsupportedTag {
        tag: String,
    },
    TooDeep {
        limit: usize,
    },
    /// Aliases would copy more than `limit` nodes.
    TooManyAliasedNodes {
        limit: usize,
    },
    MoreThanOneDocument,
    /// `&a [*a]`: an alias inside the node it names, which would be infinite.
    AliasInsideAnchor,
}

/// Why a compose key is not supported, when there is something better to say than its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnsupportedHint {
    Deploy,
    Extends,
    Include,
    Configs,
    NetworkMode,
    /// `env_file`, `secrets`, `profiles`: read, but `compose()` does not map them yet.
    NotMappedYet,
}

/// Why a port of a compose service cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortProblem {
    NotAPort {
        part: String,
    },
    Zero,
    /// `8000-8010:80`: compose picks one free port of the range; boss cannot.
    HostRangeToOnePort,
    RangeLengths,
    Protocol {
        protocol: String,
    },
    Shape,
}

/// Why a volume of a compose service cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeProblem {
    Shape,
    Mode { mode: String },
    RelativeTarget,
    Type { kind: String },
    NoSource,
}

/// Why `${...}` interpolation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableProblem {
    /// `${` without its `}`.
    Unclosed,
    /// `${...}` whose name is not a variable name, or whose operator is unknown.
    BadBraced { text: String },
    /// `$` followed by neither a name, `{` nor `$`.
    LoneDollar,
    /// `${VAR:?message}` or `${VAR?message}` with `VAR` unset (or empty, for `:?`).
    Required { name: String, message: String },
    /// Defaults nested too deep.
    TooDeep { limit: usize },
}

/// Why a `.env` line cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DotenvProblem {
    /// No `=` (and not a comment or blank).
    NoEquals,
    BadName {
        name: String,
    },
    /// A quoted value without its closing quote on the line.
    UnclosedQuote,
    Variable(VariableProblem),
}

/// Why a hook value cannot be called later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadHookProblem {
    /// The closure declares more than the one parameter (the context) a hook gets.
    TooManyParameters,
    /// Not a closure or function of the main script; `function` is its name unless anonymous.
    NotInScript { function: Option<String> },
}

/// A kind of engine object whose name boss may find taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Container,
    Volume,
}

impl Resource {
    fn word(self) -> &'static str {
        match self {
            Resource::Container => "container",
            Resource::Volume => "volume",
        }
    }
}

/// Why a build context cannot be used, at load (`build_from` and `dockerfile`) or while it is
/// sent to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextProblem {
    /// The service has no `build_from` (a caller's mistake, never the script's).
    NotSet,
    NotADirectory,
    NoDockerfile {
        dockerfile: String,
    },
    /// `dockerfile` leads outside `build_from` (`../Dockerfile`).
    DockerfileOutside {
        dockerfile: String,
    },
    ReadIgnoreFile {
        error: String,
    },
    BadPattern {
        pattern: String,
        problem: PatternProblem,
    },
    /// A file or directory of the context (path relative to it) could not be read.
    Unreadable {
        path: String,
        error: String,
    },
    /// A file was shorter when read than when listed.
    ChangedWhileRead {
        path: String,
    },
    /// The tar writer refused an entry.
    Archive {
        path: String,
        error: String,
    },
}

/// Why Docker refuses a `.dockerignore` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternProblem {
    LoneExclamation,
    /// Go's `filepath.Match` refuses it.
    Syntax,
    /// The regular expression it becomes does not compile.
    Regex {
        reason: String,
    },
}

impl ContextProblem {
    /// The reason, as it follows "cannot build from `dir`: ".
    pub fn describe(&self) -> String {
        match self {
            ContextProblem::NotSet => "no `build_from` is set".into(),
            ContextProblem::NotADirectory => "it is not a directory".into(),
            ContextProblem::NoDockerfile { dockerfile } => format!("it has no `{dockerfile}`"),
            ContextProblem::DockerfileOutside { dockerfile } => {
                format!("the dockerfile `{dockerfile}` is outside the build context")
            }
            ContextProblem::ReadIgnoreFile { error } => format!("cannot read its `.dockerignore`: {error}"),
            ContextProblem::BadPattern { pattern, problem } => {
                let problem = match problem {
                    PatternProblem::LoneExclamation => "a lone `!` names nothing to re-include".to_string(),
                    PatternProblem::Syntax => {
                        "Docker refuses it (an unclosed `[`, an empty or malformed `[...]`, or a trailing `\\`)"
                            .to_string()
                    }
                    PatternProblem::Regex { reason } => reason.clone(),
                };
                format!("invalid pattern `{pattern}` in its `.dockerignore`: {problem}")
            }
            ContextProblem::Unreadable { path, error } => format!("cannot read `{path}`: {error}"),
            ContextProblem::ChangedWhileRead { path } => format!("`{path}` changed while it was being sent"),
            ContextProblem::Archive { path, error } => format!("cannot add `{path}` to the build context: {error}"),
        }
    }
}

/// Worded here with every other error; the type lives with the code that finds it.
impl InterpolationError {
    /// The placeholder the error is about (`{admin_id}`), when there is one.
    pub fn placeholder(&self) -> Option<String> {
        match self {
            InterpolationError::UnknownKey { key, .. } => Some(format!("{{{key}}}")),
            _ => None,
        }
    }

    /// The reason, as it follows "cannot fill in ...: ".
    pub fn describe(&self) -> String {
        match self {
            InterpolationError::UnknownKey { key, existing } if existing.is_empty() => {
                format!("the context has no key `{key}` (the context is empty)")
            }
            InterpolationError::UnknownKey { key, existing } => {
                let hint = crate::text::suggest(key, existing.iter().map(String::as_str))
                    .map(|suggestion| format!("; did you mean `{suggestion}`?"))
                    .unwrap_or_default();
                format!("the context has no key `{key}` (existing keys: {}){hint}", crate::text::and_ticked(existing))
            }
            InterpolationError::EmptyPlaceholder => {
                "`{}` names no key; write `{key}`, or `{{}}` for literal braces".into()
            }
            InterpolationError::Unclosed => "a `{` is not closed; write `{{` for a literal brace".into(),
            InterpolationError::StrayClosingBrace => "a `}` has no opening `{`; write `}}` for a literal brace".into(),
        }
    }
}

/// Why one service failed; reported under the service's name when it happens.
#[derive(Debug, Clone)]
pub enum ServiceFailure {
    /// A hook threw, returned the wrong type or ran out of time.
    Hook { hook: HookKind, problem: HookProblem, span: Option<Span> },
    /// `ping` never returned true within the service's readiness limit.
    PingTimeout { limit: TimeLimit, attempts: u64 },
    /// The container stopped while the service was starting.
    ContainerExited { exit_code: Option<i64>, logs: String },
    /// A job's container exited with a status other than 0 (`None`: the engine did not say).
    JobFailed { exit_code: Option<i64>, logs: String },
    /// A job's container was still running when its time limit ran out.
    JobTimeout { limit: TimeLimit },
    /// An env value refers to the context in a way that cannot be filled in. Names the env
    /// key and the placeholder, never the value, which may hold a password.
    Interpolation { site: crate::interpolate::Site, error: InterpolationError },
    /// The file of a secret from a variable or the context could not be written under
    /// `directory/.boss/secrets`; `error` is the system's words.
    SecretNotWritten { directory: String, error: String },
    /// The build context could not be read.
    BuildContext { directory: String, problem: ContextProblem },
    /// The image build failed.
    Build { message: String, last_lines: Vec<String> },
    /// The image is not present and could not be pulled.
    Pull { image: String, error: BackendError },
    /// A container or volume with the name boss needs exists but is not this service's;
    /// `owner` is the boss group it belongs to, if any.
    NameTaken { resource: Resource, name: String, owner: Option<String> },
    /// The service's container is restarting, being removed or dead; boss leaves it alone.
    ContainerUnusable { container: String },
    /// Another boss run created the service's container between this run's check and create.
    CreatedConcurrently { container: String },
    /// Another Docker call failed.
    Backend { action: Action, error: BackendError },
    /// The task that drove the service panicked; `reason` is the runtime's account of it.
    TaskCrashed { reason: String },
    /// The planner left a decision to the run that only a plan made before the run may leave
    /// (a bug in boss).
    DeferredDecision,
    /// The run was interrupted before the service was up.
    Cancelled,
}

impl Error {
    pub(crate) fn compose(kind: ComposeErrorKind, span: Span) -> Error {
        Error::Compose(Box::new(ComposeError { kind, span }))
    }

    pub fn script(kind: ScriptErrorKind, span: Span) -> Error {
        Error::Script(Box::new(ScriptError { kind, span }))
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Script(_)
            | Error::Compose(_)
            | Error::Usage(_)
            | Error::ContextLoad { .. }
            | Error::GroupClaimed { .. }
            | Error::BadGroupName { .. }
            | Error::MissingContextKeys { .. } => exit_code::INVALID_INPUT,
            Error::DockerUnreachable { .. } | Error::EngineLost { .. } => exit_code::DOCKER_UNREACHABLE,
            Error::Interrupted => exit_code::INTERRUPTED,
            Error::LockTimeout { .. } => exit_code::LOCKED,
            Error::CommandNotRun { not_found: true, .. } => exit_code::COMMAND_NOT_FOUND,
            Error::CommandNotRun { not_found: false, .. } => exit_code::COMMAND_NOT_RUN,
            Error::CommandFailed { code, .. } => *code,
            Error::Backend { error, .. } if error.engine_lost() => exit_code::DOCKER_UNREACHABLE,
            Error::ContextSave { .. }
            | Error::NoPublishedPort { .. }
            | Error::ContextDelete { .. }
            | Error::Backend { .. }
            | Error::ForeignNetwork { .. }
            | Error::ServicesFailed { .. }
            | Error::GcIncomplete { .. }
            | Error::ServiceNotRunning { .. }
            | Error::SaveLog { .. }
            | Error::SaveTimings { .. }
            | Error::LockUnusable { .. }
            | Error::PlanHasChanges
            | Error::NotAllRunning => exit_code::FAILURE,
            Error::CommandExited { code } => *code,
        }
    }

    /// The full text shown to the user: `error: ...` plus snippet, causes and hints.
    pub fn render(&self) -> String {
        let mut out = String::new();
        match self {
            Error::Script(error) => out.push_str(&error.render()),
            Error::Compose(error) => out.push_str(&error.render()),
            Error::Usage(usage) => {
                let _ = writeln!(out, "error: {}", usage.message());
                if let Some(hint) = usage.hint() {
                    let _ = writeln!(out, "hint: {hint}");
                }
            }
            Error::ContextLoad { path, problem } => {
                let reason = match problem {
                    ContextFileProblem::Unreadable { error } => error.clone(),
                    ContextFileProblem::NotAnObject => "it does not hold a JSON object".to_string(),
                    ContextFileProblem::InvalidJson { error } => format!("invalid JSON: {error}"),
                };
                let _ = writeln!(out, "error: cannot use the context file `{}`: {reason}", path.display());
                let _ =
                    writeln!(out, "hint: fix the JSON object in it, or delete the file to start from an empty context");
            }
            Error::ContextSave { path, reason } => {
                let _ = writeln!(out, "error: cannot save the context to `{}`: {reason}", path.display());
            }
            Error::ContextDelete { path, error } => {
                let _ = writeln!(out, "error: cannot delete the context file `{}`: {error}", path.display());
            }
            Error::DockerUnreachable { address, cause } => {
                let _ = writeln!(out, "error: cannot reach Docker at `{address}`");
                let _ = writeln!(out, "caused by: {cause}");
                let _ = writeln!(out, "hint: is the Docker daemon running? set DOCKER_HOST to use another address");
            }
            Error::Backend { action, error } => {
                let _ = writeln!(out, "error: failed to {}", action.describe());
                out.push_str(&render_backend_cause(error));
            }
            Error::EngineLost { verb, address, action, error } => {
                let action = action.describe();
                match error.kind {
                    BackendErrorKind::TimedOut { after } => {
                        let _ = writeln!(
                            out,
                            "error: the Docker engine at `{address}` did not answer within {} when asked to {action}",
                            seconds(after)
                        );
                    }
                    _ => {
                        let _ =
                            writeln!(out, "error: lost the Docker engine at `{address}` when asking it to {action}");
                        let _ = writeln!(out, "caused by: {}", error.describe());
                    }
                }
                let _ = writeln!(
                    out,
                    "hint: what this run did is kept and the context is saved; once the engine answers again, `boss {verb}` continues from there"
                );
                if let BackendErrorKind::TimedOut { .. } = error.kind {
                    let _ =
                        writeln!(out, "hint: `BOSS_REQUEST_TIMEOUT` sets how many seconds boss waits for an answer");
                }
            }
            Error::ForeignNetwork { name, owner: Some(owner) } => {
                let _ = writeln!(out, "error: network `{name}` belongs to boss group `{owner}`");
                let _ =
                    writeln!(out, "hint: boss never touches another group's network; pass another `--network-name`");
            }
            Error::ForeignNetwork { name, owner: None } => {
                let _ = writeln!(out, "error: network `{name}` exists but was not created by boss for this group");
                if matches!(name.as_str(), "bridge" | "host" | "none") {
                    let _ = writeln!(
                        out,
                        "hint: `{name}` is one of Docker's built-in networks; pass another `--network-name`"
                    );
                } else {
                    let _ = writeln!(
                        out,
                        "hint: boss never reuses what it did not create; pass another `--network-name`, or remove the network with `docker network rm {name}`"
                    );
                }
            }
            Error::GroupClaimed { group, directory, only_volumes: false } => {
                let _ = writeln!(out, "error: group `{group}` belongs to the script in `{directory}`");
                let _ = writeln!(
                    out,
                    "hint: give this script its own group with `group(\"...\")`, or stop that group from its own script first"
                );
            }
            Error::GroupClaimed { group, directory, only_volumes: true } => {
                let _ = writeln!(
                    out,
                    "error: group `{group}` belongs to the script in `{directory}`, whose volumes are kept"
                );
                let _ = writeln!(
                    out,
                    "hint: give this script its own group with `group(\"...\")`; `boss stop --remove --volumes` from that script frees the name but deletes that data"
                );
            }
            Error::BadGroupName { name } => {
                let _ = writeln!(out, "error: group name `{name}` is not a valid hostname");
                let _ = writeln!(
                    out,
                    "hint: use letters, digits, `-` and `_`, starting and ending with a letter or digit, at most 63 characters"
                );
            }
            Error::NoPublishedPort { service, container_port } => {
                let _ = writeln!(
                    out,
                    "error: service `{service}` publishes no host port for container port {container_port}"
                );
                let _ = writeln!(
                    out,
                    "hint: publish it with `ports: #{{ \"{container_port}\": 0 }}` (0 picks a free host port)"
                );
            }
            Error::MissingContextKeys { missing } => {
                for missing in missing {
                    let _ = writeln!(
                        out,
                        "error: service `{}` needs `{{{}}}` in {}, but nothing provides key `{}`",
                        missing.service,
                        missing.key,
                        crate::output::site(&missing.site),
                        missing.key
                    );
                }
                let _ = writeln!(
                    out,
                    "hint: the context file has no such key and no `post_start` of a dependency runs in this start; set it in a dependency's `post_start` (`ctx.key = ...`), or start that dependency without `--exclude`"
                );
                if missing.iter().any(|missing| {
                    matches!(missing.site, crate::interpolate::Site::Cmd | crate::interpolate::Site::Entrypoint)
                }) {
                    let _ = writeln!(
                        out,
                        "hint: if the braces are meant literally (an `awk` program, say), write `{{{{` and `}}}}`"
                    );
                }
            }
            Error::PlanHasChanges | Error::NotAllRunning | Error::CommandExited { .. } => {}
            Error::SaveTimings { path, error } => {
                let _ = writeln!(out, "error: cannot write the timeline `{}`: {error}", path.display());
            }
            Error::SaveLog { path, error } => {
                let _ = writeln!(out, "error: cannot write the log file `{}`: {error}", path.display());
            }
            Error::ServiceNotRunning { service } => {
                let _ = writeln!(out, "error: service `{service}` has no running container");
                let _ = writeln!(out, "hint: start it with `boss start`");
            }
            Error::Interrupted => {
                let _ = writeln!(out, "error: interrupted; nothing half-started was left behind");
            }
            Error::LockTimeout { group, holder, waited } => {
                let who = lock_holder(holder.as_ref());
                let _ = writeln!(
                    out,
                    "error: gave up after {} s: {who} is still working on group `{group}`",
                    waited.as_secs()
                );
                let _ = writeln!(
                    out,
                    "hint: nothing was changed; try again once it is done, or wait longer with `--lock-timeout SECS` (without it, boss waits as long as it takes)"
                );
            }
            Error::LockUnusable { path, problem } => {
                let reason = match problem {
                    LockProblem::NotOwned { owner } => format!("it belongs to user {owner}, not to this user"),
                    LockProblem::NotADirectory => "it is not a directory".to_string(),
                    LockProblem::Io { error } => error.clone(),
                };
                let _ = writeln!(out, "error: cannot lock the group with `{}`: {reason}", path.display());
                if matches!(problem, LockProblem::NotOwned { .. } | LockProblem::NotADirectory) {
                    let _ = writeln!(
                        out,
                        "hint: boss keeps its locks in a directory only you can write; remove it, or set XDG_RUNTIME_DIR to a directory of your own"
                    );
                }
            }
            Error::ServicesFailed { verb, failed } => {
                let _ =
                    writeln!(out, "error: failed to {verb} {}: {}", count(failed.len(), "service"), and_ticked(failed));
            }
            Error::GcIncomplete { failed, tried } => {
                let _ = writeln!(out, "error: gc could not remove {failed} of {}", count(*tried, "thing"));
                let _ = writeln!(out, "hint: each failure is shown above; `boss gc --dry-run` lists what is left");
            }
            Error::CommandNotRun { program, error, .. } => {
                let _ = writeln!(out, "error: cannot run `{program}`");
                let _ = writeln!(out, "caused by: {error}");
            }
            Error::CommandFailed { program, code } => {
                let _ = writeln!(out, "error: `{program}` exited with status {code}");
            }
        }
        out
    }
}

/// The boss that holds a group's lock: `boss (pid 4711, start)`, or `another boss` when it has
/// not said who it is.
pub(crate) fn lock_holder(holder: Option<&crate::event::LockHolder>) -> String {
    match holder {
        Some(holder) => format!("boss (pid {}, {})", holder.pid, holder.operation.name()),
        None => "another boss".to_string(),
    }
}

impl std::fmt::Display for Error {
    /// The same text as [`Error::render`], without its trailing newline.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.render().trim_end())
    }
}

impl std::error::Error for Error {}
impl UsageError {
    pub fn message(&self) -> String {
        match self {
            UsageError::NoScript { path } => format!("no services script at `{}`", path.display()),
            UsageError::ReloadWithoutService { file } => format!("`reload {file}` names no service"),
            UsageError::ExecWithoutCommand => "`exec` names no command to run".to_string(),
            UsageError::UnknownService { name, .. } => format!("unknown service `{name}`"),
            UsageError::NotReloadable { service } => {
                format!("service `{service}` cannot be reloaded: it has no `build_from`")
            }
            UsageError::BadNetworkName { name } => format!("`{name}` is not a valid network name"),
            UsageError::BadRequestTimeout { value } => {
                format!("`BOSS_REQUEST_TIMEOUT` must be a whole number of seconds above 0, got `{value}`")
            }
            UsageError::UnknownExclusion { unknown, .. } => {
                let noun = if unknown.len() == 1 { "service" } else { "services" };
                format!("cannot exclude unknown {noun} {}", and_ticked(unknown))
            }
            UsageError::ExcludedDependency { dependency, dependant } => {
                format!("cannot exclude `{dependency}`: `{dependant}` depends on it and would be started")
            }
            UsageError::ExcludedDependant { service, dependency } => {
                format!("cannot exclude `{service}`: it depends on `{dependency}`, which would be stopped")
            }
            UsageError::InactiveDependency { service, dependency, profiles } => {
                let (which, none) = if profiles.len() == 1 {
                    ("profile", "no such profile is")
                } else {
                    ("profiles", "none of them is")
                };
                format!(
                    "service `{service}` depends on `{dependency}`, which is only in {which} {}, and {none} active",
                    and_ticked(profiles)
                )
            }
            UsageError::SecretVariableUnset { service, secret, variable } => {
                format!("secret `{secret}` of service `{service}` reads the variable `{variable}`, which is not set")
            }
            UsageError::SecretFileUnreadable { service, secret, path, error } => {
                format!("secret `{secret}` of service `{service}` cannot read `{}`: {error}", path.display())
            }
            UsageError::BadEnvFile { path, problem } => {
                format!("env file `{}` {}", path.display(), problem.describe())
            }
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            UsageError::NoScript { .. } => {
                Some("pass the script's path as the first argument, e.g. `examples/quickstart/services.rhai`".into())
            }
            UsageError::ReloadWithoutService { file } => Some(format!("write `boss reload {file} SERVICE`")),
            UsageError::UnknownService { name, known } => Some(did_you_mean(name, known)),
            UsageError::UnknownExclusion { unknown, known } => {
                Some(did_you_mean(unknown.first().map(String::as_str).unwrap_or_default(), known))
            }
            UsageError::NotReloadable { .. } => {
                Some("add `build_from: \"./dir\"` (the directory with its Dockerfile) to the service".into())
            }
            UsageError::BadNetworkName { .. } | UsageError::BadRequestTimeout { .. } => None,
            UsageError::ExecWithoutCommand => Some("write `boss exec [FILE] SERVICE -- COMMAND...`".into()),
            UsageError::ExcludedDependency { dependant, .. } => Some(format!("exclude `{dependant}` too")),
            UsageError::ExcludedDependant { dependency, .. } => Some(format!("exclude `{dependency}` too")),
            UsageError::InactiveDependency { dependency, profiles, .. } => Some(format!(
                "activate it with `--profile {}`, or name `{dependency}` on the command line too",
                profiles.first().map(String::as_str).unwrap_or_default()
            )),
            UsageError::SecretVariableUnset { variable, .. } => {
                Some(format!("set `{variable}` in boss's environment, or in a file given with `--env-file`"))
            }
            UsageError::SecretFileUnreadable { .. } | UsageError::BadEnvFile { .. } => None,
        }
    }
}

/// "did you mean" for a close service name, else the list of services.
fn did_you_mean(name: &str, known: &[String]) -> String {
    match suggest(name, known.iter().map(String::as_str)) {
        Some(suggestion) => format!("did you mean `{suggestion}`?"),
        None => format!("the services are {}", and_ticked(known)),
    }
}

impl Action {
    /// The action as it follows "failed to ".
    pub fn describe(&self) -> String {
        match self {
            Action::ListNetworksNamed { name } => format!("list networks named `{name}`"),
            Action::CreateNetwork { name } => format!("create network `{name}`"),
            Action::RemoveNetwork { name } => format!("remove network `{name}`"),
            Action::ListGroupContainers { group } => format!("list the containers of group `{group}`"),
            Action::ListGroupNetworks { group } => format!("list the networks of group `{group}`"),
            Action::ListGroupVolumes { group } => format!("list the volumes of group `{group}`"),
            Action::ListServiceContainers { service } => format!("list the containers of `{service}`"),
            Action::ExecIn { container } => format!("run the command in `{container}`"),
            Action::ReadLogs { container } => format!("read the log of `{container}`"),
            Action::WatchContainers { group } => format!("watch the containers of group `{group}`"),
            Action::InspectServiceContainer { service } => format!("inspect the container of `{service}`"),
            Action::WatchServiceContainer { service } => {
                format!("watch the container of `{service}` for its exit")
            }
            Action::LookUpContainer { container } => format!("look up container `{container}`"),
            Action::CreateContainer { container } => format!("create container `{container}`"),
            Action::StartContainer { container } => format!("start container `{container}`"),
            Action::UnpauseContainer { container } => format!("unpause container `{container}`"),
            Action::StopContainer { container } => format!("stop container `{container}`"),
            Action::RemoveContainer { container } => format!("remove container `{container}`"),
            Action::RemoveOldContainer { container } => format!("remove old container `{container}`"),
            Action::LookUpImage { image } => format!("look up image `{image}`"),
            Action::InspectImage { image } => format!("inspect image `{image}`"),
            Action::LookUpVolume { volume } => format!("look up volume `{volume}`"),
            Action::CreateVolume { volume } => format!("create volume `{volume}`"),
            Action::RemoveVolume { volume } => format!("remove volume `{volume}`"),
            Action::ListContainers => "list the containers".to_string(),
            Action::ListNetworks => "list boss's networks".to_string(),
            Action::ListVolumes => "list boss's volumes".to_string(),
            Action::ListImages => "list boss's images".to_string(),
            Action::RemoveImage { image } => format!("remove image `{image}`"),
        }
    }
}

impl ComposeError {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "error: {}", self.kind.message());
        out.push_str(&self.span.snippet());
        if let ComposeErrorKind::Yaml(YamlProblem::DuplicateKey { first_line, first_column, .. }) = &self.kind {
            let _ = writeln!(out, "note: first written at {}:{first_line}:{first_column}", self.span.path().display());
        }
        if let Some(hint) = self.kind.hint() {
            let _ = writeln!(out, "hint: {hint}");
        }
        out
    }
}

impl ComposePlace {
    pub(crate) fn describe(&self) -> String {
        match self {
            ComposePlace::TopLevel => "at the top level".to_string(),
            ComposePlace::Service(service) => format!("in service `{service}`"),
            ComposePlace::ServiceField { service, field } => format!("in `{field}` of service `{service}`"),
            ComposePlace::Volume(volume) => format!("in volume `{volume}`"),
            ComposePlace::Secret(secret) => format!("in secret `{secret}`"),
        }
    }
}

impl VariableProblem {
    fn message(&self) -> String {
        match self {
            VariableProblem::Unclosed => "`${` is not closed by `}`".to_string(),
            VariableProblem::BadBraced { text } => format!("`${{{text}}}` is not a variable substitution"),
            VariableProblem::LoneDollar => "`$` is not followed by a variable name".to_string(),
            VariableProblem::Required { name, message } if message.is_empty() => {
                format!("variable `{name}` is required but not set")
            }
            VariableProblem::Required { name, message } => format!("variable `{name}` is required: {message}"),
            VariableProblem::TooDeep { limit } => format!("defaults nest more than {limit} levels deep"),
        }
    }

    fn hint(&self) -> Option<String> {
        match self {
            VariableProblem::Unclosed | VariableProblem::LoneDollar => Some("write `$$` for a literal `$`".into()),
            VariableProblem::BadBraced { .. } => Some(
                "write `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME?error}`, `${NAME:+other}` or `${NAME+other}`".into(),
            ),
            VariableProblem::Required { name, .. } => {
                Some(format!("set `{name}` in the environment or in the `.env` file next to the compose file"))
            }
            VariableProblem::TooDeep { .. } => None,
        }
    }
}

impl ComposeErrorKind {
    pub fn message(&self) -> String {
        match self {
            ComposeErrorKind::Unreadable { path, reason } => format!("cannot read `{}`: {reason}", path.display()),
            ComposeErrorKind::Yaml(problem) => match problem {
                YamlProblem::Syntax(message) => format!("invalid YAML: {message}"),
                YamlProblem::DuplicateKey { key, .. } => format!("key `{key}` is written twice"),
                YamlProblem::ComplexKey => "a key must be a plain value, not a list or a mapping".to_string(),
                YamlProblem::BadMerge => "`<<` must merge a mapping or a list of mappings".to_string(),
                YamlProblem::UnsupportedTag { tag } => format!("YAML tag `{tag}` is not supported"),
                YamlProblem::TooDeep { limit } => format!("the file nests more than {limit} levels deep"),
                YamlProblem::TooManyAliasedNodes { limit } => format!("aliases expand to more than {limit} values"),
                YamlProblem::MoreThanOneDocument => {
                    "a compose file holds one YAML document, this one holds more".to_string()
                }
                YamlProblem::AliasInsideAnchor => "an alias cannot be used inside the value it names".to_string(),
            },
            ComposeErrorKind::UnsupportedKey { key, place, .. } => {
                format!("unsupported key `{key}` {}", place.describe())
            }
            ComposeErrorKind::MissingKey { key, place } => format!("key `{key}` is required {}", place.describe()),
            ComposeErrorKind::WrongType { key, expected, got } => format!("`{key}` must be {expected}, got a {got}"),
            ComposeErrorKind::NotAllowed { key, value, .. } => format!("`{value}` is not a valid `{key}`"),
            ComposeErrorKind::NoServices => "the compose file defines no services".to_string(),
            ComposeErrorKind::NoImage { service } => format!("service `{service}` has neither `image` nor `build`"),
            ComposeErrorKind::BadName { what, name } => format!("{what} name `{name}` is not valid"),
            ComposeErrorKind::BadPort { entry, problem } => {
                let reason = match problem {
                    PortProblem::NotAPort { part } => format!("`{part}` is not a port number"),
                    PortProblem::Zero => "port 0 cannot be a container port".to_string(),
                    PortProblem::HostRangeToOnePort => {
                        "a host port range for one container port is not supported".to_string()
                    }
                    PortProblem::RangeLengths => "the host and container ranges differ in length".to_string(),
                    PortProblem::Protocol { protocol } => format!("protocol `{protocol}` is not supported"),
                    PortProblem::Shape => "expected `[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]`".to_string(),
                };
                format!("invalid port `{entry}`: {reason}")
            }
            ComposeErrorKind::BadVolume { entry, problem } => {
                let reason = match problem {
                    VolumeProblem::Shape => "expected `[SOURCE:]TARGET[:MODE]`".to_string(),
                    VolumeProblem::Mode { mode } => format!("mode `{mode}` is not supported"),
                    VolumeProblem::RelativeTarget => "the container path must be absolute".to_string(),
                    VolumeProblem::Type { kind } => format!("volume type `{kind}` is not supported"),
                    VolumeProblem::NoSource => "a bind mount needs a `source`".to_string(),
                };
                format!("invalid volume `{entry}`: {reason}")
            }
            ComposeErrorKind::BadDuration { key, value } => format!("`{key}` `{value}` is not a duration"),
            ComposeErrorKind::BadBytes { key, value } => format!("`{key}` `{value}` is not a size in bytes"),
            ComposeErrorKind::BadNumber { key, value } => format!("`{key}` `{value}` is not a valid number"),
            ComposeErrorKind::BadCommand { key, value } => format!("`{key}` `{value}` has an unclosed quote"),
            ComposeErrorKind::BadListEntry { key, entry } => format!("`{key}` entry `{entry}` has no value"),
            ComposeErrorKind::Variable { problem } => problem.message(),
            ComposeErrorKind::UndefinedReference { service, reference, name, .. } => {
                let (what, place) = match reference {
                    ComposeReference::Service => ("depends on unknown service", "services"),
                    ComposeReference::Volume => ("uses volume", "volumes"),
                    ComposeReference::Secret => ("uses secret", "secrets"),
                };
                if *reference == ComposeReference::Service {
                    format!("service `{service}` {what} `{name}`")
                } else {
                    format!("service `{service}` {what} `{name}`, which the top-level `{place}` does not define")
                }
            }
            ComposeErrorKind::ExternalSecret { secret } => {
                format!("secret `{secret}` is `external`, which needs Docker Swarm")
            }
            ComposeErrorKind::Dotenv { problem } => match problem {
                DotenvProblem::NoEquals => "expected `NAME=value`".to_string(),
                DotenvProblem::BadName { name } => format!("`{name}` is not a variable name"),
                DotenvProblem::UnclosedQuote => "the quote is not closed on this line".to_string(),
                DotenvProblem::Variable(problem) => problem.message(),
            },
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            ComposeErrorKind::UnsupportedKey { suggestion: Some(suggestion), .. }
            | ComposeErrorKind::UndefinedReference { suggestion: Some(suggestion), .. } => {
                Some(format!("did you mean `{suggestion}`?"))
            }
            ComposeErrorKind::UnsupportedKey { hint: Some(hint), .. } => Some(
                match hint {
                    UnsupportedHint::Deploy => {
                        "boss runs services on one engine without Swarm; for limits use `mem_limit` and `cpus`"
                    }
                    UnsupportedHint::Extends => "copy the shared keys with a YAML anchor (`&base`) and `<<: *base`",
                    UnsupportedHint::Include => {
                        "declare the included file's services in this file, or load it with its own `compose()` call"
                    }
                    UnsupportedHint::Configs => "mount the file with a bind volume (`./file:/path:ro`)",
                    UnsupportedHint::NetworkMode => {
                        "services of a group share one network and reach each other by service name"
                    }
                    UnsupportedHint::NotMappedYet => {
                        "`compose()` does not map this key yet; remove it and declare the equivalent in the script"
                    }
                }
                .to_string(),
            ),
            ComposeErrorKind::UnsupportedKey { .. } => {
                Some("remove the key, or tell boss what it should do in the script around `compose()`".into())
            }
            ComposeErrorKind::NotAllowed { value, allowed, .. } => {
                Some(match suggest(value, allowed.iter().copied()) {
                    Some(suggestion) => format!("did you mean `{suggestion}`?"),
                    None => format!("use one of {}", and_ticked(allowed)),
                })
            }
            ComposeErrorKind::BadDuration { .. } => Some("write a duration such as `10s`, `1m30s` or `500ms`".into()),
            ComposeErrorKind::BadBytes { .. } => Some("write a size such as `512m`, `1g` or `1048576`".into()),
            ComposeErrorKind::NoImage { .. } => Some("add `image: ...` or `build: ./dir`".into()),
            ComposeErrorKind::BadName { .. } => Some(
                "boss names containers and hostnames after services: use letters, digits, `-` and `_`, starting and ending with a letter or digit, at most 63 characters".into(),
            ),
            ComposeErrorKind::BadPort { problem: PortProblem::HostRangeToOnePort, .. } => {
                Some("publish one host port, or `0` for a free one that `port()` finds".into())
            }
            ComposeErrorKind::BadPort { problem: PortProblem::Protocol { .. }, .. } => {
                Some("use `tcp` or `udp`".into())
            }
            ComposeErrorKind::BadVolume { problem: VolumeProblem::Type { .. }, .. } => {
                Some("use `bind`, `volume` or `tmpfs`".into())
            }
            ComposeErrorKind::BadVolume { problem: VolumeProblem::Mode { .. }, .. } => {
                Some("use `ro` or `rw`, optionally with `z` or `Z`".into())
            }
            ComposeErrorKind::ExternalSecret { .. } => {
                Some("give the secret a `file:` or an `environment:` variable instead".into())
            }
            ComposeErrorKind::Variable { problem }
            | ComposeErrorKind::Dotenv { problem: DotenvProblem::Variable(problem) } => problem.hint(),
            ComposeErrorKind::Yaml(YamlProblem::MoreThanOneDocument) => Some("remove the `---` and everything after it".into()),
            ComposeErrorKind::BadListEntry { key: "extra_hosts", .. } => {
                Some("write `host:address` or `host=address`".into())
            }
            ComposeErrorKind::BadListEntry { .. } => Some("write `name=value`".into()),
            ComposeErrorKind::NoServices => {
                Some("declare one under `services:`, e.g. `web: { image: \"nginx:1.27\" }`".into())
            }
            _ => None,
        }
    }
}

impl ScriptError {
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "error: {}", self.kind.message());
        out.push_str(&self.span.snippet());
        match &self.kind {
            ScriptErrorKind::DuplicateService { first, .. } | ScriptErrorKind::GroupSetTwice { first } => {
                let _ = writeln!(out, "note: first declared at {}", first.location());
            }
            _ => {}
        }
        if let Some(hint) = self.kind.hint() {
            let _ = writeln!(out, "hint: {hint}");
        }
        out
    }
}

impl ScriptErrorKind {
    pub fn message(&self) -> String {
        match self {
            ScriptErrorKind::Unreadable { path, reason } => {
                format!("cannot read script `{}`: {reason}", path.display())
            }
            ScriptErrorKind::Syntax { message } => format!("syntax error: {message}"),
            ScriptErrorKind::Evaluation { message } => format!("script failed: {message}"),
            ScriptErrorKind::BadArgument { function, expected, got } => {
                format!("`{function}` takes {expected}, got {got}")
            }
            ScriptErrorKind::UndefinedVariable { name } => format!("undefined variable `{name}`"),
            ScriptErrorKind::UnknownField { field, .. } => format!("unknown field `{field}`"),
            ScriptErrorKind::MissingField { field } => format!("field `{field}` is required"),
            ScriptErrorKind::WrongType { field, expected, got } => {
                format!("field `{field}` must be {expected}, got {got}")
            }
            ScriptErrorKind::InvalidName { what, name } => format!("{what} name `{name}` is not a valid hostname"),
            ScriptErrorKind::BadStopSignal { value } => format!("stop signal `{value}` is not allowed"),
            ScriptErrorKind::NotWith { field, kind } => {
                format!("field `{field}` cannot be used with `{}: true`", kind.field())
            }
            ScriptErrorKind::BadTimeLimit { field, got, problem } => {
                let reason = match problem {
                    LimitProblem::NotADuration => "it is not a duration",
                    LimitProblem::NoUnit { .. } => "a string needs a unit",
                    LimitProblem::NotPositive => "it must be more than zero",
                    LimitProblem::TooLong => "it must be at most a day",
                };
                format!("field `{field}` is not a time limit: {reason}, got {got}")
            }
            ScriptErrorKind::BadImage { image } => format!("`{image}` is not a valid image reference"),
            ScriptErrorKind::BadBuild { directory, problem } => {
                format!("cannot build from `{directory}`: {}", problem.describe())
            }
            ScriptErrorKind::PortTaken { port, service, other } => {
                format!("service `{service}` publishes host port {port}, which `{other}` publishes too")
            }
            ScriptErrorKind::BadPort { entry, reason } => format!("invalid port mapping `{entry}`: {reason}"),
            ScriptErrorKind::BadVolume { entry, reason } => format!("invalid volume `{entry}`: {reason}"),
            ScriptErrorKind::BadSecret { name, problem } => {
                let reason = match problem {
                    SecretProblem::BadName => {
                        "the name must be a file name (letters, digits, `-`, `_` and `.`, not first)".to_string()
                    }
                    SecretProblem::NotAMap { got } => format!("expected a map, got {got}"),
                    SecretProblem::Sources { found } if found.is_empty() => {
                        "it names no source (`file`, `env` or `context`)".to_string()
                    }
                    SecretProblem::Sources { found } => format!("it names more than one source: {}", and_ticked(found)),
                    SecretProblem::NotAString { source } => format!("`{source}` must be a non-empty string"),
                    SecretProblem::NoFile { path } => format!("the file `{path}` does not exist"),
                    SecretProblem::MountedTwice { path } => format!("`volumes` mounts something at `{path}` too"),
                };
                format!("invalid secret `{name}`: {reason}")
            }
            ScriptErrorKind::BadEnvFile { path, problem } => format!("env file `{path}` {}", problem.describe()),
            ScriptErrorKind::BadEnv { key, problem } => {
                let reason = match problem {
                    EnvProblem::NotAScalar { got } => format!("values must be strings, numbers or booleans, got {got}"),
                    EnvProblem::NulCharacter => "the value contains a NUL character".to_string(),
                    EnvProblem::Placeholder(error) => error.describe(),
                };
                format!("invalid env entry `{key}`: {reason}")
            }
            ScriptErrorKind::BadEnvName { key, problem } => format!("invalid env name `{key}`: {problem}"),
            ScriptErrorKind::BadField { field, value, problem } => {
                format!("invalid `{field}` entry `{value}`: {}", problem.describe())
            }
            ScriptErrorKind::UnnormalisedPath { path, .. } => {
                format!("container path `{path}` is not in normal form")
            }
            ScriptErrorKind::VolumePathColon { which, path } => {
                format!("the {which} path `{path}` of a volume contains `:`")
            }
            ScriptErrorKind::BadHook { hook, problem } => {
                let reason = match problem {
                    BadHookProblem::TooManyParameters => {
                        "a hook takes no parameter or one (the context), like `|ctx| { ... }`".to_string()
                    }
                    BadHookProblem::NotInScript { function } => format!(
                        "{} is not a closure or function written in this script; a closure made inside a module \
                         cannot be called later, so write hooks in the main script (they may call a module's `fn`s)",
                        function.as_ref().map_or_else(|| "this closure".to_string(), |name| format!("`{name}`"))
                    ),
                };
                format!("invalid hook `{}`: {reason}", hook.name())
            }
            ScriptErrorKind::DuplicateService { name, .. } => format!("service `{name}` is declared twice"),
            ScriptErrorKind::UnknownDependency { service, dependency, .. } => {
                format!("service `{service}` depends on unknown service `{dependency}`")
            }
            ScriptErrorKind::UnknownHookService { service, .. } => {
                format!("`hooks` names unknown service `{service}`")
            }
            ScriptErrorKind::Cycle { path } => format!(
                "circular dependency: {}",
                path.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(" -> ")
            ),
            ScriptErrorKind::NoServices => "no services defined".to_string(),
            ScriptErrorKind::GroupSetTwice { .. } => {
                "the group name is already set; `group` may be called once".to_string()
            }
        }
    }

    pub fn hint(&self) -> Option<String> {
        match self {
            ScriptErrorKind::UnknownField { suggestion: Some(suggestion), .. }
            | ScriptErrorKind::UnknownDependency { suggestion: Some(suggestion), .. }
            | ScriptErrorKind::UnknownHookService { suggestion: Some(suggestion), .. } => {
                Some(format!("did you mean `{suggestion}`?"))
            }
            ScriptErrorKind::UnknownField { suggestion: None, .. } => Some(format!(
                "the fields are {}",
                and_ticked(&crate::script::FIELDS)
            )),
            ScriptErrorKind::InvalidName { .. } => Some(
                "use letters, digits, `-` and `_`, starting and ending with a letter or digit, at most 63 characters".into(),
            ),
            ScriptErrorKind::NotWith { field, kind: crate::service::ServiceKind::Job } if field == "ping" => Some(
                "a job has started when its container exits with status 0; remove `ping` (a `post_start` runs after that)".into(),
            ),
            ScriptErrorKind::NotWith { field, kind: crate::service::ServiceKind::External } if field == "job" => {
                Some("boss runs no container for an external service; remove `job` or `external`".into())
            }
            ScriptErrorKind::NotWith { field, .. } => Some(format!(
                "boss creates no container for an external service; remove `{field}` (its `ping` and hooks reach it from the host)"
            )),
            ScriptErrorKind::BadStopSignal { .. } => {
                Some(format!("use one of {}", and_ticked(&crate::service::StopSignal::ALL.map(crate::service::StopSignal::as_str))))
            }
            ScriptErrorKind::BadTimeLimit { problem: LimitProblem::NoUnit { seconds }, .. } => {
                Some(format!("did you mean `{seconds}` (seconds) or `\"{seconds}s\"`?"))
            }
            ScriptErrorKind::BadTimeLimit { .. } => Some(
                "write seconds as a number (`2`, `0.5`) or a string with a unit (`\"500ms\"`, `\"2s\"`, `\"1m\"`)".into(),
            ),
            ScriptErrorKind::BadSecret { .. } => Some(
                "write `secrets: #{ db_password: #{ env: \"DB_PASSWORD\" } }`, or `#{ file: \"./secret.txt\" }`, or `#{ context: \"key\" }`".into(),
            ),
            ScriptErrorKind::BadEnvFile { .. } => {
                Some("write `NAME=value` lines; `#` starts a comment; quote values with spaces or `#`".into())
            }
            ScriptErrorKind::BadVolume { .. } => Some(
                "write `\"./host:/container\"`, `\"./host:/container:ro\"` or `\"name:/container\"` (a named volume), or a map `#{ \"./data\": #{ bind: \"/data\", mode: \"ro\" } }`".into(),
            ),
            ScriptErrorKind::BadPort { .. } => Some(
                "write `#{ \"8080\": 8080 }` (container port to host port); `0` picks a free host port; `\"0.0.0.0:8080\"` publishes on every address".into(),
            ),
            ScriptErrorKind::Cycle { .. } => Some("remove one of these dependencies".into()),
            ScriptErrorKind::BadBuild { problem: ContextProblem::DockerfileOutside { .. }, .. } => Some(
                "only `build_from` is sent to the engine, so the Dockerfile must be inside it: move the Dockerfile, or make `build_from` a directory that holds it".into(),
            ),
            ScriptErrorKind::BadEnvName { .. } => Some(
                "Docker passes env as `NAME=value` lines; use letters, digits and `_` in names, like `DB_URL`".into(),
            ),
            ScriptErrorKind::UnnormalisedPath { normalised, .. } => Some(format!(
                "write `{normalised}`; boss compares container paths as written, so `.`, `..` and `//` are refused"
            )),
            ScriptErrorKind::VolumePathColon { .. } => Some(
                "Docker separates host path, container path and mode with `:`, so a path cannot hold one; mount a parent directory instead".into(),
            ),
            ScriptErrorKind::BadField { field, problem, .. } => problem.hint(field),
            ScriptErrorKind::UndefinedVariable { name } if name == "ctx" => {
                Some("a hook gets the context as its parameter: write `|ctx| ...`".into())
            }
            ScriptErrorKind::NoServices => Some("declare one with `service(#{ name: \"web\", image: \"nginx:1.27\" });`".into()),
            _ => None,
        }
    }
}

/// The last lines of a container's log under a failure, or that it printed nothing.
fn write_log_tail(out: &mut String, logs: &str) {
    if logs.trim().is_empty() {
        let _ = writeln!(out, "(the container printed nothing)");
    } else {
        let _ = writeln!(out, "last lines of its log:");
        for line in logs.trim_end().lines() {
            let _ = writeln!(out, "  | {line}");
        }
    }
}

impl ServiceFailure {
    /// The call that found the engine gone or stalled, when that is why the service failed.
    pub(crate) fn lost_engine(&self) -> Option<(&Action, &BackendError)> {
        match self {
            ServiceFailure::Backend { action, error } if error.engine_lost() => Some((action, error)),
            _ => None,
        }
    }

    /// What kind of failure this is, as one word for machines (`boss start --progress json`).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            ServiceFailure::Hook { .. } => "hook",
            ServiceFailure::PingTimeout { .. } => "ping_timeout",
            ServiceFailure::ContainerExited { .. } => "container_exited",
            ServiceFailure::JobFailed { .. } => "job_failed",
            ServiceFailure::JobTimeout { .. } => "job_timeout",
            ServiceFailure::Interpolation { .. } => "interpolation",
            ServiceFailure::SecretNotWritten { .. } => "secret",
            ServiceFailure::BuildContext { .. } => "build_context",
            ServiceFailure::Build { .. } => "build",
            ServiceFailure::Pull { .. } => "pull",
            ServiceFailure::NameTaken { .. } => "name_taken",
            ServiceFailure::ContainerUnusable { .. } => "container_unusable",
            ServiceFailure::CreatedConcurrently { .. } => "created_concurrently",
            ServiceFailure::Backend { .. } => "engine",
            ServiceFailure::TaskCrashed { .. } => "crashed",
            ServiceFailure::DeferredDecision => "deferred_decision",
            ServiceFailure::Cancelled => "cancelled",
        }
    }

    /// The failure as a message (first line) plus indented detail lines.
    pub fn render(&self) -> String {
        let mut out = String::new();
        match self {
            ServiceFailure::Hook { hook, problem, span } => {
                let hook = hook.name();
                match problem {
                    HookProblem::Script { message } => {
                        let _ = writeln!(out, "hook `{hook}` failed: {message}");
                    }
                    HookProblem::NotABool { got } => {
                        let _ =
                            writeln!(out, "hook `{hook}` failed: `{hook}` must return `true` or `false`, got {got}");
                    }
                    HookProblem::Crashed { reason } => {
                        let _ = writeln!(out, "hook `{hook}` failed: the hook crashed: {reason}");
                    }
                    HookProblem::TimedOut { limit } => {
                        let _ = writeln!(
                            out,
                            "hook `{hook}` failed: ran past its time limit of {} s (`{}`) and was cut off",
                            limit.duration.as_secs_f64(),
                            limit.set_by.name()
                        );
                    }
                }
                if let Some(span) = span {
                    out.push_str(&span.snippet());
                }
                if let HookProblem::TimedOut { limit } = problem {
                    let _ = writeln!(
                        out,
                        "hint: {}",
                        raise_limit_hint(limit.set_by, "or check why the hook does not return")
                    );
                }
            }
            ServiceFailure::PingTimeout { limit, attempts } => {
                let _ = writeln!(
                    out,
                    "`ping` did not return true within {} s ({})",
                    limit.duration.as_secs_f64(),
                    count(usize::try_from(*attempts).unwrap_or(usize::MAX), "attempt")
                );
                let _ = writeln!(out, "hint: {}", raise_limit_hint(limit.set_by, "or check what `ping` waits for"));
            }
            ServiceFailure::ContainerExited { exit_code, logs } => {
                match exit_code {
                    Some(code) => {
                        let _ = writeln!(out, "container exited with status {code} while starting");
                    }
                    None => {
                        let _ = writeln!(out, "container stopped while starting");
                    }
                }
                write_log_tail(&mut out, logs);
            }
            ServiceFailure::JobFailed { exit_code, logs } => {
                match exit_code {
                    Some(code) => {
                        let _ = writeln!(out, "job exited with status {code}");
                    }
                    None => {
                        let _ = writeln!(out, "job stopped without an exit status");
                    }
                }
                write_log_tail(&mut out, logs);
            }
            ServiceFailure::JobTimeout { limit } => {
                let _ = writeln!(out, "job did not finish within {} s", limit.duration.as_secs_f64());
                let _ = writeln!(out, "hint: {}", raise_limit_hint(limit.set_by, "or check why the job does not end"));
            }
            ServiceFailure::Interpolation { site, error } => {
                let _ = writeln!(out, "{}", crate::output::unfillable(site, error));
            }
            ServiceFailure::SecretNotWritten { directory, error } => {
                let _ = writeln!(out, "cannot write its secrets under `{directory}/.boss/secrets`: {error}");
            }
            ServiceFailure::BuildContext { directory, problem } => {
                let _ = writeln!(out, "cannot use build context `{directory}`: {}", problem.describe());
            }
            ServiceFailure::Build { message, last_lines } => {
                let _ = writeln!(out, "image build failed: {message}");
                if !last_lines.is_empty() {
                    let _ = writeln!(out, "last lines of the build:");
                    for line in last_lines {
                        let _ = writeln!(out, "  | {line}");
                    }
                }
            }
            ServiceFailure::Pull { image, error } => {
                let _ = writeln!(out, "cannot pull image `{image}`");
                out.push_str(&render_backend_cause(error));
                let _ = writeln!(
                    out,
                    "hint: check the image name and your registry access, or build the image locally with that tag"
                );
            }
            ServiceFailure::NameTaken { resource, name, owner: Some(owner) } => {
                let _ = writeln!(out, "{} `{name}` belongs to boss group `{owner}`", resource.word());
                out.push_str(&other_group_hint(resource.word(), owner));
            }
            ServiceFailure::NameTaken { resource: Resource::Container, name, owner: None } => {
                let _ = writeln!(out, "a container named `{name}` exists but was not created by boss");
                let _ = writeln!(
                    out,
                    "hint: boss never touches containers it did not create; rename or remove it with `docker rm -f {name}`"
                );
            }
            ServiceFailure::NameTaken { resource: Resource::Volume, name, owner: None } => {
                let _ = writeln!(out, "a volume named `{name}` exists but was not created by boss for this service");
                let _ = writeln!(
                    out,
                    "hint: boss never touches volumes it did not create; if its data is not needed, remove it with `docker volume rm {name}`"
                );
            }
            ServiceFailure::ContainerUnusable { container } => {
                let _ =
                    writeln!(out, "container `{container}` is restarting, being removed or dead; boss leaves it alone");
                let _ = writeln!(
                    out,
                    "hint: wait for it to settle, or remove it with `docker rm -f {container}` (boss's volumes are kept)"
                );
            }
            ServiceFailure::CreatedConcurrently { container } => {
                let _ =
                    writeln!(out, "container `{container}` was created by another boss run for this group meanwhile");
                let _ = writeln!(out, "hint: run one boss command per group at a time; `boss start` again uses it");
            }
            ServiceFailure::Backend { action, error } => {
                let _ = writeln!(out, "failed to {}", action.describe());
                out.push_str(&render_backend_cause(error));
            }
            ServiceFailure::DeferredDecision => {
                let _ = writeln!(out, "internal error: the planner deferred a decision at run time");
            }
            ServiceFailure::TaskCrashed { reason } => {
                let _ = writeln!(out, "internal error: the task that drove the service crashed");
                let _ = writeln!(out, "caused by: {reason}");
            }
            ServiceFailure::Cancelled => {
                let _ = writeln!(out, "interrupted");
            }
        }
        out
    }
}

/// The hint for a name held by another boss group: never a command that would destroy it.
fn other_group_hint(what: &str, owner: &str) -> String {
    format!(
        "hint: boss never touches another group's {what}; stop group `{owner}` with its own script, or give this script another `group(...)`\n"
    )
}

impl BackendError {
    /// The engine's words, or what boss saw when there were none (a call that got no answer).
    pub(crate) fn describe(&self) -> String {
        match self.kind {
            BackendErrorKind::TimedOut { after } => format!("no answer within {}", seconds(after)),
            _ => self.message.clone(),
        }
    }
}

/// A duration as whole seconds, as `BOSS_REQUEST_TIMEOUT` is given: `5 s`.
fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs())
}

fn render_backend_cause(error: &BackendError) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "caused by: {}", error.describe());
    let hint = match error.kind {
        BackendErrorKind::Unreachable => Some("is the Docker daemon running?"),
        BackendErrorKind::TimedOut { .. } => Some(
            "the Docker daemon may be stalled or overloaded; `BOSS_REQUEST_TIMEOUT` sets how many seconds boss waits",
        ),
        BackendErrorKind::NotFound => None,
        BackendErrorKind::Conflict => Some("the name is in use; remove the other container or network first"),
        BackendErrorKind::Other => {
            let message = error.message.to_lowercase();
            if message.contains("port is already allocated") || message.contains("address already in use") {
                Some("a host port in `ports` is taken; stop what uses it or choose another port (0 picks a free one)")
            } else {
                None
            }
        }
    };
    if let Some(hint) = hint {
        let _ = writeln!(out, "hint: {hint}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_limit_that_ran_out_is_named_with_what_set_it() {
        let limit = |seconds: f64, set_by| TimeLimit { duration: Duration::from_secs_f64(seconds), set_by };
        let cut_off = |limit| {
            ServiceFailure::Hook { hook: HookKind::PostStart, problem: HookProblem::TimedOut { limit }, span: None }
                .render()
        };
        assert_eq!(
            cut_off(limit(2.0, LimitSource::HookTimeoutField)),
            "hook `post_start` failed: ran past its time limit of 2 s (`hook_timeout`) and was cut off\n\
             hint: raise the service's `hook_timeout`, or check why the hook does not return\n"
        );
        assert_eq!(
            cut_off(limit(300.0, LimitSource::WaitTimeoutOption)),
            "hook `post_start` failed: ran past its time limit of 300 s (`--wait-timeout`) and was cut off\n\
             hint: raise `--wait-timeout`, or check why the hook does not return\n"
        );
        assert_eq!(
            ServiceFailure::PingTimeout { limit: limit(0.5, LimitSource::WaitTimeoutField), attempts: 3 }.render(),
            "`ping` did not return true within 0.5 s (3 attempts)\n\
             hint: raise the service's `wait_timeout`, or check what `ping` waits for\n"
        );
    }

    #[test]
    fn a_job_failure_says_its_status_or_its_limit() {
        let limit = |seconds: f64, set_by| TimeLimit { duration: Duration::from_secs_f64(seconds), set_by };
        assert_eq!(
            ServiceFailure::JobFailed { exit_code: Some(3), logs: "migrating\nno such table\n".into() }.render(),
            "job exited with status 3\n\
             last lines of its log:\n\
             \x20 | migrating\n\
             \x20 | no such table\n"
        );
        assert_eq!(
            ServiceFailure::JobFailed { exit_code: None, logs: String::new() }.render(),
            "job stopped without an exit status\n(the container printed nothing)\n"
        );
        assert_eq!(
            ServiceFailure::JobTimeout { limit: limit(300.0, LimitSource::WaitTimeoutOption) }.render(),
            "job did not finish within 300 s\n\
             hint: raise `--wait-timeout`, or check why the job does not end\n"
        );
    }
}
