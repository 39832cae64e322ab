//! How long after the engine can tell that a container is ready (or gone) boss notices it.
//! Not a timed test: it prints a table and never fails on the numbers.
//!
//! Each run starts a fresh container and times `boss start` (the binary Cargo builds for this
//! bench, so the release build under `cargo bench`) from the moment the engine recorded the
//! condition to the moment boss printed its line about `web`. Both clocks are the host's: the
//! engine's timestamps come from the local daemon, and boss's lines are stamped as they arrive
//! on its stderr pipe. The cases:
//! - a banner in the log, a second after the start: `wait_for_log`, woken by the streamed
//!   output, against a `logs()` poll at the default 100 ms ping interval;
//! - a HEALTHCHECK that passes after a second: `wait_healthy`, woken by the engine's
//!   `health_status` event (the condition's time is the end of the first passing probe);
//! - the container exiting after a second while `ping` never passes: the failure is driven by
//!   the engine's `die` event (the time is that of its last log line, written just before it
//!   exits, read back from `--save-logs`).
//!
//! Where the engine announces the condition with an event, the table also shows how long after
//! the condition the engine stamped that event (`health_status`, `die`): the part of the
//! latency that is the engine's, not boss's.
//!
//! Run it with `cargo bench --bench banner`; `BOSS_BENCH_RUNS` sets the runs per ping
//! (default 10). It needs the Docker daemon and the host's static busybox, as the integration
//! tests do, whose harness it reuses for the fixture image, the unique group and the cleanup.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[path = "../tests/common/mod.rs"]
mod common;

use common::{Project, container, docker, docker_required};

/// The binary under test, built by Cargo with this bench's profile.
const BOSS: &str = env!("CARGO_BIN_EXE_boss");

/// The line the container prints once it is "ready".
const BANNER: &str = "BOSS-BENCH-BANNER";

/// The longest one `boss start` may take before the bench gives up.
const START_LIMIT: Duration = Duration::from_secs(60);

/// What the engine can announce, and how its time is found after the run.
#[derive(Clone, Copy)]
enum Condition {
    /// The banner line in the container's log.
    Banner,
    /// The first passing HEALTHCHECK probe.
    Healthy,
    /// The container's last log line, printed as it exits.
    Exit,
}

/// The cases compared: a name for the table, the image, the command, the ping, and what is
/// timed.
const CASES: [(&str, &str, &str, &str, Condition); 4] = [
    ("wait_for_log (streamed)", "@IMAGE@", BANNER_CMD, r#"wait_for_log("BOSS-BENCH-BANNER")"#, Condition::Banner),
    ("logs() poll every 100 ms", "@IMAGE@", BANNER_CMD, r#"logs().contains("BOSS-BENCH-BANNER")"#, Condition::Banner),
    (
        "wait_healthy (event)",
        HEALTHY_IMAGE,
        "mkdir -p /tmp; sleep 1; touch /tmp/healthy; exec sleep 3600",
        "wait_healthy()",
        Condition::Healthy,
    ),
    ("exit while pinged (die)", "@IMAGE@", "sleep 1; echo BOSS-BENCH-EXIT; exit 3", "false", Condition::Exit),
];

const BANNER_CMD: &str = "sleep 1; echo BOSS-BENCH-BANNER; exec sleep 3600";

/// The tag of the image with a HEALTHCHECK, built from the fixture image.
const HEALTHY_IMAGE: &str = "@GROUP@-healthy:bench";

fn script(image: &str, cmd: &str, ping: &str) -> String {
    format!(
        r#"group("@GROUP@");

service(#{{
    name: "web",
    image: "{image}",
    cmd: ["sh", "-c", "{cmd}"],
    stop_signal: "SIGKILL",
    ping: || {ping},
}});
"#
    )
}

fn main() {
    docker_required();
    let runs: usize = std::env::var("BOSS_BENCH_RUNS").ok().and_then(|runs| runs.parse().ok()).unwrap_or(10).max(1);
    let project = Project::new("bench_banner");
    println!("boss: {BOSS}");
    println!("{runs} runs per ping; latency from the banner in the container's log to `web: started`\n");

    // The HEALTHCHECK probes every 50 ms, so the probe's own period hardly adds to the time.
    project.file(
        "healthy/Dockerfile",
        &project.expand("FROM @IMAGE@\nHEALTHCHECK --interval=50ms --timeout=1s --retries=600 CMD [\"test\", \"-f\", \"/tmp/healthy\"]\n"),
    );
    let built = Command::new("docker")
        .args(["build", "-q", "-t", &project.expand(HEALTHY_IMAGE), "healthy"])
        .current_dir(project.dir())
        .status()
        .expect("docker build");
    assert!(built.success(), "building the HEALTHCHECK image failed");

    let mut rows = Vec::new();
    for (name, image, cmd, ping, condition) in CASES {
        project.script(&script(image, cmd, ping));
        let (mut latencies, mut engine) = (Vec::with_capacity(runs), Vec::new());
        for _ in 0..runs {
            let (latency, event) = one_run(&project, condition);
            latencies.push(latency);
            engine.extend(event);
            // A fresh container for every run, so each one prints its banner anew.
            let stopped = project.run(["stop", "--remove"]);
            assert_eq!(stopped.exit_code, Some(0), "`boss stop --remove` failed\n{stopped}");
        }
        rows.push((name, latencies, engine));
    }

    println!("{:<26} {:>9} {:>9} {:>9} {:>16}", "case", "min ms", "median ms", "max ms", "event median ms");
    let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
    let median = |durations: &mut Vec<Duration>| {
        durations.sort();
        durations.get(durations.len() / 2).copied()
    };
    for (name, mut latencies, mut engine) in rows {
        let middle = median(&mut latencies).expect("at least one run");
        let event = median(&mut engine).map_or_else(|| "-".to_string(), |event| format!("{:.1}", ms(event)));
        println!(
            "{name:<26} {:>9.1} {:>9.1} {:>9.1} {event:>16}",
            ms(latencies[0]),
            ms(middle),
            ms(latencies[latencies.len() - 1])
        );
    }
    println!("\ntarget: under 10 ms where the engine announces the condition");
    let _ = common::try_docker(["rmi", &project.expand(HEALTHY_IMAGE)]);
}

/// Runs `boss start` once and returns how long after the condition it reported `web`, and
/// how long after it the engine stamped its event, if it has one.
fn one_run(project: &Project, condition: Condition) -> (Duration, Option<Duration>) {
    let logs = project.path("saved-logs");
    let since = SystemTime::now();
    let mut child = Command::new(BOSS)
        .args(["start", "--wait-timeout", "30", "--save-logs"])
        .arg(&logs)
        .current_dir(project.dir())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run {BOSS}: {error}"));
    let stderr = child.stderr.take().expect("stderr is piped");
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if sender.send((SystemTime::now(), line)).is_err() {
                break;
            }
        }
    });

    let began = Instant::now();
    let mut seen = Vec::new();
    let started_at = loop {
        let left = START_LIMIT.saturating_sub(began.elapsed());
        match lines.recv_timeout(left) {
            Ok((at, line)) if line.starts_with("web: started in") || line.starts_with("web: failed:") => break at,
            Ok((_, line)) => seen.push(line),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("boss did not report `web` started within {START_LIMIT:?}:\n{}", seen.join("\n"));
            }
        }
    };
    let status = child.wait().expect("wait for boss");
    let (happened_at, event) = match condition {
        Condition::Banner | Condition::Healthy => {
            assert!(status.success(), "boss start failed ({status}):\n{}", seen.join("\n"));
            let id = container(project.group(), "web").expect("`web` has a container").id;
            match condition {
                Condition::Banner => (banner_time(&id), None),
                _ => (healthy_time(&id), event_time(&format!("container={id}"), "health_status", since)),
            }
        }
        Condition::Exit => {
            let saved = std::fs::read_to_string(logs.join("web.log")).expect("the saved log of `web`");
            let label = format!("label=boss.group={}", project.group());
            (line_time(&saved, "BOSS-BENCH-EXIT"), event_time(&label, "die", since))
        }
    };
    let latency = started_at.duration_since(happened_at).unwrap_or_else(|_| {
        panic!("boss reported `web` before the engine recorded the condition; the ping does not wait for it")
    });
    (latency, event.map(|event| event.duration_since(happened_at).unwrap_or_default()))
}

/// When the engine stamped the first event `event` of the containers `filter` selects since
/// `since`.
fn event_time(filter: &str, event: &str, since: SystemTime) -> Option<SystemTime> {
    let seconds = |time: SystemTime| {
        let elapsed = time.duration_since(UNIX_EPOCH).expect("after 1970");
        format!("{}.{:09}", elapsed.as_secs(), elapsed.subsec_nanos())
    };
    let until = SystemTime::now();
    let filter_event = format!("event={event}");
    let args = ["events", "--since", &seconds(since), "--until", &seconds(until)];
    let args = [&args[..], &["--filter", filter, "--filter", &filter_event, "--format", "{{.TimeNano}}"]].concat();
    let nanos: u64 = docker(args).lines().next()?.trim().parse().ok()?;
    Some(UNIX_EPOCH + Duration::from_nanos(nanos))
}

/// When the first passing HEALTHCHECK probe of container `id` ended.
fn healthy_time(id: &str) -> SystemTime {
    let log = docker([
        "inspect",
        "--format",
        "{{range .State.Health.Log}}{{.ExitCode}} {{.End.Format \"2006-01-02T15:04:05.999999999Z07:00\"}}\n{{end}}",
        id,
    ]);
    let passed =
        log.lines().find(|line| line.starts_with("0 ")).unwrap_or_else(|| panic!("no passing probe in:\n{log}"));
    let stamp = &passed[2..];
    humantime::parse_rfc3339(stamp).unwrap_or_else(|error| panic!("bad timestamp {stamp:?}: {error}"))
}

/// When the line ending with `text` was logged, in a log with Docker's timestamps.
fn line_time(logs: &str, text: &str) -> SystemTime {
    let line = logs.lines().find(|line| line.ends_with(text)).unwrap_or_else(|| panic!("no {text} in:\n{logs}"));
    let (stamp, _) = line.split_once(' ').unwrap_or_else(|| panic!("no timestamp in {line:?}"));
    humantime::parse_rfc3339(stamp).unwrap_or_else(|error| panic!("bad timestamp {stamp:?}: {error}"))
}

/// When Docker logged the banner line of container `id`.
fn banner_time(id: &str) -> SystemTime {
    line_time(&docker(["logs", "--timestamps", id]), BANNER)
}
