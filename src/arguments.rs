//! The command line as clap parses it. Nothing below [`crate::command`] sees clap types.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The longest `--timeout` accepted: a day.
const MAX_TIMEOUT: u64 = 86_400;

#[derive(Debug, Parser)]
#[command(
    name = "boss",
    version,
    about = "Start, stop and reload groups of dependent Docker services described in Rhai scripts"
)]
pub(crate) struct Arguments {
    /// Show debug logs (-vv for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create the network and start every service in dependency order.
    Start {
        #[command(flatten)]
        start: StartArguments,
    },
    /// Stop services in reverse dependency order.
    Stop {
        /// The services script.
        #[arg(default_value = "services.rhai")]
        file: PathBuf,
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
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=MAX_TIMEOUT))]
        timeout: u64,
    },
    /// Show what `start` would do, changing nothing.
    Plan {
        /// The services script.
        #[arg(default_value = "services.rhai")]
        file: PathBuf,
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
    Env {
        /// The services script.
        #[arg(default_value = "services.rhai")]
        file: PathBuf,
        /// `sh` (`export NAME='value'` lines for `eval`), `dotenv` (`NAME='value'` lines) or
        /// `json` (one object).
        #[arg(long, value_enum, default_value_t = EnvFormat::Sh)]
        format: EnvFormat,
    },
    /// Start the group, run a command on the host with `boss env`'s variables, then stop and
    /// remove what this run started; exit with the command's status.
    #[command(override_usage = "boss run [FILE] [OPTIONS] -- <COMMAND>...")]
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
    #[command(override_usage = "boss reload [FILE] <SERVICE> [OPTIONS]")]
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
        /// Seconds each service's readiness check (and each hook) may take.
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=MAX_TIMEOUT))]
        timeout: u64,
        /// The network the group was started with, if not `boss-<group>`.
        #[arg(long)]
        network_name: Option<String>,
    },
}

/// What `start` and `run` take to start a group.
#[derive(Debug, clap::Args)]
pub(crate) struct StartArguments {
    /// The services script.
    #[arg(default_value = "services.rhai")]
    pub file: PathBuf,
    /// Services not to start (comma-separated, may be repeated).
    #[arg(long, value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Seconds each service's readiness check (and each hook) may take.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=MAX_TIMEOUT))]
    pub timeout: u64,
    /// Use this network instead of `boss-<group>`.
    #[arg(long)]
    pub network_name: Option<String>,
}

/// How `boss plan` prints the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PlanFormat {
    Text,
    Json,
}

/// How `boss status` prints the status.
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
        let Command::Stop { exclude, remove, timeout, file, volumes } = arguments.command else { panic!("not stop") };
        assert!(!volumes);
        assert_eq!(clean_names(&exclude), ["a", "b", "c"]);
        assert!(remove);
        assert_eq!(timeout, 10);
        assert_eq!(file, PathBuf::from("services.rhai"));
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
    fn volumes_needs_remove() {
        assert!(Arguments::try_parse_from(["boss", "stop", "--volumes"]).is_err());
        assert!(Arguments::try_parse_from(["boss", "stop", "--remove", "--volumes"]).is_ok());
    }

    #[test]
    fn plan_takes_a_format_and_an_exit_code_flag() {
        let arguments = Arguments::try_parse_from(["boss", "plan", "--format", "json", "--exit-code"]).unwrap();
        let Command::Plan { format, exit_code, file, .. } = arguments.command else { panic!("not plan") };
        assert_eq!((format, exit_code, file), (PlanFormat::Json, true, PathBuf::from("services.rhai")));
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
            Ok(Command::Env { format, file }) => Some((format, file)),
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
        assert_eq!((start.file, keep, start.exclude), (PathBuf::from("x.rhai"), true, Vec::<String>::new()));
        assert_eq!(command, ["sh", "-c", "echo --keep"]);
        let arguments = Arguments::try_parse_from(["boss", "run", "--exclude", "a", "--", "make", "test"]).unwrap();
        let Command::Run { start, keep, .. } = arguments.command else { panic!("not run") };
        assert_eq!((start.file, keep, start.exclude), (PathBuf::from("services.rhai"), false, vec!["a".to_string()]));
        assert!(Arguments::try_parse_from(["boss", "run"]).is_err(), "a command is required");
        assert!(Arguments::try_parse_from(["boss", "run", "--"]).is_err(), "a command is required");
    }

    #[test]
    fn start_defaults() {
        let arguments = Arguments::try_parse_from(["boss", "start", "x.rhai"]).unwrap();
        let Command::Start { start } = arguments.command else { panic!("not start") };
        assert_eq!((start.timeout, start.file, start.network_name), (300, PathBuf::from("x.rhai"), None));
    }
}
