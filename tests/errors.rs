//! Errors raised before any service starts: an unreachable Docker daemon (exit 3) and an
//! invalid script (exit 2, pointing at the mistake, with nothing created).

use std::os::unix::net::UnixListener;

use crate::common::{Project, containers, free_port, networks};

/// A valid script whose image is never needed: these runs end before any Docker call that
/// would use it.
const VALID: &str = r#"group("@GROUP@");

service(#{ name: "web", image: "boss-test-never-pulled:1" });
"#;

/// Runs `boss start` and `boss stop` against `docker_host` and checks that each says Docker
/// is unreachable there, with exit code 3 and no panic.
#[track_caller]
fn assert_unreachable(project: &Project, docker_host: &str) {
    for command in ["start", "stop"] {
        project
            .boss([command])
            .env("DOCKER_HOST", docker_host)
            .run()
            .code(3)
            .stderr_contains(&format!("cannot reach Docker at `{docker_host}`"))
            .stderr_contains("caused by: ")
            .stderr_lacks("panicked")
            .stderr_lacks("RUST_BACKTRACE");
    }
    assert_eq!(project.context(), None, "no context file is written");
}

#[test]
fn missing_docker_socket_exits_with_3() {
    let project = Project::new("docker_missing_socket");
    project.script(VALID);
    let socket = format!("unix:///tmp/nonexistent-{}.sock", project.group());
    assert_unreachable(&project, &socket);
}

#[test]
fn dead_docker_socket_exits_with_3() {
    let project = Project::new("docker_dead_socket");
    project.script(VALID);
    // A socket file nobody listens on any more: connecting is refused.
    let path = project.path("dead.sock");
    drop(UnixListener::bind(&path).expect("bind a unix socket"));
    assert!(path.exists());
    assert_unreachable(&project, &format!("unix://{}", path.display()));
}

#[test]
fn closed_docker_tcp_port_exits_with_3() {
    let project = Project::new("docker_closed_port");
    project.script(VALID);
    assert_unreachable(&project, &format!("tcp://127.0.0.1:{}", free_port()));
}

#[test]
fn unknown_field_is_refused_with_its_position_and_nothing_is_created() {
    let project = Project::new("invalid_script");
    // `prots` is on line 6, column 5.
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "web",
    image: "@IMAGE@",
    prots: #{ "8080": 8080 },
});
"#,
    );

    project
        .run(["start"])
        .code(2)
        .stderr_contains("error: unknown field `prots`")
        .stderr_contains("services.rhai:6:5")
        .stderr_contains("prots: #{ \"8080\": 8080 },")
        .stderr_contains("hint: did you mean `ports`?")
        .stderr_lacks("created network");
    assert_eq!(networks(project.group()), Vec::<String>::new());
    assert_eq!(containers(project.group()), []);
    assert_eq!(project.context(), None);
}

#[test]
fn syntax_error_is_refused_with_its_position_and_nothing_is_created() {
    let project = Project::new("syntax_error");
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "web",
    image: "@IMAGE@"
    cmd: ["sleep", "3600"],
});
"#,
    );

    project.run(["start"]).code(2).stderr_contains("error: syntax error").stderr_contains("services.rhai:6:");
    assert_eq!(networks(project.group()), Vec::<String>::new());
    assert_eq!(containers(project.group()), []);
    assert_eq!(project.context(), None);
}
