//! Self-tests of the harness in `common`: the fixture image, unique group names, the group
//! guard's cleanup, the Docker queries and the process runner. They hold whatever boss does.

use std::panic;
use std::process::Command;
use std::time::Duration;

use crate::common::{
    ContainerRow, GroupGuard, MAX_GROUP_LEN, Project, RunError, check_docker, container, container_env,
    container_labels, containers, docker, fixture_image, foreign_container, free_port, networks, run_captured,
    try_docker, unique_group,
};

/// Starts a detached fixture container that sleeps, with the extra `docker run` options.
fn start_sleeper(options: &[&str]) -> String {
    let image = fixture_image();
    let mut args = vec!["run", "--detach"];
    args.extend_from_slice(options);
    args.extend([image.as_str(), "sleep", "60"]);
    docker(args).trim().to_owned()
}

fn container_exists(id: &str) -> bool {
    try_docker(["container", "inspect", "--format", "{{.Id}}", id]).is_ok()
}

/// Force-removes a container that no guard covers, even if the test panics.
struct RemoveOnDrop(String);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Err(problem) = try_docker(["rm", "--force", &self.0]) {
            eprintln!("warning: {problem}");
        }
    }
}

#[test]
fn fixture_image_runs_busybox_applets() {
    let image = fixture_image();
    assert!(image.starts_with("boss-test-busybox:"), "{image}");
    assert_eq!(fixture_image(), image, "the tag is stable within a process");
    assert_eq!(docker(["run", "--rm", &image, "echo", "hi"]), "hi\n");
}

#[test]
fn unique_group_is_a_short_valid_hostname() {
    let names = [
        "start_runs_hooks",
        "Stop::Removes_Network!",
        "a_very_long_test_name_that_goes_on_and_on_past_any_reasonable_length_limit",
        "___",
        "",
    ];
    let groups: Vec<String> = names.iter().map(|name| unique_group(name)).collect();
    for group in &groups {
        assert!(group.len() <= MAX_GROUP_LEN, "{group} is too long");
        assert!(
            group.chars().all(|character| matches!(character, 'a'..='z' | '0'..='9' | '-')),
            "{group} has a character outside [a-z0-9-]"
        );
        assert!(group.starts_with("t-"), "{group}");
        assert!(!group.ends_with('-') && !group.contains("--"), "{group}");
    }
    assert!(groups[0].starts_with("t-start-runs-hooks-"), "{}", groups[0]);
    assert!(groups[1].starts_with("t-stop-removes-network-"), "{}", groups[1]);
    let mut distinct = groups.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), groups.len(), "{groups:?}");
}

#[test]
fn group_guard_removes_exactly_its_labelled_resources() {
    let group = unique_group("guard_removes_exactly");
    // This group's name has the first as a prefix, so a substring match would catch it.
    let neighbour_group = format!("{group}0");
    let guard = GroupGuard::new(&group);
    let _neighbour_guard = GroupGuard::new(&neighbour_group);

    let owned_name = format!("{group}.web");
    let owned = start_sleeper(&[
        "--name",
        &owned_name,
        "--label",
        &format!("boss.group={group}"),
        "--label",
        "boss.service=web",
        "--env",
        "GREETING=hello world",
        "--env",
        "MULTILINE=one\ntwo",
    ]);
    let foreign = foreign_container(&group, &format!("{group}-foreign"));
    docker(["network", "create", "--label", &format!("boss.group={group}"), &format!("boss-{group}")]);
    let neighbour = start_sleeper(&["--label", &format!("boss.group={neighbour_group}")]);
    let unlabelled = RemoveOnDrop(start_sleeper(&[]));

    assert_eq!(
        containers(&group),
        [ContainerRow {
            id: owned.chars().take(12).collect(),
            name: owned_name,
            service: "web".to_owned(),
            state: "running".to_owned(),
        }]
    );
    assert_eq!(container(&group, "web").map(|row| row.id.len()), Some(12));
    assert_eq!(container(&group, "db"), None);
    let env = container_env(&owned);
    assert!(env.contains(&"GREETING=hello world".to_owned()), "{env:?}");
    assert!(env.contains(&"MULTILINE=one\ntwo".to_owned()), "{env:?}");
    assert_eq!(container_labels(&owned).get("boss.service").map(String::as_str), Some("web"));
    assert_eq!(networks(&group), [format!("boss-{group}")]);

    drop(guard);

    assert!(!container_exists(&owned), "the labelled container is gone");
    assert!(!container_exists(&foreign), "the foreign test container is gone");
    assert_eq!(networks(&group), Vec::<String>::new());
    assert!(container_exists(&neighbour), "another group's container stays");
    assert!(container_exists(&unlabelled.0), "an unlabelled container stays");
}

#[test]
fn group_guard_cleans_up_when_the_test_panics() {
    let group = unique_group("guard_cleans_up_on_panic");
    let label = format!("boss.group={group}");
    let outcome = panic::catch_unwind(|| {
        let _guard = GroupGuard::new(&group);
        start_sleeper(&["--label", &label]);
        panic!("a deliberate panic, to unwind past the guard");
    });
    assert!(outcome.is_err());
    assert_eq!(containers(&group), []);
}

#[test]
fn check_docker_names_the_unreachable_host() {
    let host = "unix:///nonexistent/docker.sock";
    let message = check_docker(Some(host)).expect_err("no daemon listens there");
    let first_line = message.lines().next().unwrap_or_default();
    assert_eq!(
        first_line,
        format!(
            "cannot reach Docker at {host}: start the daemon (tests that need Docker fail \
             rather than skip)"
        )
    );
}

#[test]
fn run_captured_reports_exit_code_and_both_streams() {
    let captured =
        run_captured(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]), Duration::from_secs(10))
            .expect("sh runs");
    assert_eq!(captured.exit_code, Some(3));
    assert_eq!(captured.stdout, "out\n");
    assert_eq!(captured.stderr, "err\n");
}

#[test]
fn run_captured_kills_a_child_that_outlives_its_timeout() {
    let outcome =
        run_captured(Command::new("sh").args(["-c", "echo started; exec sleep 30"]), Duration::from_millis(300));
    let Err(RunError::TimedOut(captured)) = outcome else {
        panic!("expected a timeout, got {outcome:?}");
    };
    assert_eq!(captured.exit_code, None, "a kill leaves no exit code");
    assert_eq!(captured.stdout, "started\n");
    assert!(captured.elapsed < Duration::from_secs(10), "{captured:?}");
}

#[test]
fn project_writes_files_and_runs_boss_in_its_directory() {
    let project = Project::new("project_writes_files");
    project.script("group(\"@GROUP@\");\n").file("www/index.html", "hello\n");
    assert_eq!(project.read("services.rhai"), Some(format!("group(\"{}\");\n", project.group())));
    assert_eq!(project.read("www/index.html").as_deref(), Some("hello\n"));
    assert_eq!(project.context(), None);

    // Whatever boss answers, the run must end, and its exit code must be captured.
    let output = project.boss(["--help"]).timeout(Duration::from_secs(30)).run();
    assert!(output.exit_code.is_some(), "{output}");

    let dir = project.dir().to_owned();
    drop(project);
    assert!(!dir.exists(), "{} is removed on drop", dir.display());
}

#[test]
fn free_port_can_be_bound() {
    let port = free_port();
    assert_ne!(port, 0);
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port is free");
}
