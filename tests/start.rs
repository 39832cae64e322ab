//! `boss start` on healthy groups: dependency order, service names as hostnames on the group
//! network, and independent services starting in parallel.

use crate::common::{Project, container, containers, free_port, networks};

/// A serves a page from a mounted directory; b fetches it from `http://a:8080/` over the group
/// network and serves the copy; c only needs b. Each ping asks the server itself.
const CHAIN: &str = r#"group("@GROUP@");

service(#{
    name: "a",
    image: "@IMAGE@",
    cmd: ["httpd", "-f", "-p", "8080", "-h", "/www"],
    volumes: ["./www:/www:ro"],
    ports: #{ "8080": @PORT_A@ },
    stop_signal: "SIGKILL",
    ping: || http_get("http://127.0.0.1:@PORT_A@/").status == 200,
});

service(#{
    name: "b",
    image: "@IMAGE@",
    dependencies: ["a"],
    cmd: ["sh", "-c", "mkdir -p /srv && wget -q -O /srv/index.html http://a:8080/ && exec httpd -f -p 8080 -h /srv"],
    ports: #{ "8080": @PORT_B@ },
    stop_signal: "SIGKILL",
    ping: || http_get("http://127.0.0.1:@PORT_B@/").body.contains("hello from a"),
});

service(#{
    name: "c",
    image: "@IMAGE@",
    dependencies: ["b"],
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
});
"#;

#[test]
fn chain_starts_in_dependency_order_and_stops_in_reverse() {
    let project = Project::new("chain_order");
    let (port_a, port_b) = (free_port(), free_port());
    let script = CHAIN.replace("@PORT_A@", &port_a.to_string()).replace("@PORT_B@", &port_b.to_string());
    project.script(&script).file("www/index.html", "hello from a\n");
    let group = project.group().to_owned();

    let started = project.run(["start"]);
    started.success().stderr_contains(&format!("created network `boss-{group}`"));
    // Each service is created only after its dependency has started.
    started
        .lines_in_order("a: started in", "b: creating container")
        .lines_in_order("b: started in", "c: creating container")
        .lines_in_order("a: started in", "b: started in")
        .lines_in_order("b: started in", "c: started in");
    // b's ping only passes once b fetched a's page by the service name `a`.
    assert_eq!(networks(&group), [format!("boss-{group}")]);
    let rows = containers(&group);
    assert_eq!(rows.iter().map(|row| row.service.as_str()).collect::<Vec<_>>(), ["a", "b", "c"], "{rows:#?}");
    assert!(rows.iter().all(|row| row.state == "running"), "{rows:#?}");
    assert_eq!(rows[0].name, format!("{group}.a"));

    let stopped = project.run(["stop"]);
    stopped.success();
    // Each service is stopped only after its dependants have stopped.
    stopped.lines_in_order("c: stopped ", "b: stopping ").lines_in_order("b: stopped ", "a: stopping ");
    for service in ["a", "b", "c"] {
        let row = container(&group, service).unwrap_or_else(|| panic!("`{service}` keeps its container"));
        assert_eq!(row.state, "exited", "{row:?}");
    }
}

#[test]
fn independent_pings_run_at_the_same_time() {
    let project = Project::new("parallel_proof");
    // Each ping is ready only once the other ping has run at least once, so started one after
    // the other, the first would time out.
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "x",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    ping: |ctx| { ctx.x_pinged = true; "y_pinged" in ctx },
});

service(#{
    name: "y",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    ping: |ctx| { ctx.y_pinged = true; "x_pinged" in ctx },
});
"#,
    );

    project
        .run(["start", "--wait-timeout", "10"])
        .success()
        .stderr_contains("x: started in")
        .stderr_contains("y: started in");
    let group = project.group();
    for service in ["x", "y"] {
        assert_eq!(container(group, service).map(|row| row.state).as_deref(), Some("running"), "{service}");
    }
}
