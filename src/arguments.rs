//! The command line as clap parses it. Nothing below [`crate::command`] sees clap types.

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
        /// The services script.
        #[arg(default_value = "services.rhai")]
        file: PathBuf,
        /// Services not to start (comma-separated, may be repeated).
        #[arg(long, value_delimiter = ',')]
        exclude: Vec<String>,
        /// Seconds each service's readiness check (and each hook) may take.
        #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=MAX_TIMEOUT))]
        timeout: u64,
        /// Use this network instead of `boss-<group>`.
        #[arg(long)]
        network_name: Option<String>,
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
    /// Run a command in a service's running container, with this terminal attached.
    #[command(override_usage = "boss exec [FILE] <SERVICE> [--] <COMMAND>...")]
    Exec {
        /// The services script (default `services.rhai`) when it ends in `.rhai`; otherwise the
        /// service.
        #[arg(value_name = "FILE|SERVICE")]
        first: String,
        /// The service (when a script was given), then the command and its arguments.
        #[arg(value_name = "COMMAND", required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<String>,
    },
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

/// How `boss plan` prints the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum PlanFormat {
    Text,
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
    fn start_defaults() {
        let arguments = Arguments::try_parse_from(["boss", "start", "x.rhai"]).unwrap();
        let Command::Start { timeout, file, network_name, .. } = arguments.command else { panic!("not start") };
        assert_eq!((timeout, file, network_name), (300, PathBuf::from("x.rhai"), None));
    }
}
