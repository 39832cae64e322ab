//! The Docker engine going away or stalling in the middle of a command (issue 10, item 3),
//! through a proxy socket in front of the real engine: a clear error within the request
//! timeout (exit 3), never a hang; what the run did is kept, the context is saved, and the next
//! run converges. Also which engine calls a start makes once per group and which once per
//! service (item 8).

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use crate::common::{Output, Project, Proxy, Request, act_when, container, containers, free_port, networks};

/// `first` and `second` set a value each; `third`, after both, has a `pre_start` that says so
/// and waits until the test listens on `port` (once it cut or stalled the engine). No engine
/// call or stream is under way meanwhile, so the next one is `third`'s look at its image.
fn chain(port: u16) -> String {
    format!(
        r#"group("@GROUP@");
service(#{{ name: "first", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
    post_start: |ctx| {{ ctx.first_token = "f1"; }} }});
service(#{{ name: "second", image: "@IMAGE@", dependencies: ["first"], cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
    post_start: |ctx| {{ ctx.second_token = "s2"; }} }});
service(#{{ name: "third", image: "@IMAGE@", dependencies: ["second"], cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
    pre_start: || {{ log("waiting for the test"); while !tcp_open("127.0.0.1", {port}) {{ sleep(20); }} }} }});
"#
    )
}

/// The request timeout of runs whose engine stalls: long enough for every answer of a busy
/// engine before that, short enough to keep the test short.
const STALL_TIMEOUT: u64 = 8;

/// The request timeout of runs whose engine is cut, which no call should reach.
const CUT_TIMEOUT: u64 = 60;

/// boss with `args` in the project, through the proxy, with a request timeout of `seconds`.
fn through(project: &Project, proxy: &Proxy, args: &[&str], seconds: u64) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_boss"));
    command
        .args(args)
        .current_dir(project.dir())
        .env("NO_COLOR", "1")
        .env("DOCKER_HOST", proxy.docker_host())
        .env("BOSS_REQUEST_TIMEOUT", seconds.to_string());
    command
}

/// Starts the chain through the proxy, does `break_engine` to it while `third`'s `pre_start`
/// waits, then lets it go on; returns boss's exit code, its stderr, and the open gate (later
/// starts run that `pre_start` too). Each call may take `seconds`.
fn start_and_break_before_third(
    project: &Project,
    proxy: &Proxy,
    seconds: u64,
    break_engine: impl FnOnce(&Proxy),
) -> (Option<i32>, String, TcpListener) {
    run_and_break_before_third(project, proxy, &["start"], seconds, break_engine)
}

/// [`start_and_break_before_third`] for any command that starts the group (`start`, `run`).
fn run_and_break_before_third(
    project: &Project,
    proxy: &Proxy,
    args: &[&str],
    seconds: u64,
    break_engine: impl FnOnce(&Proxy),
) -> (Option<i32>, String, TcpListener) {
    let port = free_port();
    project.script(&chain(port));
    let mut gate = None;
    let (subcommand, rest) = args.split_first().expect("a subcommand");
    let args: Vec<&str> =
        [*subcommand, "--progress", "plain", "--wait-timeout", "60"].into_iter().chain(rest.iter().copied()).collect();
    let command = through(project, proxy, &args, seconds);
    let (code, stderr, after) = act_when(command, &|line| line == "third | waiting for the test", |_| {
        break_engine(proxy);
        gate = Some(TcpListener::bind(("127.0.0.1", port)).expect("the gate's port is free"));
    });
    assert!(after < Duration::from_secs(40), "boss ended well within its limits\n{stderr}");
    (code, stderr, gate.expect("the gate was opened"))
}

/// The lines of boss's final error, from its `error: ` line on.
fn error_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().skip_while(|line| !line.starts_with("error: ")).collect()
}

/// The context file's values.
fn context(project: &Project) -> serde_json::Value {
    serde_json::from_str(&project.context().expect("the context is saved")).expect("the context is JSON")
}

/// A start that finds everything of the first run, starts `third`, and leaves one running
/// container per service.
#[track_caller]
fn converges(output: &Output, project: &Project) {
    output
        .success()
        .stderr_contains("first: already running")
        .stderr_contains("second: already running")
        .stderr_contains("third: started in");
    let group = project.group();
    for service in ["first", "second", "third"] {
        assert_eq!(container(group, service).map(|row| row.state).as_deref(), Some("running"), "{output}");
    }
    assert_eq!(containers(group).len(), 3, "nothing is duplicated\n{output}");
}

#[test]
fn a_start_with_the_engine_cut_exits_3_and_creates_nothing() {
    let project = Project::new("engine_cut_before");
    project.script(&chain(free_port()));
    let proxy = Proxy::start(&project.path("docker.sock"));
    proxy.cut();

    let output = project.boss(["start"]).env("DOCKER_HOST", proxy.docker_host()).run();

    output.code(3);
    let lines: Vec<&str> = output.stderr.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some(format!("error: cannot reach Docker at `{}`", proxy.docker_host()).as_str()),
        "{output}"
    );
    assert!(lines.get(1).is_some_and(|line| line.starts_with("caused by: ")), "{output}");
    assert_eq!(
        lines.get(2).copied(),
        Some("hint: is the Docker daemon running? set DOCKER_HOST to use another address")
    );
    assert_eq!(containers(project.group()), []);
    assert_eq!(networks(project.group()), Vec::<String>::new());
    assert_eq!(project.context(), None);
}

#[test]
fn an_engine_cut_during_a_start_keeps_what_started_and_the_next_start_converges() {
    let project = Project::new("engine_cut_during");
    let proxy = Proxy::start(&project.path("docker.sock"));

    let (code, stderr, _gate) = start_and_break_before_third(&project, &proxy, CUT_TIMEOUT, Proxy::cut);

    assert_eq!(code, Some(3), "{stderr}");
    let image = project.expand("@IMAGE@");
    assert!(stderr.contains(&format!("third: failed: failed to inspect image `{image}`")), "{stderr}");
    let error = error_lines(&stderr);
    assert_eq!(
        error.first().copied(),
        Some(
            format!(
                "error: lost the Docker engine at `{}` when asking it to inspect image `{image}`",
                proxy.docker_host()
            )
            .as_str()
        ),
        "{stderr}"
    );
    assert!(error.get(1).is_some_and(|line| line.starts_with("caused by: ")), "{stderr}");
    assert_eq!(
        error.get(2).copied(),
        Some(
            "hint: what this run did is kept and the context is saved; once the engine answers again, `boss start` continues from there"
        ),
        "{stderr}"
    );
    let saved = context(&project);
    assert_eq!((&saved["first_token"], &saved["second_token"]), (&"f1".into(), &"s2".into()), "{saved}");

    proxy.restore();
    let output = project.boss(["start"]).env("DOCKER_HOST", proxy.docker_host()).run();
    converges(&output, &project);
}

#[test]
fn a_run_that_loses_its_engine_leaves_what_it_started_for_the_next_command() {
    let project = Project::new("engine_cut_run");
    let proxy = Proxy::start(&project.path("docker.sock"));

    let (code, stderr, _gate) =
        run_and_break_before_third(&project, &proxy, &["run", "--", "true"], CUT_TIMEOUT, Proxy::cut);

    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        error_lines(&stderr).first().is_some_and(|line| line.starts_with("error: lost the Docker engine at")),
        "{stderr}"
    );
    assert!(!stderr.contains("cleaning up what this run started"), "no clean-up without an engine\n{stderr}");
    let group = project.group();
    for service in ["first", "second"] {
        assert_eq!(container(group, service).map(|row| row.state).as_deref(), Some("running"), "{stderr}");
    }
}

#[test]
fn an_engine_cut_during_a_ping_that_never_passes_ends_the_start_at_once() {
    let project = Project::new("engine_cut_ping");
    // Only the lost engine can end this ping.
    project.script(
        r#"group("@GROUP@");
service(#{ name: "first", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
    post_start: |ctx| { ctx.first_token = "f1"; } });
service(#{ name: "second", image: "@IMAGE@", dependencies: ["first"], cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
    ping: || false });
service(#{ name: "third", image: "@IMAGE@", dependencies: ["second"], cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });
"#,
    );
    let proxy = Proxy::start(&project.path("docker.sock"));
    let command = through(&project, &proxy, &["start", "--progress", "plain", "--wait-timeout", "300"], CUT_TIMEOUT);

    let (code, stderr, after) = act_when(command, &|line| line == "second: pinging", |_| proxy.cut());

    assert_eq!(code, Some(3), "{stderr}");
    assert!(after < Duration::from_secs(40), "well before the 300 s ping limit\n{stderr}");
    assert_eq!(
        error_lines(&stderr).first().copied(),
        Some(
            format!(
                "error: lost the Docker engine at `{}` when asking it to watch the container of `second` for its exit",
                proxy.docker_host()
            )
            .as_str()
        ),
        "{stderr}"
    );
    assert!(stderr.contains("third: not started: dependency `second` failed"), "{stderr}");
    assert_eq!(context(&project)["first_token"], "f1");
    assert_eq!(container(project.group(), "second").map(|row| row.state).as_deref(), Some("running"), "kept");
}

#[test]
fn an_engine_stalled_during_a_start_is_an_error_within_the_request_timeout() {
    let project = Project::new("engine_stall_start");
    let proxy = Proxy::start(&project.path("docker.sock"));

    let (code, stderr, _gate) = start_and_break_before_third(&project, &proxy, STALL_TIMEOUT, Proxy::stall);

    assert_eq!(code, Some(3), "{stderr}");
    let image = project.expand("@IMAGE@");
    let error = error_lines(&stderr);
    assert_eq!(
        error,
        [
            format!(
                "error: the Docker engine at `{}` did not answer within {STALL_TIMEOUT} s when asked to inspect image `{image}`",
                proxy.docker_host()
            )
            .as_str(),
            "hint: what this run did is kept and the context is saved; once the engine answers again, `boss start` continues from there",
            "hint: `BOSS_REQUEST_TIMEOUT` sets how many seconds boss waits for an answer",
        ],
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "third: failed: failed to inspect image `{image}`\n    caused by: no answer within {STALL_TIMEOUT} s"
        )),
        "{stderr}"
    );
    let saved = context(&project);
    assert_eq!((&saved["first_token"], &saved["second_token"]), (&"f1".into(), &"s2".into()), "{saved}");

    // Straight to the engine, as a user would once the proxy (the daemon) is back.
    drop(proxy);
    converges(&project.run(["start"]), &project);
}

#[test]
fn an_engine_stalled_during_a_stop_ends_it_at_once_and_the_next_stop_converges() {
    let project = Project::new("engine_stall_stop");
    project.script(
        r#"group("@GROUP@");
service(#{ name: "db", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });
service(#{ name: "api", image: "@IMAGE@", dependencies: ["db"], cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });
service(#{ name: "web", image: "@IMAGE@", dependencies: ["api"], cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });
"#,
    );
    project.run(["start"]).success();
    let group = project.group().to_owned();
    let api = container(&group, "api").expect("api runs");
    let proxy = Proxy::start(&project.path("docker.sock"));
    // Dependants stop first: `web` is stopped, then the engine stalls on `api`'s stop request.
    proxy.stall_at(&format!("/containers/{}", api.id));

    let output = project
        .boss(["stop", "--timeout", "1"])
        .env("DOCKER_HOST", proxy.docker_host())
        .env("BOSS_REQUEST_TIMEOUT", STALL_TIMEOUT.to_string())
        .timeout(Duration::from_secs(60))
        .run();

    output.code(3).stderr_contains("web: stopped").stderr_contains("api: stopping").stderr_lacks("db: stopping");
    let error = error_lines(&output.stderr);
    assert_eq!(
        error.first().copied(),
        Some(
            format!(
                "error: the Docker engine at `{}` did not answer within {} s when asked to stop container `{group}.api`",
                proxy.docker_host(),
                STALL_TIMEOUT + 1
            )
            .as_str()
        ),
        "a stop may take its grace (1 s) on top of the request timeout\n{output}"
    );
    assert_eq!(container(&group, "web").unwrap().state, "exited");
    assert_eq!(container(&group, "api").unwrap().state, "running", "the stalled stop never reached the engine");
    assert_eq!(container(&group, "db").unwrap().state, "running", "not tried once the engine was lost");

    proxy.restore();
    project.boss(["stop"]).env("DOCKER_HOST", proxy.docker_host()).run().success();
    assert!(containers(&group).iter().all(|row| row.state == "exited"), "{:?}", containers(&group));
}

#[test]
fn a_bad_request_timeout_is_refused_before_the_engine_is_touched() {
    let project = Project::new("engine_bad_timeout");
    project.script(&chain(free_port()));
    let proxy = Proxy::start(&project.path("docker.sock"));
    let output =
        project.boss(["start"]).env("DOCKER_HOST", proxy.docker_host()).env("BOSS_REQUEST_TIMEOUT", "5s").run();
    output.code(2);
    assert_eq!(output.stderr, "error: `BOSS_REQUEST_TIMEOUT` must be a whole number of seconds above 0, got `5s`\n");
    assert_eq!(proxy.requests(), Vec::<Request>::new());
}

/// A request as `METHOD endpoint`, with ids and names put aside and list filters named by what
/// they select: `GET /containers/json (service)`.
fn endpoint(request: &Request) -> String {
    let parts: Vec<&str> = request.path.split('/').collect();
    let path = match parts.as_slice() {
        ["", "containers", "json"] => {
            let filter = if request.query.contains("boss.service") {
                "service"
            } else if request.query.contains("boss.group") {
                "group"
            } else {
                "name"
            };
            format!("/containers/json ({filter})")
        }
        ["", "containers", "create"] => "/containers/create".to_owned(),
        ["", "containers", _] => "/containers/{id}".to_owned(),
        ["", "networks", name] if *name != "create" => "/networks/{id}".to_owned(),
        ["", "containers", _, action] => format!("/containers/{{id}}/{action}"),
        ["", "images", .., "json"] => "/images/{name}/json".to_owned(),
        _ => request.path.clone(),
    };
    format!("{} {path}", request.method)
}

#[test]
fn a_start_of_eight_services_makes_per_service_calls_only_where_each_needs_its_own() {
    let project = Project::new("engine_calls");
    let mut script = String::from("group(\"@GROUP@\");\n");
    for index in 0..8 {
        script.push_str(&format!(
            "service(#{{ name: \"s{index}\", image: \"@IMAGE@\", cmd: [\"sleep\", \"3600\"], stop_signal: \"SIGKILL\" }});\n"
        ));
    }
    project.script(&script);
    let proxy = Proxy::start(&project.path("docker.sock"));

    project.boss(["start"]).env("DOCKER_HOST", proxy.docker_host()).run().success();

    let counts = |requests: &[Request]| {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for request in requests {
            *counts.entry(endpoint(request)).or_insert(0) += 1;
        }
        counts
    };
    let started = proxy.requests();
    // Once per group: the ping, the claim check (containers, networks, volumes), the plan's one
    // container list (its orphans too), the start's orphan list and its final check of the
    // services without `ping`, the network. The plan asks for the shared image once. Per
    // service, because each service's start observes the engine right before it acts (plan.rs
    // decides from that): its containers, its image's id, the name check before `pre_start` (a
    // foreign container has no label to list it by), and the image's `VOLUME`s before the
    // create; and the create and start of its container.
    let expected: BTreeMap<String, usize> = [
        ("GET /_ping", 1),
        ("GET /networks", 2),
        ("POST /networks/create", 1),
        ("GET /volumes", 1),
        ("GET /containers/json (group)", 4),
        ("GET /containers/json (service)", 8),
        ("GET /containers/json (name)", 8),
        ("GET /images/{name}/json", 1 + 8 + 8),
        ("POST /containers/create", 8),
        ("POST /containers/{id}/start", 8),
    ]
    .into_iter()
    .map(|(endpoint, count)| (endpoint.to_owned(), count))
    .collect();
    assert_eq!(counts(&started), expected);

    project.boss(["stop", "--remove"]).env("DOCKER_HOST", proxy.docker_host()).run().success();

    // Once per group: the ping, the claim check, one container list for the orphans and every
    // service, the network's list and removal. Per service: its container's stop and removal.
    let expected: BTreeMap<String, usize> = [
        ("GET /_ping", 1),
        ("GET /networks", 2),
        ("DELETE /networks/{id}", 1),
        ("GET /volumes", 1),
        ("GET /containers/json (group)", 2),
        ("POST /containers/{id}/stop", 8),
        ("DELETE /containers/{id}", 8),
    ]
    .into_iter()
    .map(|(endpoint, count)| (endpoint.to_owned(), count))
    .collect();
    assert_eq!(counts(&proxy.requests()[started.len()..]), expected);
}

// The request timeout bounds calls that answer once; a build, the log stream `wait_for_log`
// reads and the wait for the container's exit each run longer than it here, uncut.
#[test]
fn a_short_request_timeout_never_cuts_a_build_or_a_stream() {
    let project = Project::new("engine_streams");
    let image = format!("{}-slow:dev", project.group());
    // The group in the step keeps Docker's build cache from skipping it.
    project.file("slow/Dockerfile", &project.expand("FROM @IMAGE@\nRUN echo @GROUP@ && sleep 6\n"));
    project.script(&format!(
        r#"group("@GROUP@");
service(#{{ name: "slow", image: "{image}", build_from: "slow", stop_signal: "SIGKILL",
    cmd: ["sh", "-c", "sleep 6; echo ready; sleep 3600"],
    ping: || wait_for_log("ready") }});
"#
    ));

    let output = project.boss(["start", "--wait-timeout", "60"]).env("BOSS_REQUEST_TIMEOUT", "3").run();

    output.success().stderr_contains("slow: started in");
    assert!(output.elapsed > Duration::from_secs(12), "the build and the ping each outlasted 3 s\n{output}");
}
