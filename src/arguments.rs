//! The command line as clap parses it. Nothing below [`crate::command`] sees clap types.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::SystemTime;

use clap::{Parser, Subcommand};

/// The longest `--wait-timeout` or `--stop-timeout` accepted: a day. (`--timeout`, their old
/// shared name, is a hidden alias of both, so older scripts keep working.)
const MAX_TIMEOUT: u64 = 86_400;

#[derive(Debug, Parser)]
#[command(
    name = "boss",
    version,
    after_help = "Example:\n  boss start && boss logs -f\n\nRun `boss <COMMAND> --help` for each command's options and examples.",
    about = "Start, stop and reload groups of dependent Docker services described in Rhai scripts"
)]
pub(crate) struct Arguments {
    /// Show debug logs (-vv for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Read variables from this `.env` file for `env_var()` and `env` secrets (boss's own
    /// environment wins).
    #[arg(long, global = true, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create the network and start every service in dependency order.
    #[command(
        override_usage = "boss start [FILE] [SERVICE]... [OPTIONS]",
        after_help = "Examples:\n  boss start\n  boss start api --profile debug\n  boss start examples/quickstart/services.rhai --exclude worker --save-logs ci-logs"
    )]
    Start {
        #[command(flatten)]
        start: StartArguments,
    },
    /// Stop services in reverse dependency order.
    #[command(after_help = "Examples:\n  boss stop\n  boss stop services.rhai --remove --volumes")]
    #[command(override_usage = "boss stop [FILE] [SERVICE]... [OPTIONS]")]
    Stop {
        /// The services script (default `services.rhai`) when the first ends in `.rhai` or holds
        /// a `/`, then the services to stop with their dependants (all when none is named).
        #[arg(value_name = "FILE|SERVICE")]
        words: Vec<String>,
        /// Services to leave running (comma-separated, may be repeated).
        #[arg(long, value_delimiter = ',')]
        exclude: Vec<String>,
        /// Also remove the containers, and (when nothing is excluded) the network and the
        /// context file. Volumes are kept.
        #[arg(long)]
        remove: bool,
        /// With `--remove`: also delete the volumes boss made for the images' `VOLUME`s, and
        /// with them their data.
        #[arg(long, requires = "remove")]
        volumes: bool,
        /// Seconds to wait after the stop signal before SIGKILL.
        #[arg(
            long = "stop-timeout",
            alias = "timeout",
            value_name = "SECS",
            default_value_t = 10,
            value_parser = clap::value_parser!(u64).range(0..=MAX_TIMEOUT)
        )]
        timeout: u64,
        #[command(flatten)]
        lock: LockTimeout,
        #[command(flatten)]
        progress: ProgressOption,
    },
    /// Show what `start` would do, changing nothing.
    #[command(after_help = "Examples:\n  boss plan\n  boss plan --format json --exit-code")]
    #[command(override_usage = "boss plan [FILE] [SERVICE]... [OPTIONS]")]
    Plan {
        /// The services script (default `services.rhai`) when the first ends in `.rhai` or holds
        /// a `/`, then the services `start` would start with their dependencies.
        #[arg(value_name = "FILE|SERVICE")]
        words: Vec<String>,
        #[command(flatten)]
        profiles: ProfileOption,
        /// Services `start` would not start (comma-separated, may be repeated).
        #[arg(long, value_delimiter = ',')]
        exclude: Vec<String>,
        /// `text` (one line per service) or `json`.
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
        /// Exit with 1 when `start` would change anything, 0 when it would not.
        #[arg(long)]
        exit_code: bool,
        /// The network `start` would use, if not `boss-<group>`.
        #[arg(long)]
        network_name: Option<String>,
    },
    /// Show the state of every service: container, image, ports, health, uptime; exit 1 unless
    /// every declared service is running.
    #[command(
        after_help = "Examples:\n  boss status\n  boss status --format json\n  boss status >/dev/null || boss start"
    )]
    Status {
        /// The services script.
        #[arg(default_value = "services.rhai")]
        file: PathBuf,
        /// `table` (one row per service) or `json`.
        #[arg(long, value_enum, default_value_t = StatusFormat::Table)]
        format: StatusFormat,
        /// The network the group was started with, if not `boss-<group>`.
        #[arg(long)]
        network_name: Option<String>,
    },
    /// Print the context's values and the published ports as environment variables.
    #[command(
        after_help = "Examples:\n  boss env --format dotenv > .env.test\n  eval \"$(boss env)\"\n  boss env --format json"
    )]
    Env {
        /// The services script.
        #[arg(default_value = "services.rhai")]
        file: PathBuf,
        /// `sh` (`export NAME='value'` lines for `eval`), `dotenv` (`NAME='value'` lines) or
        /// `json` (one object).
        #[arg(long, value_enum, default_value_t = EnvFormat::Sh)]
        format: EnvFormat,
        /// Show secret values (context keys marked with `ctx.secret(...)` or read by a
        /// service's `secrets`) instead of `***`.
        #[arg(long)]
        show_secrets: bool,
    },
    /// Start the group, run a command on the host with `boss env`'s variables, then stop and
    /// remove what this run started; exit with the command's status.
    #[command(
        override_usage = "boss run [FILE] [SERVICE]... [OPTIONS] -- <COMMAND>...",
        after_help = "Examples:\n  boss run -- cargo test\n  boss run services.rhai --exclude worker --save-logs ci-logs -- make integration"
    )]
    Run {
        #[command(flatten)]
        start: StartArguments,
        /// Leave the group running after the command.
        #[arg(long)]
        keep: bool,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<OsString>,
    },
    /// Rebuild one service's image and recreate it; restart its dependants.
    #[command(
        override_usage = "boss reload [FILE] <SERVICE> [OPTIONS]",
        after_help = "Examples:\n  boss reload api\n  boss reload services.rhai api --remove"
    )]
    Reload {
        /// The services script (default `services.rhai`) when two arguments are given; the
        /// service when only one is.
        #[arg(value_name = "FILE|SERVICE")]
        first: String,
        /// The service to reload.
        #[arg(value_name = "SERVICE")]
        second: Option<String>,
        /// Remove the stopped containers, so the service's dependants are recreated too.
        #[arg(long)]
        remove: bool,
        #[command(flatten)]
        wait: WaitTimeout,
        /// The network the group was started with, if not `boss-<group>`.
        #[arg(long)]
        network_name: Option<String>,
        #[command(flatten)]
        timings: TimingsOption,
        #[command(flatten)]
        lock: LockTimeout,
        #[command(flatten)]
        progress: ProgressOption,
    },
    /// Show the services' logs, interleaved by time, each line under its service's name.
    #[command(
        override_usage = "boss logs [FILE] [SERVICE]... [OPTIONS]",
        after_help = "Examples:\n  boss logs -f\n  boss logs api db --since 10m --timestamps\n  boss logs --save ci-logs"
    )]
    Logs {
        /// The services script (default `services.rhai`) when the first ends in `.rhai`, then
        /// the services to show (all when none is named).
        #[arg(value_name = "FILE|SERVICE")]
        words: Vec<String>,
        /// Keep showing what the services write, also from new containers (after a `reload`,
        /// say), until Ctrl-C.
        #[arg(short, long)]
        follow: bool,
        /// Only the last N lines of each service.
        #[arg(long, value_name = "N")]
        tail: Option<usize>,
        /// Only lines written since then: a duration (`10m`, `1h 30m`) or a time
        /// (`2026-11-30T13:00:00Z`).
        #[arg(long, value_name = "WHEN", value_parser = parse_since)]
        since: Option<SystemTime>,
        /// Start each line with the time the engine read it.
        #[arg(short, long)]
        timestamps: bool,
        /// Write each service's log to `DIR/<service>.log` instead of showing it.
        #[arg(long, value_name = "DIR", conflicts_with = "follow")]
        save: Option<PathBuf>,
    },
    /// Run a command in a service's running container, with this terminal attached.
    #[command(
        override_usage = "boss exec [FILE] <SERVICE> [--] <COMMAND>...",
        after_help = "Examples:\n  boss exec db psql -U postgres\n  echo 'select 1' | boss exec db -- psql -U postgres"
    )]
    Exec {
        /// The services script (default `services.rhai`) when it ends in `.rhai`; otherwise the
        /// service.
        #[arg(value_name = "FILE|SERVICE")]
        first: String,
        /// The service (when a script was given), then the command and its arguments.
        #[arg(value_name = "COMMAND", required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<String>,
    },
    /// Remove what dead runs and builds left, engine-wide and by boss's labels only: the
    /// containers and networks of groups whose script directory is gone, build tags beyond each
    /// service's newest few, and failed builds.
    #[command(after_help = "Examples:\n  boss gc --dry-run\n  boss gc\n  boss gc --group shop --volumes --format json")]
    Gc {
        /// List what would be removed, and remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// Only this group's resources.
        #[arg(long, value_name = "NAME")]
        group: Option<String>,
        /// How many of each service's newest `boss-<time>` build tags to keep.
        #[arg(long, value_name = "N", default_value_t = 3)]
        keep_builds: usize,
        /// Also delete the volumes of groups whose directory is gone, and with them their data.
        #[arg(long)]
        volumes: bool,
        /// `table` (one row per thing) or `json`.
        #[arg(long, value_enum, default_value_t = StatusFormat::Table)]
        format: StatusFormat,
    },
    /// Print a completion script for a shell.
    #[command(
        after_help = "Examples:\n  boss completions bash > ~/.local/share/bash-completion/completions/boss\n  boss completions zsh > ~/.zfunc/_boss\n  boss completions fish > ~/.config/fish/completions/boss.fish"
    )]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
}

/// `--since`: a duration back from now (`10m`) or a point in time (RFC 3339, or
/// `2026-11-30 13:00:00` in UTC).
fn parse_since(text: &str) -> Result<SystemTime, String> {
    if let Ok(back) = humantime::parse_duration(text) {
        return SystemTime::now().checked_sub(back).ok_or_else(|| format!("`{text}` reaches back before 1970"));
    }
    humantime::parse_rfc3339_weak(text)
        .map_err(|_| format!("`{text}` is neither a duration (`10m`) nor a time (`2026-11-30T13:00:00Z`)"))
}

/// The script and the services of a command's words: a first word ending in `.rhai`, or
/// holding a `/` (`./dev`, `ci/services`), is the script; service names can hold neither.
pub(crate) fn script_and_services(words: Vec<String>) -> (PathBuf, Vec<String>) {
    let mut words = words.into_iter().peekable();
    let file = match words.next_if(|word| word.ends_with(".rhai") || word.contains('/')) {
        Some(file) => PathBuf::from(file),
        None => PathBuf::from("services.rhai"),
    };
    (file, words.collect())
}

/// The shells `boss completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// The completion script of `shell` for boss's command line.
pub(crate) fn completion_script(shell: Shell) -> String {
    use clap::CommandFactory as _;
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(generator, &mut Arguments::command(), "boss", &mut script);
    String::from_utf8_lossy(&script).into_owned()
}

/// What `boss exec` was asked to run: the script, the service, and the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExecTarget {
    pub file: PathBuf,
    pub service: String,
    pub cmd: Vec<String>,
}

/// Splits `boss exec`'s words: a first word ending in `.rhai` is the script and the service
/// follows; a `--` right after the service only separates it from the command.
pub(crate) fn exec_target(first: String, rest: Vec<String>) -> Option<ExecTarget> {
    let (file, service, mut cmd) = if first.ends_with(".rhai") {
        let mut rest = rest.into_iter();
        let service = rest.next()?;
        (PathBuf::from(first), service, rest.collect::<Vec<_>>())
    } else {
        (PathBuf::from("services.rhai"), first, rest)
    };
    if cmd.first().is_some_and(|word| word == "--") {
        cmd.remove(0);
    }
    (!cmd.is_empty()).then_some(ExecTarget { file, service, cmd })
}

/// `--wait-timeout`, of the commands that start services.
#[derive(Debug, Clone, Copy, clap::Args)]
pub(crate) struct WaitTimeout {
    /// Seconds each service's readiness check (and each hook) may take.
    #[arg(
        long = "wait-timeout",
        alias = "timeout",
        value_name = "SECS",
        default_value_t = 300,
        value_parser = clap::value_parser!(u64).range(1..=MAX_TIMEOUT)
    )]
    pub seconds: u64,
}

/// `--lock-timeout`, of the commands that change a group and so wait while another boss does.
#[derive(Debug, Clone, Copy, clap::Args)]
pub(crate) struct LockTimeout {
    /// Seconds to wait while another boss works on the same group before giving up (exit 75);
    /// 0 gives up at once. Without it, boss waits as long as it takes.
    #[arg(id = "lock_timeout", long = "lock-timeout", value_name = "SECS", value_parser = clap::value_parser!(u64).range(0..=MAX_TIMEOUT))]
    pub seconds: Option<u64>,
}

/// `--progress`, of the commands that start or stop services.
#[derive(Debug, Clone, Copy, clap::Args)]
pub(crate) struct ProgressOption {
    /// How to show progress: `tty` (a live row per service, on stderr), `plain` (one line per
    /// step, on stderr), `json` (one JSON event per line, on stdout), or `auto` (`tty` on a
    /// terminal, else `plain`).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = Progress::Auto)]
    pub progress: Progress,
}

/// The values of `--progress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Progress {
    Auto,
    Tty,
    Plain,
    Json,
}

impl Command {
    /// The `--progress` of a command that has one.
    pub(crate) fn progress(&self) -> Option<Progress> {
        match self {
            Command::Start { start } | Command::Run { start, .. } => Some(start.progress.progress),
            Command::Stop { progress, .. } | Command::Reload { progress, .. } => Some(progress.progress),
            _ => None,
        }
    }

    /// Where `--timings` writes the timeline, for the commands that start services.
    pub(crate) fn timings(&self) -> Option<PathBuf> {
        match self {
            Command::Start { start } | Command::Run { start, .. } => start.timings.file.clone(),
            Command::Reload { timings, .. } => timings.file.clone(),
            _ => None,
        }
    }
}

/// `--profile`, of the commands that select services to start.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct ProfileOption {
    /// Activate a profile: services with `profiles` start only when one of theirs is active
    /// (comma-separated, may be repeated; default: `BOSS_PROFILES`).
    #[arg(long = "profile", value_name = "NAME", value_delimiter = ',')]
    pub names: Vec<String>,
}

/// What `start` and `run` take to start a group.
#[derive(Debug, clap::Args)]
pub(crate) struct StartArguments {
    /// The services script (default `services.rhai`) when the first ends in `.rhai` or holds a
    /// `/`, then the services to start with their dependencies (all when none is named).
    #[arg(value_name = "FILE|SERVICE")]
    pub words: Vec<String>,
    #[command(flatten)]
    pub profiles: ProfileOption,
    /// Services not to start (comma-separated, may be repeated).
    #[arg(long, value_delimiter = ',')]
    pub exclude: Vec<String>,
    #[command(flatten)]
    pub wait: WaitTimeout,
    /// Use this network instead of `boss-<group>`.
    #[arg(long)]
    pub network_name: Option<String>,
    /// Write the log of every service that fails to `DIR/<service>.log` before its
    /// container is removed.
    #[arg(long, value_name = "DIR")]
    pub save_logs: Option<PathBuf>,
    #[command(flatten)]
    pub timings: TimingsOption,
    #[command(flatten)]
    pub lock: LockTimeout,
    #[command(flatten)]
    pub progress: ProgressOption,
}

/// `--timings`, of the commands that start services.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct TimingsOption {
    /// Write a timeline of the start to FILE, an HTML page: one row per service with its
    /// phases and the slowest chain of dependencies highlighted.
    #[arg(id = "timings", long = "timings", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

/// How `boss plan` prints the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PlanFormat {
    Text,
    Json,
}

/// How `boss status` prints the status, and `boss gc` what it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum StatusFormat {
    Table,
    Json,
}

/// How `boss env` prints the variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum EnvFormat {
    Sh,
    Dotenv,
    Json,
}

/// `--exclude` values, trimmed, without empty entries.
pub(crate) fn clean_names(names: &[String]) -> Vec<String> {
    names.iter().map(|name| name.trim().to_string()).filter(|name| !name.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclude_is_split_repeated_and_trimmed() {
        let arguments =
            Arguments::try_parse_from(["boss", "stop", "--exclude", "a, b", "--exclude", " c ,", "--remove"]).unwrap();
        let Command::Stop { exclude, remove, timeout, words, volumes, .. } = arguments.command else {
            panic!("not stop")
        };
        assert!(!volumes);
        assert_eq!(clean_names(&exclude), ["a", "b", "c"]);
        assert!(remove);
        assert_eq!(timeout, 10);
        assert_eq!(script_and_services(words), (PathBuf::from("services.rhai"), vec![]));
    }

    #[test]
    fn reload_takes_a_service_or_a_file_and_a_service() {
        let parse = |args: &[&str]| match Arguments::try_parse_from(args).map(|arguments| arguments.command) {
            Ok(Command::Reload { first, second, .. }) => {
                Ok([Some(first), second].into_iter().flatten().collect::<Vec<_>>())
            }
            Ok(other) => panic!("not reload: {other:?}"),
            Err(error) => Err(error.kind()),
        };
        assert_eq!(parse(&["boss", "reload", "api"]), Ok(vec!["api".to_string()]));
        assert_eq!(parse(&["boss", "reload", "x.rhai", "api"]), Ok(vec!["x.rhai".to_string(), "api".to_string()]));
        assert!(parse(&["boss", "reload"]).is_err());
        assert!(parse(&["boss", "reload", "a", "b", "c"]).is_err());
    }

    #[test]
    fn progress_is_an_option_of_the_commands_that_start_or_stop() {
        let progress = |args: &[&str]| Arguments::try_parse_from(args).map(|arguments| arguments.command.progress());
        assert_eq!(progress(&["boss", "start"]).unwrap(), Some(Progress::Auto));
        assert_eq!(progress(&["boss", "start", "--progress", "json"]).unwrap(), Some(Progress::Json));
        assert_eq!(progress(&["boss", "stop", "--progress", "plain"]).unwrap(), Some(Progress::Plain));
        assert_eq!(progress(&["boss", "reload", "api", "--progress", "json"]).unwrap(), Some(Progress::Json));
        assert_eq!(progress(&["boss", "run", "--progress", "json", "--", "true"]).unwrap(), Some(Progress::Json));
        assert_eq!(progress(&["boss", "status"]).unwrap(), None);
        assert!(progress(&["boss", "start", "--progress", "fancy"]).is_err());
    }

    #[test]
    fn timings_is_an_option_of_the_commands_that_start() {
        let timings = |args: &[&str]| Arguments::try_parse_from(args).map(|arguments| arguments.command.timings());
        assert_eq!(timings(&["boss", "start", "--timings", "t.html"]).unwrap(), Some(PathBuf::from("t.html")));
        assert_eq!(timings(&["boss", "reload", "api", "--timings", "r.html"]).unwrap(), Some(PathBuf::from("r.html")));
        assert_eq!(
            timings(&["boss", "run", "--timings", "x.html", "--", "true"]).unwrap(),
            Some(PathBuf::from("x.html"))
        );
        assert_eq!(timings(&["boss", "start"]).unwrap(), None);
        assert!(timings(&["boss", "stop", "--timings", "t.html"]).is_err(), "a stop has no start to time");
    }

    #[test]
    fn volumes_needs_remove() {
        assert!(Arguments::try_parse_from(["boss", "stop", "--volumes"]).is_err());
        assert!(Arguments::try_parse_from(["boss", "stop", "--remove", "--volumes"]).is_ok());
    }

    #[test]
    fn plan_takes_a_format_and_an_exit_code_flag() {
        let arguments = Arguments::try_parse_from(["boss", "plan", "--format", "json", "--exit-code"]).unwrap();
        let Command::Plan { format, exit_code, words, .. } = arguments.command else { panic!("not plan") };
        assert_eq!((format, exit_code, script_and_services(words).0), (PlanFormat::Json, true, "services.rhai".into()));
        assert!(Arguments::try_parse_from(["boss", "plan", "--format", "yaml"]).is_err());
    }

    #[test]
    fn status_takes_a_format() {
        let arguments = Arguments::try_parse_from(["boss", "status", "x.rhai", "--format", "json"]).unwrap();
        let Command::Status { format, file, .. } = arguments.command else { panic!("not status") };
        assert_eq!((format, file), (StatusFormat::Json, PathBuf::from("x.rhai")));
        let arguments = Arguments::try_parse_from(["boss", "status"]).unwrap();
        let Command::Status { format, .. } = arguments.command else { panic!("not status") };
        assert_eq!(format, StatusFormat::Table);
        assert!(Arguments::try_parse_from(["boss", "status", "--format", "yaml"]).is_err());
    }

    #[test]
    fn env_takes_a_format() {
        let parse = |args: &[&str]| match Arguments::try_parse_from(args).map(|arguments| arguments.command) {
            Ok(Command::Env { format, file, .. }) => Some((format, file)),
            _ => None,
        };
        assert_eq!(parse(&["boss", "env"]), Some((EnvFormat::Sh, PathBuf::from("services.rhai"))));
        assert_eq!(parse(&["boss", "env", "x.rhai", "--format", "dotenv"]), Some((EnvFormat::Dotenv, "x.rhai".into())));
        assert_eq!(parse(&["boss", "env", "--format", "json"]).map(|parsed| parsed.0), Some(EnvFormat::Json));
        assert_eq!(parse(&["boss", "env", "--format", "yaml"]), None);
    }

    #[test]
    fn run_takes_a_command_after_two_dashes() {
        let arguments =
            Arguments::try_parse_from(["boss", "run", "x.rhai", "--keep", "--", "sh", "-c", "echo --keep"]).unwrap();
        let Command::Run { start, keep, command } = arguments.command else { panic!("not run") };
        assert_eq!((script_and_services(start.words).0, keep, start.exclude), ("x.rhai".into(), true, vec![]));
        assert_eq!(command, ["sh", "-c", "echo --keep"]);
        let arguments = Arguments::try_parse_from(["boss", "run", "--exclude", "a", "--", "make", "test"]).unwrap();
        let Command::Run { start, keep, .. } = arguments.command else { panic!("not run") };
        let (file, services) = script_and_services(start.words);
        assert_eq!(
            (file, services, keep, start.exclude),
            ("services.rhai".into(), vec![], false, vec!["a".to_string()])
        );
        let arguments = Arguments::try_parse_from(["boss", "run", "api", "db", "--", "make"]).unwrap();
        let Command::Run { start, command, .. } = arguments.command else { panic!("not run") };
        assert_eq!(
            script_and_services(start.words),
            ("services.rhai".into(), vec!["api".to_string(), "db".to_string()])
        );
        assert_eq!(command, ["make"]);
        assert!(Arguments::try_parse_from(["boss", "run"]).is_err(), "a command is required");
        assert!(Arguments::try_parse_from(["boss", "run", "--"]).is_err(), "a command is required");
    }

    #[test]
    fn exec_takes_an_optional_file_a_service_and_a_command() {
        let parse = |args: &[&str]| match Arguments::try_parse_from(args).map(|arguments| arguments.command) {
            Ok(Command::Exec { first, rest }) => exec_target(first, rest),
            Ok(other) => panic!("not exec: {other:?}"),
            Err(_) => None,
        };
        let target = |file: &str, service: &str, cmd: &[&str]| {
            Some(ExecTarget {
                file: PathBuf::from(file),
                service: service.to_string(),
                cmd: cmd.iter().map(ToString::to_string).collect(),
            })
        };
        assert_eq!(
            parse(&["boss", "exec", "a", "--", "sh", "-c", "exit 7"]),
            target("services.rhai", "a", &["sh", "-c", "exit 7"])
        );
        assert_eq!(parse(&["boss", "exec", "a", "ls", "-l"]), target("services.rhai", "a", &["ls", "-l"]));
        assert_eq!(
            parse(&["boss", "exec", "x.rhai", "a", "--", "ls", "--", "-x"]),
            target("x.rhai", "a", &["ls", "--", "-x"])
        );
        assert_eq!(parse(&["boss", "exec", "x.rhai", "a", "ls"]), target("x.rhai", "a", &["ls"]));
        assert_eq!(parse(&["boss", "exec", "a"]), None);
        assert_eq!(parse(&["boss", "exec", "x.rhai", "a"]), None);
        assert_eq!(parse(&["boss", "exec", "a", "--"]), None);
    }

    #[test]
    fn logs_takes_an_optional_file_services_and_options() {
        let arguments = Arguments::try_parse_from([
            "boss", "logs", "x.rhai", "a", "b", "-f", "--tail", "3", "--since", "10m", "-t",
        ])
        .unwrap();
        let Command::Logs { words, follow, tail, since, timestamps, save } = arguments.command else {
            panic!("not logs")
        };
        assert_eq!(script_and_services(words), (PathBuf::from("x.rhai"), vec!["a".to_string(), "b".to_string()]));
        assert!(follow && timestamps && save.is_none());
        assert_eq!(tail, Some(3));
        let back = SystemTime::now().duration_since(since.unwrap()).unwrap();
        assert!(back >= std::time::Duration::from_secs(600));
        assert_eq!(script_and_services(vec![]), (PathBuf::from("services.rhai"), vec![]));
        assert!(Arguments::try_parse_from(["boss", "logs", "--since", "yesterday-ish"]).is_err());
        assert!(Arguments::try_parse_from(["boss", "logs", "--save", "d", "-f"]).is_err());
        assert!(parse_since("2026-11-30T13:00:00Z").is_ok());
    }

    #[test]
    fn timeouts_have_their_own_names_and_the_old_one_still_works() {
        let wait = |args: &[&str]| match Arguments::try_parse_from(args).unwrap().command {
            Command::Start { start } => start.wait.seconds,
            Command::Reload { wait, .. } => wait.seconds,
            Command::Stop { timeout, .. } => timeout,
            other => panic!("no timeout: {other:?}"),
        };
        assert_eq!(wait(&["boss", "start", "--wait-timeout", "20"]), 20);
        assert_eq!(wait(&["boss", "start", "--timeout", "21"]), 21);
        assert_eq!(wait(&["boss", "reload", "api", "--wait-timeout", "22"]), 22);
        assert_eq!(wait(&["boss", "reload", "api", "--timeout", "23"]), 23);
        assert_eq!(wait(&["boss", "stop", "--stop-timeout", "2"]), 2);
        assert_eq!(wait(&["boss", "stop", "--timeout", "3"]), 3);
        assert!(Arguments::try_parse_from(["boss", "stop", "--wait-timeout", "3"]).is_err());
        assert!(Arguments::try_parse_from(["boss", "start", "--stop-timeout", "3"]).is_err());
        use clap::CommandFactory as _;
        let mut help = Vec::new();
        Arguments::command().find_subcommand_mut("start").unwrap().write_long_help(&mut help).unwrap();
        let help = String::from_utf8(help).unwrap();
        assert!(help.contains("--wait-timeout") && !help.contains("--timeout"), "the old name is hidden: {help}");
    }

    #[test]
    fn the_commands_that_change_a_group_take_a_lock_timeout() {
        let lock = |args: &[&str]| match Arguments::try_parse_from(args).map(|arguments| arguments.command) {
            Ok(Command::Start { start } | Command::Run { start, .. }) => Ok(start.lock.seconds),
            Ok(Command::Stop { lock, .. } | Command::Reload { lock, .. }) => Ok(lock.seconds),
            Ok(other) => panic!("no lock timeout: {other:?}"),
            Err(error) => Err(error.kind()),
        };
        assert_eq!(lock(&["boss", "start"]), Ok(None), "waits as long as it takes");
        assert_eq!(lock(&["boss", "start", "--lock-timeout", "0"]), Ok(Some(0)));
        assert_eq!(lock(&["boss", "stop", "--lock-timeout", "5"]), Ok(Some(5)));
        assert_eq!(lock(&["boss", "reload", "api", "--lock-timeout", "6"]), Ok(Some(6)));
        assert_eq!(lock(&["boss", "run", "--lock-timeout", "7", "--", "true"]), Ok(Some(7)));
        assert!(lock(&["boss", "start", "--lock-timeout", "-1"]).is_err());
        assert!(Arguments::try_parse_from(["boss", "status", "--lock-timeout", "1"]).is_err(), "status takes no lock");
    }

    #[test]
    fn start_defaults() {
        let arguments = Arguments::try_parse_from(["boss", "start", "x.rhai"]).unwrap();
        let Command::Start { start } = arguments.command else { panic!("not start") };
        assert_eq!(
            (start.wait.seconds, script_and_services(start.words).0, start.network_name),
            (300, "x.rhai".into(), None)
        );
    }

    #[test]
    fn start_and_stop_take_an_optional_file_then_services() {
        let words = |args: &[&str]| match Arguments::try_parse_from(args).unwrap().command {
            Command::Start { start } => script_and_services(start.words),
            Command::Stop { words, .. } | Command::Plan { words, .. } => script_and_services(words),
            other => panic!("no words: {other:?}"),
        };
        let expect = |file: &str, services: &[&str]| {
            (PathBuf::from(file), services.iter().map(ToString::to_string).collect::<Vec<_>>())
        };
        assert_eq!(words(&["boss", "start"]), expect("services.rhai", &[]));
        assert_eq!(words(&["boss", "start", "api", "db"]), expect("services.rhai", &["api", "db"]));
        assert_eq!(words(&["boss", "start", "dev.rhai", "api"]), expect("dev.rhai", &["api"]));
        // A `/` makes a script of a file without `.rhai`; a service name never holds one.
        assert_eq!(words(&["boss", "start", "./dev", "api"]), expect("./dev", &["api"]));
        assert_eq!(words(&["boss", "stop", "ci/services.rhai", "db"]), expect("ci/services.rhai", &["db"]));
        assert_eq!(words(&["boss", "plan", "api"]), expect("services.rhai", &["api"]));
        let Command::Start { start } =
            Arguments::try_parse_from(["boss", "start", "--profile", "debug,tools", "--profile", "ci"])
                .unwrap()
                .command
        else {
            panic!("not start")
        };
        assert_eq!(start.profiles.names, ["debug", "tools", "ci"]);
    }
}
