//! Readiness helpers and service handles on the real engine: a random host port used by
//! `ping` and by a dependant's env, `exec`-based readiness and `exec` results, a banner in the
//! output (and not the banner of a previous run), a Docker HEALTHCHECK, a TCP connect to a
//! container's own address, and the safety limits that turn runaway hooks into errors.

use std::time::Duration;

use crate::common::{Project, container, container_env, containers, docker, inspect};

/// The published host port of `container_port/tcp` of the container `id`, as `docker port`
/// reports it.
#[track_caller]
fn published_port(id: &str, container_port: u16) -> u16 {
    let stdout = docker(["port", id, &format!("{container_port}/tcp")]);
    let first = stdout.lines().next().unwrap_or_else(|| panic!("`docker port` printed nothing for {id}"));
    let (_, port) = first.rsplit_once(':').unwrap_or_else(|| panic!("unexpected `docker port` line {first:?}"));
    port.parse().unwrap_or_else(|_| panic!("unexpected `docker port` line {first:?}"))
}

/// The saved context as JSON.
#[track_caller]
fn saved_context(project: &Project) -> serde_json::Value {
    let text = project.context().expect("the context file is written");
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("the context is not JSON ({error}):\n{text}"))
}

/// Asserts that boss reported an error in its own words: no Rust panic, no crash.
#[track_caller]
fn assert_no_crash(output: &crate::common::Output) {
    output.stderr_lacks("panicked").stderr_lacks("RUST_BACKTRACE").stderr_lacks("stack overflow");
}

#[test]
fn random_host_port_reaches_ping_and_a_dependants_env() {
    let project = Project::new("random_port");
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "web",
    image: "@IMAGE@",
    cmd: ["sh", "-c", "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www"],
    ports: #{ "8080": 0 },
    stop_signal: "SIGKILL",
    ping: || http_ready(`http://127.0.0.1:${port(8080)}/`, #{ body: "hello-from-web" }),
});

service(#{
    name: "client",
    image: "@IMAGE@",
    dependencies: ["web"],
    cmd: ["sleep", "3600"],
    env: #{ WEB_PORT: "{web_port_8080}" },
    stop_signal: "SIGKILL",
    post_start: |ctx| log(`web-port-from-client=${port("web", "8080")} ctx=${ctx.web_port_8080}`),
});
"#,
    );

    let output = project.run(["start", "--wait-timeout", "20"]);
    output.success().stderr_contains("web: started in").stderr_contains("client: started in");

    let group = project.group();
    let web = container(group, "web").expect("`web` has a container");
    let host_port = published_port(&web.id, 8080);
    assert_ne!(host_port, 0);
    assert_ne!(host_port, 8080, "Docker chose the port; 8080 would be a suspicious coincidence");

    let client = container(group, "client").expect("`client` has a container");
    let env = container_env(&client.id);
    assert!(
        env.contains(&format!("WEB_PORT={host_port}")),
        "the dependant got the published port {host_port}: {env:?}"
    );

    output.stderr_contains(&format!("client | web-port-from-client={host_port} ctx={host_port}"));
    assert_eq!(saved_context(&project)["web_port_8080"], serde_json::json!(host_port));
}

#[test]
fn exec_based_readiness_waits_and_exec_returns_code_and_output() {
    let project = Project::new("exec_ready");
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "app",
    image: "@IMAGE@",
    cmd: ["sh", "-c", "mkdir -p /tmp; sleep 1; echo ready-at-last > /tmp/ready; exec sleep 3600"],
    stop_signal: "SIGKILL",
    ping: |ctx| {
        ctx.pings = if "pings" in ctx { ctx.pings + 1 } else { 1 };
        exec_ok("test -f /tmp/ready")
    },
    post_start: || {
        let result = exec(["sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3"]);
        let out = result.stdout;
        out.trim();
        let err = result.stderr;
        err.trim();
        log(`code=${result.code} ok=${result.ok} stdout=[${out}] stderr=[${err}]`);
        let named = exec("app", "cat /tmp/ready");
        log(`named code=${named.code} ok=${named.ok} stdout=${named.stdout}`);
        log(`exec_ok false=${exec_ok("app", ["false"])}`);
    },
});
"#,
    );

    let output = project.run(["start", "--wait-timeout", "20"]);
    output
        .success()
        .stderr_contains("app: pinging")
        .stderr_contains("app | code=3 ok=false stdout=[to-stdout] stderr=[to-stderr]")
        .stderr_contains("app | named code=0 ok=true stdout=ready-at-last")
        .stderr_contains("app | exec_ok false=false")
        .lines_in_order("app: pinging", "app | code=3")
        .lines_in_order("app | exec_ok false=false", "app: started in");
    assert!(output.elapsed >= Duration::from_secs(1), "the file appears after 1 s\n{output}");

    // The ping ran until the file appeared, not just once.
    let pings = saved_context(&project)["pings"].as_i64().expect("`pings` is a number");
    assert!(pings > 1, "ping was called {pings} times\n{output}");
    let app = container(project.group(), "app").expect("`app` has a container");
    assert_eq!(app.state, "running");
}

/// `web` prints `READY-BANNER` a second after it starts, unless `./data/quiet` exists on the
/// host, in which case it prints `QUIET-RUN` instead.
const BANNER_SCRIPT: &str = r#"group("@GROUP@");

service(#{
    name: "web",
    image: "@IMAGE@",
    cmd: ["sh", "-c", "sleep 1; if [ -f /data/quiet ]; then echo QUIET-RUN; else echo READY-BANNER; fi; exec sleep 3600"],
    volumes: ["./data:/data"],
    stop_signal: "SIGKILL",
    ping: || wait_for_log("READY-BANNER"),
});
"#;

#[test]
fn banner_readiness_waits_for_the_banner_of_the_current_run() {
    let project = Project::new("banner_ready");
    project.script(BANNER_SCRIPT).file("data/.keep", "");
    let group = project.group();

    let first = project.run(["start", "--wait-timeout", "20"]);
    first.success().stderr_contains("web: pinging").stderr_contains("web: started in");
    assert!(first.elapsed >= Duration::from_secs(1), "the banner comes after 1 s\n{first}");
    let container_id = container(group, "web").expect("`web` has a container").id;
    assert!(docker(["logs", &container_id]).contains("READY-BANNER"));

    project.run(["stop"]).success();
    assert_eq!(container(group, "web").map(|row| row.state).as_deref(), Some("exited"));

    // The restarted container keeps its old log, which holds the first run's banner; this run
    // prints none, so a ping that looked at the old log would pass.
    project.file("data/quiet", "");
    let second = project.run(["start", "--wait-timeout", "4"]);
    second
        .code(1)
        .stderr_contains(&format!("web: restarting stopped container {group}.web"))
        .stderr_contains("web: failed: `ping` did not return true within 4 s")
        .stderr_lacks("web: started in");
    assert_no_crash(&second);
    // This run did not create it, so it is stopped, not removed (issue 7).
    let kept = container(group, "web").expect("the restarted container is kept");
    assert_eq!((kept.id, kept.state.as_str()), (container_id, "exited"));
}

#[test]
fn banner_printed_after_a_restart_is_seen() {
    let project = Project::new("banner_restart");
    project.script(BANNER_SCRIPT).file("data/.keep", "");
    let group = project.group();

    project.run(["start", "--wait-timeout", "20"]).success();
    let first = container(group, "web").expect("`web` has a container");
    project.run(["stop"]).success();

    let second = project.run(["start", "--wait-timeout", "20"]);
    second
        .success()
        .stderr_contains(&format!("web: restarting stopped container {group}.web"))
        .stderr_contains("web: started in");
    assert!(second.elapsed >= Duration::from_secs(1), "the new banner comes after 1 s\n{second}");
    assert_eq!(container(group, "web").expect("`web` has a container").id, first.id, "the container is reused");
    assert_eq!(docker(["logs", &first.id]).matches("READY-BANNER").count(), 2, "one banner per run");
}

#[test]
fn healthcheck_readiness_waits_for_healthy() {
    let project = Project::new("healthcheck");
    project
        .script(
            r#"group("@GROUP@");

service(#{
    name: "checked",
    image: "@GROUP@-checked:dev",
    build_from: "./checked",
    stop_signal: "SIGKILL",
    ping: |ctx| {
        if !("health_at_first_ping" in ctx) { ctx.health_at_first_ping = health(); }
        wait_healthy()
    },
    post_start: || log(`health=${health()} named=${health("checked")}`),
});
"#,
        )
        .file(
            "checked/Dockerfile",
            &project.expand(
                r#"FROM @IMAGE@
HEALTHCHECK --interval=1s --timeout=1s --retries=30 CMD ["test", "-f", "/tmp/healthy"]
CMD ["sh", "-c", "mkdir -p /tmp; sleep 2; touch /tmp/healthy; exec sleep 3600"]
"#,
            ),
        );

    let output = project.run(["start", "--wait-timeout", "30"]);
    output.success().stderr_contains("checked | health=healthy named=healthy").stderr_contains("checked: started in");
    assert_eq!(saved_context(&project)["health_at_first_ping"], "starting", "{output}");
    let checked = container(project.group(), "checked").expect("`checked` has a container");
    assert_eq!(inspect(&checked.id, "{{.State.Health.Status}}"), "healthy");
}

#[test]
fn wait_healthy_without_a_healthcheck_is_an_error() {
    let project = Project::new("no_healthcheck");
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "plain",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    ping: || wait_healthy(),
});
"#,
    );

    let output = project.run(["start", "--wait-timeout", "20"]);
    output
        .code(1)
        .stderr_contains("plain: failed: hook `ping` failed: service `plain` has no HEALTHCHECK")
        .stderr_contains("services.rhai:8:14")
        .stderr_contains("ping: || wait_healthy(),");
    assert_no_crash(&output);
    assert!(output.elapsed < Duration::from_secs(10), "an error in ping fails at once\n{output}");
    assert_eq!(containers(project.group()), []);
}

#[test]
fn tcp_ready_connects_to_the_containers_own_address() {
    let project = Project::new("tcp_ready");
    // `db` publishes no port and listens only after a second: only a connect to its address
    // on the group network can succeed, and only once the server is up.
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "db",
    image: "@IMAGE@",
    cmd: ["sh", "-c", "sleep 1; exec httpd -f -p 9000 -h /"],
    stop_signal: "SIGKILL",
    ping: |ctx| {
        ctx.db_pings = if "db_pings" in ctx { ctx.db_pings + 1 } else { 1 };
        tcp_ready(9000)
    },
});

service(#{
    name: "app",
    image: "@IMAGE@",
    dependencies: ["db"],
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    ping: || tcp_ready("db", 9000),
    post_start: || log(`db-address=${address("db")} closed=${tcp_ready("db", 9001)}`),
});
"#,
    );

    let output = project.run(["start", "--wait-timeout", "20"]);
    output.success().stderr_contains("db: started in").stderr_contains("app: started in");
    let db = container(project.group(), "db").expect("`db` has a container");
    let network = format!("boss-{}", project.group());
    let address = inspect(&db.id, &format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}"));
    assert!(!address.is_empty(), "`db` has an address on {network}");
    output.stderr_contains(&format!("app | db-address={address} closed=false"));
    let pings = saved_context(&project)["db_pings"].as_i64().expect("`db_pings` is a number");
    assert!(pings > 1, "tcp_ready was false until the server listened, but ping ran {pings} time(s)\n{output}");
}

#[test]
fn endless_ping_is_cut_off_by_its_time_limit() {
    let project = Project::new("endless_ping");
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "spinner",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    ping: || {
        loop { }
    },
});
"#,
    );

    let output = project.run(["start", "--wait-timeout", "2"]);
    output
        .code(1)
        .stderr_contains(
            "spinner: failed: hook `ping` failed: ran past its time limit of 2 s (`--wait-timeout`) and was cut off",
        )
        // The loop has no position of its own when it is cut off; the hook's line is shown.
        .stderr_contains("services.rhai:8:5")
        .stderr_contains("ping: || {")
        .stderr_contains("error: failed to start 1 service: `spinner`");
    assert_no_crash(&output);
    assert!(output.elapsed < Duration::from_secs(8), "the loop was not cut off at 2 s\n{output}");
    assert_eq!(containers(project.group()), [], "the container is removed");
}

/// A service whose `post_start` runs `body`, for the runaway-script tests.
fn post_start_script(body: &str) -> String {
    format!(
        r#"group("@GROUP@");

fn deeper(n) {{
    deeper(n + 1)
}}

service(#{{
    name: "runaway",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    post_start: || {{
        {body}
    }},
}});
"#
    )
}

/// Starts a project whose `post_start` runs `body` and checks that it fails cleanly with
/// `message`, pointing at the hook: Rhai keeps no position of its own for these errors.
#[track_caller]
fn assert_runaway_fails(name: &str, body: &str, message: &str) {
    let project = Project::new(name);
    project.script(&post_start_script(body));
    let output = project.run(["start", "--wait-timeout", "20"]);
    output
        .code(1)
        .stderr_contains(&format!("runaway: failed: hook `post_start` failed: {message}"))
        .stderr_contains("services.rhai:12:5")
        .stderr_contains("post_start: || {")
        .stderr_contains("error: failed to start 1 service: `runaway`");
    assert_no_crash(&output);
    assert!(output.elapsed < Duration::from_secs(15), "{output}");
    assert_eq!(containers(project.group()), [], "the container is removed");
}

#[test]
fn runaway_recursion_is_an_error() {
    assert_runaway_fails("runaway_recursion", "deeper(0);", "Stack overflow");
}

#[test]
fn giant_string_is_an_error() {
    assert_runaway_fails("giant_string", r#"let s = "x"; loop { s += s; }"#, "Length of string too large");
}

#[test]
fn giant_array_is_an_error() {
    assert_runaway_fails("giant_array", "let a = [1]; loop { a += a; }", "Size of array/BLOB too large");
}

#[test]
fn container_dying_during_a_blocking_wait_fails_at_once() {
    let project = Project::new("dies_while_waiting");
    // The banner never comes and `wait_for_log` has no timeout of its own: only noticing the
    // exit ends the wait before the 60 s limit.
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "doomed",
    image: "@IMAGE@",
    cmd: ["sh", "-c", "sleep 1; echo last-words; exit 4"],
    ping: || wait_for_log("never-printed"),
});
"#,
    );

    let output = project.run(["start", "--wait-timeout", "60"]);
    output
        .code(1)
        .stderr_contains("doomed: pinging")
        .stderr_contains("doomed: failed: container exited with status 4 while starting")
        .stderr_contains("| last-words");
    assert_no_crash(&output);
    assert!(output.elapsed < Duration::from_secs(15), "the exit was not noticed before the timeout\n{output}");
    assert_eq!(containers(project.group()), []);
}
