//! `--exclude` on `start` and `stop`: the dependency rules, names that are trimmed, and
//! unknown names. A refused exclusion exits with 2 before Docker is touched.

use crate::common::{Project, container, containers, networks};

/// `db` <- `api` <- `web`.
const SCRIPT: &str = r#"group("@GROUP@");

service(#{
    name: "db",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
});

service(#{
    name: "api",
    image: "@IMAGE@",
    dependencies: ["db"],
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
});

service(#{
    name: "web",
    image: "@IMAGE@",
    dependencies: ["api"],
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
});
"#;

/// The state of each service's container (`None` when it has none), as `[db, api, web]`.
#[track_caller]
fn states(project: &Project) -> [Option<String>; 3] {
    ["db", "api", "web"].map(|service| container(project.group(), service).map(|row| row.state))
}

fn running() -> Option<String> {
    Some("running".to_owned())
}

fn exited() -> Option<String> {
    Some("exited".to_owned())
}

#[test]
fn start_refuses_to_exclude_a_needed_dependency_and_touches_nothing() {
    let project = Project::new("start_exclude_dependency");
    project.script(SCRIPT);

    project
        .run(["start", "--exclude", "db"])
        .code(2)
        .stderr_contains("error: cannot exclude `db`: `api` depends on it and would be started")
        .stderr_contains("hint: exclude `api` too")
        .stderr_lacks("created network");
    assert_eq!(networks(project.group()), Vec::<String>::new());
    assert_eq!(containers(project.group()), []);
    assert_eq!(project.context(), None);
}

#[test]
fn start_may_exclude_dependants_and_trims_names() {
    let project = Project::new("start_exclude_dependants");
    project.script(SCRIPT);

    project.run(["start", "--exclude", "api,web"]).success().stderr_lacks("api:").stderr_lacks("web:");
    assert_eq!(states(&project), [running(), None, None]);

    // A space after the comma, or around a repeated value, is not part of the name.
    project.run(["start", "--exclude", " web"]).success().stderr_contains("api: started in").stderr_lacks("web:");
    assert_eq!(states(&project), [running(), running(), None]);
}

#[test]
fn stop_may_exclude_a_dependency_of_what_it_stops() {
    let project = Project::new("stop_exclude_dependency");
    project.script(SCRIPT);
    project.run(["start"]).success();

    project.run(["stop", "--exclude", "db"]).success().stderr_lacks("db:");
    assert_eq!(states(&project), [running(), exited(), exited()]);
}

#[test]
fn stop_refuses_to_exclude_a_service_whose_dependency_would_stop() {
    let project = Project::new("stop_exclude_dependant");
    project.script(SCRIPT);
    project.run(["start"]).success();

    project
        .run(["stop", "--exclude", "api"])
        .code(2)
        .stderr_contains("error: cannot exclude `api`: it depends on `db`, which would be stopped")
        .stderr_contains("hint: exclude `db` too")
        .stderr_lacks("stopping");
    assert_eq!(states(&project), [running(), running(), running()]);

    // Excluding the dependency as well keeps both running.
    project.run(["stop", "--exclude", "api, db"]).success();
    assert_eq!(states(&project), [running(), running(), exited()]);
}

#[test]
fn unknown_excluded_names_are_refused_with_a_suggestion() {
    let project = Project::new("exclude_unknown");
    project.script(SCRIPT);

    for command in ["start", "stop"] {
        project
            .run([command, "--exclude", "dbb"])
            .code(2)
            .stderr_contains("error: cannot exclude unknown service `dbb`")
            .stderr_contains("hint: did you mean `db`?");
    }
    assert_eq!(networks(project.group()), Vec::<String>::new());
    assert_eq!(containers(project.group()), []);
}
