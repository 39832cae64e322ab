//! Groups do not interfere: two groups run side by side and stopping or reloading one leaves
//! the other alone, and a script in another directory that declares an existing group's
//! name is refused instead of taking that group over.

use std::collections::BTreeMap;

use crate::common::{Project, SCRIPT_FILE, containers, networks};

/// A group with a plain service `db` and a service `app` built from `./app`.
const SCRIPT: &str = r#"group("@GROUP@");

service(#{
    name: "db",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
});

service(#{
    name: "app",
    image: "@GROUP@-app:dev",
    build_from: "./app",
    dependencies: ["db"],
    stop_signal: "SIGKILL",
});
"#;

/// A project whose script is [`SCRIPT`] with `group` as its group name.
fn project_with_group(test_name: &str, group: Option<&str>) -> Project {
    let project = Project::new(test_name);
    let script = match group {
        Some(group) => SCRIPT.replace("@GROUP@", group),
        None => SCRIPT.to_owned(),
    };
    project.file(SCRIPT_FILE, &project.expand(&script));
    project.file("app/Dockerfile", &project.expand("FROM @IMAGE@\nCOPY . /app\nCMD [\"sleep\", \"3600\"]\n"));
    project
}

/// Each service's container id and state in `group`.
fn snapshot(group: &str) -> BTreeMap<String, (String, String)> {
    containers(group).into_iter().map(|row| (row.service, (row.id, row.state))).collect()
}

#[track_caller]
fn assert_all_running(group: &str) -> BTreeMap<String, (String, String)> {
    let rows = snapshot(group);
    assert_eq!(rows.keys().collect::<Vec<_>>(), ["app", "db"], "{rows:#?}");
    assert!(rows.values().all(|(_, state)| state == "running"), "{rows:#?}");
    rows
}

#[test]
fn stopping_or_reloading_one_group_leaves_the_other_running() {
    let first = project_with_group("isolation_first", None);
    let second = project_with_group("isolation_second", None);
    first.run(["start"]).success();
    second.run(["start"]).success();
    let first_before = assert_all_running(first.group());
    let second_before = assert_all_running(second.group());

    first.file("app/version.txt", "v2\n");
    first.run(["reload", "app"]).success().stderr_contains("app: recreating: reloading");
    let first_after = assert_all_running(first.group());
    assert_ne!(first_after["app"], first_before["app"], "the reloaded group's app is new");
    assert_eq!(snapshot(second.group()), second_before, "reloading one group leaves the other alone");

    first.run(["stop", "--remove"]).success().stderr_contains("removed network");
    assert_eq!(snapshot(first.group()), BTreeMap::new());
    assert_eq!(snapshot(second.group()), second_before, "stopping one group leaves the other alone");
    let group = second.group();
    assert_eq!(networks(group), [format!("boss-{group}")], "the other group's network stays");
}

#[test]
fn a_script_in_another_directory_cannot_take_over_a_group() {
    let owner = project_with_group("isolation_owner", None);
    owner.run(["start"]).success();
    let before = assert_all_running(owner.group());

    // The intruder declares the owner's group, so whatever it might create is labelled with
    // that group and removed by the owner's guard.
    let intruder = project_with_group("isolation_intruder", Some(owner.group()));
    // boss records the canonical directory, which differs from the temporary path when that
    // goes through a symlink.
    let owner_dir = std::fs::canonicalize(owner.dir()).expect("the owner's directory exists");
    let claimed = format!("error: group `{}` belongs to the script in `{}`", owner.group(), owner_dir.display());
    for command in [&["start"][..], &["stop", "--remove"], &["reload", "app"]] {
        intruder
            .run(command)
            .code(2)
            .stderr_contains(&claimed)
            .stderr_lacks("building image")
            .stderr_lacks("stopping")
            .stderr_lacks("creating container");
        assert_eq!(snapshot(owner.group()), before, "`boss {}` touched the owner's group", command.join(" "));
    }
    assert_eq!(containers(intruder.group()), [], "the intruder created nothing of its own");
    assert_eq!(intruder.context(), None, "the refused commands wrote no context");

    // The owner still controls its group.
    owner.run(["stop", "--remove"]).success();
    assert_eq!(snapshot(owner.group()), BTreeMap::new());
}
