//! Reusing containers: a stopped container with the same definition is restarted without
//! `post_start`, and a running one is left alone.

use crate::common::{Project, container};

const SCRIPT: &str = r#"group("@GROUP@");

service(#{
    name: "web",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    post_start: || log("post-start-ran"),
});
"#;

#[test]
fn stopped_container_is_restarted_without_post_start() {
    let project = Project::new("reuse_stopped");
    project.script(SCRIPT);
    let group = project.group();

    project.run(["start"]).success().stderr_contains("web | post-start-ran");
    let first = container(group, "web").expect("`web` has a container");

    project.run(["stop"]).success();
    assert_eq!(container(group, "web").map(|row| row.state).as_deref(), Some("exited"));

    project
        .run(["start"])
        .success()
        .stderr_contains(&format!("web: restarting stopped container {group}.web"))
        .stderr_lacks("post-start-ran")
        .stderr_lacks("web: creating container");
    let second = container(group, "web").expect("`web` still has a container");
    assert_eq!(second.id, first.id, "the stopped container is reused");
    assert_eq!(second.state, "running");
}

#[test]
fn running_container_is_left_alone() {
    let project = Project::new("reuse_running");
    project.script(SCRIPT);
    let group = project.group();

    project.run(["start"]).success();
    let first = container(group, "web").expect("`web` has a container");

    project
        .run(["start"])
        .success()
        .stderr_contains(&format!("web: already running ({group}.web)"))
        .stderr_lacks("post-start-ran")
        .stderr_lacks("web: restarting")
        .stderr_lacks("web: creating container");
    let second = container(group, "web").expect("`web` still has a container");
    assert_eq!(second.id, first.id);
    assert_eq!(second.state, "running");
}
