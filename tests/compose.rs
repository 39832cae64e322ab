//! `compose(path, overrides)` and `hooks(name, #{...})`: a compose file written for the test
//! (YAML anchors and `<<`, `${VAR:-default}`, short and long ports, a healthcheck waited for
//! with `service_healthy`, a `service_completed_successfully` job, a named volume) started by
//! the real engine through `boss start`. A value with braces stays literal (boss fills `{key}`
//! only in its own scripts).

use crate::common::{Project, container, container_env, docker, free_port};

/// `db` becomes healthy a second after it starts (the marker in the shared volume);
/// `migrate` fails unless `db` is healthy, `web` fails unless `migrate` ran: both only start
/// in the right order.
const COMPOSE: &str = r#"
x-base: &base
  image: @IMAGE@
  stop_signal: SIGKILL
  volumes:
    - shared:/shared
services:
  db:
    <<: *base
    command: ["sh", "-c", "rm -f /shared/*; sleep 1; touch /shared/db-ready; exec sleep 3600"]
    ports: ["@PORT@:80"]
    healthcheck:
      test: ["CMD", "test", "-f", "/shared/db-ready"]
      interval: 1s
      retries: 30
  migrate:
    <<: *base
    command: ["sh", "-c", "test -f /shared/db-ready && touch /shared/migrated"]
    depends_on:
      db: { condition: service_healthy }
  web:
    <<: *base
    command: ["sh", "-c", "test -f /shared/migrated && exec sleep 3600"]
    environment:
      GREETING: ${GREETING:-hello}
      MODE: ${COMPOSE_TEST_MODE}
      JSON: '{"a": 1}'
    ports:
      - target: 81
        published: "0"
    depends_on:
      migrate: { condition: service_completed_successfully }
volumes:
  shared: {}
"#;

fn compose_project(name: &str, script: &str) -> (Project, u16) {
    let project = Project::new(name);
    let port = free_port();
    project.file("docker-compose.yml", &project.expand(COMPOSE).replace("@PORT@", &port.to_string()));
    project.script(script);
    (project, port)
}

fn host_port(id: &str, port: &str) -> u16 {
    let line = docker(["port", id, port]);
    line.lines().next().unwrap().rsplit(':').next().unwrap().trim().parse().unwrap()
}

#[test]
fn a_compose_file_starts_in_dependency_order() {
    let (project, port) = compose_project("compose_file", "group(\"@GROUP@\");\ncompose(\"docker-compose.yml\");\n");
    let output = project.boss(["start", "--wait-timeout", "60"]).env("COMPOSE_TEST_MODE", "test").run();
    output.success();
    let db = container(project.group(), "db").expect("db runs");
    let web = container(project.group(), "web").expect("web runs");
    assert_eq!(web.state, "running", "{output}");
    let migrate = container(project.group(), "migrate").expect("the job's container is kept");
    assert_eq!(migrate.state, "exited", "{output}");
    let env = container_env(&web.id);
    assert!(env.contains(&"GREETING=hello".to_string()), "{env:?}");
    assert!(env.contains(&"MODE=test".to_string()), "{env:?}");
    assert!(env.contains(&"JSON={\"a\": 1}".to_string()), "compose values are literal: {env:?}");
    assert_eq!(host_port(&db.id, "80/tcp"), port);
    assert_ne!(host_port(&web.id, "81/tcp"), 0);
}

#[test]
fn overrides_publish_random_ports_and_hooks_run() {
    let script = r#"group("@GROUP@");
compose("docker-compose.yml", #{ random_ports: true });
hooks("web", #{ post_start: |ctx| { ctx.web_db_port = port("db", 80); log("web is up"); } });
"#;
    let (project, port) = compose_project("compose_overrides", script);
    let output = project.boss(["start", "--wait-timeout", "60"]).env("COMPOSE_TEST_MODE", "x").run();
    output.success().stderr_contains("web | web is up");
    let db = container(project.group(), "db").expect("db runs");
    let published = host_port(&db.id, "80/tcp");
    assert_ne!(published, port, "random_ports leaves no fixed host port");
    let context: serde_json::Value = serde_json::from_str(&project.context().expect("a context")).unwrap();
    assert_eq!(context["db_port_80"], published);
    assert_eq!(context["web_db_port"], published);
}

#[test]
fn a_compose_error_points_at_its_line() {
    let project = Project::new("compose_error");
    project.file(
        "docker-compose.yml",
        "secrets:\n  pw:\n    file: ./pw.txt\nservices:\n  web:\n    image: busybox\n    secrets: [pw]\n",
    );
    project.script("compose(\"docker-compose.yml\");\n");
    let output = project.run(["start"]);
    output.code(2);
    let stderr = output.stderr.replace(&project.dir().display().to_string(), "<dir>");
    let expected = "error: unsupported key `secrets` in service `web`
 --> <dir>/docker-compose.yml:7:15
  |
7 |     secrets: [pw]
  |               ^
hint: `compose()` does not map this key yet; remove it and declare the equivalent in the script
";
    assert_eq!(stderr, expected);
    assert!(crate::common::containers(project.group()).is_empty(), "nothing started");
}

#[test]
fn warnings_about_the_compose_file_are_shown_with_their_line() {
    let project = Project::new("compose_warning");
    project.file(
        "docker-compose.yml",
        &project.expand(
            "services:\n  web:\n    image: @IMAGE@\n    container_name: web\n    command: [\"sleep\", \"3600\"]\n",
        ),
    );
    project.script("group(\"@GROUP@\");\ncompose(\"docker-compose.yml\");\n");
    let output = project.run(["start"]);
    output.success();
    let stderr = output.stderr.replace(&project.dir().display().to_string(), "<dir>");
    let expected = "warning: ignoring `container_name` in service `web`
 --> <dir>/docker-compose.yml:4:5
  |
4 |     container_name: web
  |     ^
note: boss names containers `<group>.<service>`
";
    assert!(stderr.starts_with(expected), "{stderr}");
    assert_eq!(stderr.matches("warning:").count(), 1, "{stderr}");
}

#[test]
fn env_files_and_profiles_of_a_compose_file_reach_the_engine() {
    let project = Project::new("compose_profiles");
    project.file("web.env", "FROM_FILE=yes\nBOTH=from-file\n");
    project.file(
        "docker-compose.yml",
        &project.expand(
            "services:\n  web:\n    image: @IMAGE@\n    command: [\"sleep\", \"3600\"]\n    stop_signal: SIGKILL\n    env_file: [web.env]\n    environment: { BOTH: from-environment }\n  debug:\n    image: @IMAGE@\n    command: [\"sleep\", \"3600\"]\n    stop_signal: SIGKILL\n    profiles: [debug]\n",
        ),
    );
    project.script("group(\"@GROUP@\");\ncompose(\"docker-compose.yml\");\n");

    project.run(["start"]).success();
    let web = container(project.group(), "web").expect("web runs");
    let env = container_env(&web.id);
    assert!(env.contains(&"FROM_FILE=yes".to_string()), "{env:?}");
    assert!(env.contains(&"BOTH=from-environment".to_string()), "environment beats env_file: {env:?}");
    assert!(container(project.group(), "debug").is_none(), "an inactive profile's service is not started");

    project.run(["start", "--profile", "debug"]).success();
    let debug = container(project.group(), "debug").expect("the debug profile starts debug");
    assert_eq!(debug.state, "running");
}
