//! `--progress`: the summary's slowest chain in plain output, and `--progress json`, whose
//! every stdout line is one versioned JSON event (the fields of each kind are checked against
//! the README's table by a unit test in `src/output/json.rs`).

use serde_json::Value;

use crate::common::{Output, Project};

const TWO_SERVICES: &str = r#"group("@GROUP@");

service(#{
    name: "db",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    post_start: |ctx| { log("seeded"); },
});

service(#{
    name: "web",
    image: "@IMAGE@",
    dependencies: ["db"],
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
});
"#;

/// Every stdout line as JSON, each checked for `v`, `time` and `kind`.
#[track_caller]
fn json_lines(output: &Output) -> Vec<Value> {
    assert!(!output.stdout.is_empty(), "expected JSON lines on stdout\n{output}");
    output
        .stdout
        .lines()
        .map(|line| {
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}\n{output}"));
            assert_eq!(value["v"], 1, "{line}");
            assert!(value["time"].as_str().is_some_and(|time| humantime::parse_rfc3339(time).is_ok()), "{line}");
            assert!(value["kind"].is_string(), "{line}");
            value
        })
        .collect()
}

/// The `service` lines of `service` with `change`.
fn changes<'a>(lines: &'a [Value], service: &str, change: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|line| line["kind"] == "service" && line["service"] == service && line["change"] == change)
        .collect()
}

#[test]
fn progress_json_start_then_stop_writes_only_json_lines_to_stdout() {
    let project = Project::new("progress_json");
    project.script(TWO_SERVICES);
    let group = project.group();

    let start = project.run(["start", "--progress", "json"]);
    start.success();
    assert_eq!(start.stderr, "", "nothing but JSON, on stdout\n{start}");
    let lines = json_lines(&start);
    assert!(lines.iter().any(|line| line["kind"] == "network" && line["created"] == true), "{start}");
    for service in ["db", "web"] {
        let started = changes(&lines, service, "started");
        assert_eq!(started.len(), 1, "{service} started once\n{start}");
        assert!(started[0]["elapsed_ms"].is_u64(), "{start}");
    }
    let log = changes(&lines, "db", "log");
    assert_eq!(log[0]["message"], "seeded", "{start}");
    assert_eq!(log[0]["text"], "db | seeded", "{start}");
    let creating = changes(&lines, "web", "creating");
    assert_eq!(creating[0]["container"], format!("{group}.web"), "{start}");
    let summary = lines.last().unwrap();
    assert_eq!(summary["kind"], "summary", "{start}");
    assert_eq!(summary["command"], "start");
    assert_eq!(summary["services"], serde_json::json!(["db", "web"]));
    let chain: Vec<&Value> = summary["critical_path"].as_array().unwrap().iter().map(|link| &link["service"]).collect();
    assert_eq!(chain, ["db", "web"], "{start}");
    assert!(summary["text"].as_str().unwrap().contains("slowest chain db ("), "{start}");

    let stop = project.run(["stop", "--remove", "--progress", "json"]);
    stop.success();
    assert_eq!(stop.stderr, "", "{stop}");
    let lines = json_lines(&stop);
    assert_eq!(changes(&lines, "web", "removed").len(), 1, "{stop}");
    assert!(lines.iter().any(|line| line["kind"] == "network_removed"), "{stop}");
    let summary = lines.last().unwrap();
    assert_eq!(summary["kind"], "summary", "{stop}");
    assert_eq!(summary["command"], "stop");
    assert_eq!(summary["services"], serde_json::json!(["web", "db"]));
}

#[test]
fn progress_json_ends_a_failed_start_with_its_error() {
    let project = Project::new("progress_json_error");
    project.script(
        r#"group("@GROUP@");

service(#{ name: "broken", image: "@IMAGE@", cmd: ["sh", "-c", "echo cannot start; exit 3"] });
"#,
    );
    let start = project.run(["start", "--progress", "json"]);
    start.code(1);
    assert_eq!(start.stderr, "", "{start}");
    let lines = json_lines(&start);
    let failed = changes(&lines, "broken", "failed");
    assert_eq!(failed[0]["error"]["kind"], "container_exited", "{start}");
    assert!(failed[0]["error"]["message"].as_str().unwrap().contains("cannot start"), "{start}");
    let [.., summary, error] = lines.as_slice() else { panic!("expected a summary and an error\n{start}") };
    assert_eq!(summary["kind"], "summary", "{start}");
    assert_eq!(summary["failed"], serde_json::json!(["broken"]));
    assert_eq!(error["kind"], "error", "{start}");
    assert_eq!(error["exit_code"], 1);
    assert_eq!(error["message"], "error: failed to start 1 service: `broken`", "{start}");
}

#[test]
fn progress_plain_summary_names_the_slowest_chain() {
    let project = Project::new("progress_plain");
    project.script(TWO_SERVICES);
    let start = project.run(["start"]);
    start
        .success()
        .stderr_contains("db | seeded")
        .stderr_contains("2 services up in ")
        .stderr_contains("`db` and `web`; slowest chain db (");
    assert!(start.stderr.contains(" s) → web ("), "{start}");
    assert_eq!(start.stdout, "", "{start}");
    // A second start starts nothing: every service was running, so there is no chain.
    let again = project.run(["start", "--progress", "plain"]);
    again.success().stderr_contains("2 services up in ").stderr_lacks("slowest chain");
}
