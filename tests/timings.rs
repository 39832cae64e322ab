//! `start --timings FILE`: the HTML timeline of a real start, read back through the JSON it
//! embeds: every phase of each service where it happened, the waits on dependencies, and the
//! slowest chain marked.

use serde_json::Value;

use crate::common::{Project, docker_required};

fn timeline(project: &Project, file: &str) -> Value {
    let page = project.read(file).expect("the timeline was written");
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<svg"), "a page with a chart: {page}");
    let data = page.split(r#"<script type="application/json" id="boss-timings">"#).nth(1).expect("its data");
    serde_json::from_str(data.split("</script>").next().unwrap()).unwrap()
}

fn row<'a>(timeline: &'a Value, service: &str) -> &'a Value {
    timeline["services"].as_array().unwrap().iter().find(|row| row["service"] == service).unwrap()
}

/// The phases of `service` after its wait (for a service without dependencies, the wait is
/// boss connecting and creating the network).
fn phases(timeline: &Value, service: &str) -> Vec<String> {
    let spans = row(timeline, service)["spans"].as_array().unwrap();
    spans.iter().map(|span| span["phase"].as_str().unwrap().to_string()).filter(|phase| phase != "waiting").collect()
}

#[test]
fn a_start_timeline_has_every_phase_and_the_slowest_chain() {
    docker_required();
    let project = Project::new("timings");
    project.file("api/Dockerfile", &project.expand("FROM @IMAGE@\nRUN sleep 1\nCMD [\"sleep\", \"3600\"]\n"));
    project.script(&format!(
        r#"group("@GROUP@");
service(#{{
    name: "db",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    pre_start: || sleep(200),
    ping: || true,
    post_start: |ctx| {{ sleep(200); ctx.token = "t"; }},
}});
service(#{{ name: "api", image: "{}-api:dev", build_from: "api", dependencies: ["db"], stop_signal: "SIGKILL" }});
service(#{{ name: "cache", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" }});
"#,
        project.group()
    ));
    project.run(["start", "--timings", "first.html"]).success().stderr_contains("timeline written to first.html");
    let first = timeline(&project, "first.html");
    assert_eq!(phases(&first, "db"), ["preparing", "pre_start", "create", "start", "ping", "post_start"], "{first:#}");
    let api = phases(&first, "api");
    assert!(
        api.contains(&"build".to_string()) && api.ends_with(&["create".to_string(), "start".to_string()]),
        "{api:?}"
    );
    assert_eq!(phases(&first, "cache"), ["preparing", "create", "start"], "no hooks, no wait: {first:#}");
    let waiting = &row(&first, "api")["spans"][0];
    assert_eq!(waiting["phase"], "waiting", "api waits for db: {first:#}");
    let db_spans = row(&first, "db")["spans"].as_array().unwrap();
    assert!(waiting["to_ms"].as_u64() >= db_spans.last().unwrap()["to_ms"].as_u64(), "api waits until db is up");
    assert_eq!(row(&first, "db")["critical"], true);
    assert_eq!(row(&first, "api")["critical"], true, "db → api is the slowest chain");
    assert_eq!(row(&first, "cache")["critical"], false);
    for service in ["db", "api", "cache"] {
        assert_eq!(row(&first, service)["outcome"], "started");
    }

    project.run(["stop", "--exclude", "cache"]).success();
    project.run(["start", "--timings", "second.html"]).success();
    let second = timeline(&project, "second.html");
    assert_eq!(phases(&second, "db"), ["preparing", "start", "ping"], "a restart: {second:#}");
    assert_eq!(phases(&second, "api"), ["preparing", "start"], "{second:#}");
    assert_eq!(row(&second, "cache")["outcome"], "kept");
}
