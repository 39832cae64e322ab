//! `boss status`: the state of every declared service and orphan, as a table or JSON on stdout,
//! exiting 0 only when every declared service runs. On the real engine: before a start, with
//! a service left out, all running, and with an exited, an outdated, a missing and an orphaned
//! container.

use serde_json::{Value, json};

use crate::common::{Project, container, docker};

fn script(x: &str, third: &str) -> String {
    format!(
        r#"group("@GROUP@");
service(#{{ name: "db", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL", ports: #{{ "80": 0 }} }});
service(#{{ name: "web", image: "@IMAGE@", dependencies: ["db"], cmd: ["sleep", "3600"], stop_signal: "SIGKILL", env: #{{ X: "{x}" }} }});
service(#{{ name: "{third}", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" }});
"#
    )
}

/// The JSON status, checking that it goes to stdout and that the exit code is `code`.
#[track_caller]
fn json_status(project: &Project, code: i32) -> Value {
    let output = project.run(["status", "--format", "json"]);
    output.code(code);
    serde_json::from_str(&output.stdout).unwrap_or_else(|error| panic!("not JSON ({error}):\n{output}"))
}

#[track_caller]
fn entry<'status>(status: &'status Value, name: &str) -> &'status Value {
    status["services"]
        .as_array()
        .expect("`services` is an array")
        .iter()
        .find(|service| service["name"] == name)
        .unwrap_or_else(|| panic!("no service `{name}` in {status:#}"))
}

#[test]
fn status_of_missing_running_exited_outdated_and_orphaned_services() {
    let project = Project::new("status_states");
    let group = project.group().to_owned();
    let image = project.expand("@IMAGE@");
    project.script(&script("1", "cache"));

    let before = json_status(&project, 1);
    assert_eq!(before["group"], group.as_str());
    assert_eq!(before["all_running"], false);
    assert_eq!(
        entry(&before, "db"),
        &json!({
            "name": "db", "orphan": false, "state": "missing", "exit_code": null, "container": null,
            "image": image, "ports": [], "health": null, "uptime": null, "outdated": null, "ready": null,
        })
    );

    project.run(["start", "--exclude", "cache"]).success();
    project.run(["status"]).code(1).stdout_contains("SERVICE  STATE").stdout_contains("cache    missing  -");
    project.run(["start"]).success();

    let running = json_status(&project, 0);
    assert_eq!(running["all_running"], true);
    assert_eq!(running["all_ready"], true);
    let db = entry(&running, "db");
    let db_container = container(&group, "db").expect("db has a container");
    let published = docker(["port", &db_container.id, "80/tcp"]);
    let host_port: u16 = published.lines().next().unwrap().rsplit(':').next().unwrap().trim().parse().unwrap();
    assert_eq!(db["state"], "running");
    assert_eq!(db["container"]["name"], format!("{group}.db"));
    assert!(db["container"]["id"].as_str().unwrap().starts_with(&db_container.id), "{db:#}");
    assert_eq!(
        db["ports"],
        json!([{
            "container_port": 80, "protocol": "tcp", "host": "127.0.0.1", "host_port": host_port,
            "url": format!("http://127.0.0.1:{host_port}"),
        }])
    );
    assert!(db["uptime"].as_str().is_some_and(|uptime| !uptime.is_empty()), "{db:#}");
    assert_eq!(db["health"], Value::Null, "the fixture has no HEALTHCHECK");
    assert_eq!(db["outdated"], Value::Null);
    assert_eq!(db["ready"], true, "its readiness passed, as recorded");
    project
        .run(["status"])
        .success()
        .stdout_contains(&format!("db       running  yes    {group}.db"))
        .stdout_contains(&format!("http://127.0.0.1:{host_port}"));

    // web exits, its env changes, and `cache` is renamed `store`.
    docker(["stop", &container(&group, "web").unwrap().id]);
    project.script(&script("2", "store"));
    let changed = json_status(&project, 1);
    let web = entry(&changed, "web");
    assert_eq!((&web["state"], &web["exit_code"]), (&json!("exited"), &json!(137)), "{web:#}");
    assert_eq!(web["outdated"], "env `X` changed");
    assert_eq!((&web["uptime"], &web["ports"]), (&Value::Null, &json!([])));
    assert_eq!(web["ready"], Value::Null, "only a running container has a readiness");
    assert_eq!(entry(&changed, "store")["state"], "missing");
    let cache = entry(&changed, "cache");
    assert_eq!((&cache["orphan"], &cache["state"]), (&json!(true), &json!("running")));
    assert_eq!(cache["ready"], Value::Null, "an orphan's readiness is not shown");
    let names: Vec<&str> =
        changed["services"].as_array().unwrap().iter().map(|service| service["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["db", "web", "store", "cache"], "declared services in script order, then orphans");
    project
        .run(["status"])
        .code(1)
        .stdout_contains("exited (137)")
        .stdout_contains("outdated: env `X` changed")
        .stdout_contains("orphan: the script no longer declares this service; `boss stop` stops it");
}
