//! `boss completions bash|zsh|fish` and `--help`: the completion scripts name every
//! subcommand and bash accepts its script; every subcommand's help ends with an example.

use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::common::Project;

/// The subcommands `boss --help` lists, without clap's own `help`.
fn subcommands(project: &Project) -> Vec<String> {
    let output = project.run(["--help"]);
    output.success();
    let listed = output.stdout.split("Commands:\n").nth(1).unwrap_or_else(|| panic!("no command list\n{output}"));
    listed
        .lines()
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn completions_name_every_subcommand_and_bash_accepts_them() {
    let project = Project::new("completions");
    let names = subcommands(&project);
    assert_eq!(names, ["start", "stop", "plan", "status", "env", "run", "reload", "logs", "exec", "gc", "completions"]);

    let bash = project.run(["completions", "bash"]);
    bash.success();
    for name in &names {
        assert!(bash.stdout.contains(&format!("cmd=\"boss__subcmd__{name}\"")), "bash completes `{name}`\n{bash}");
    }
    let mut check = Command::new("bash").arg("-n").stdin(Stdio::piped()).spawn().expect("bash runs");
    check.stdin.take().unwrap().write_all(bash.stdout.as_bytes()).unwrap();
    assert!(check.wait().unwrap().success(), "`bash -n` accepts the script");

    for shell in ["zsh", "fish"] {
        let script = project.run(["completions", shell]);
        script.success();
        for name in &names {
            assert!(script.stdout.contains(name.as_str()), "{shell} completes `{name}`\n{script}");
        }
    }
    project.run(["completions", "powershell"]).code(2).stderr_contains("invalid value 'powershell'");
}

#[test]
fn every_subcommand_help_has_an_example() {
    let project = Project::new("help_examples");
    for name in subcommands(&project) {
        let help = project.run([name.as_str(), "--help"]);
        help.success();
        let examples = help.stdout.split("Examples:\n").nth(1).unwrap_or_else(|| panic!("no examples\n{help}"));
        assert!(examples.lines().next().is_some_and(|line| line.starts_with("  boss ")), "{help}");
    }
}
