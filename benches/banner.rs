//! How long after a container prints its readiness banner boss notices it (issue 4 aims for
//! under 50 ms). Not a timed test: it prints a table and never fails on the numbers.
//!
//! Each run starts a fresh container whose command prints `BOSS-BENCH-BANNER` a second after
//! it starts, and times `boss start` (the binary Cargo builds for this bench, so the release
//! build under `cargo bench`) from the moment Docker stamped the banner line in the container's
//! log to the moment boss printed `web: started in`. Both clocks are the host's: Docker's log
//! timestamps come from the local daemon, and boss's lines are stamped as they arrive on its
//! stderr pipe. Two pings are compared: `wait_for_log`, which is woken by the streamed output,
//! and a `logs()` poll at the default 100 ms ping interval.
//!
//! Run it with `cargo bench --bench banner`; `BOSS_BENCH_RUNS` sets the runs per ping
//! (default 10). It needs the Docker daemon and the host's static busybox, as the integration
//! tests do, whose harness it reuses for the fixture image, the unique group and the cleanup.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

#[path = "../tests/common/mod.rs"]
mod common;

use common::{Project, container, docker, docker_required};

/// The binary under test, built by Cargo with this bench's profile.
const BOSS: &str = env!("CARGO_BIN_EXE_boss");

/// The line the container prints once it is "ready".
const BANNER: &str = "BOSS-BENCH-BANNER";

/// The longest one `boss start` may take before the bench gives up.
const START_LIMIT: Duration = Duration::from_secs(60);

/// The pings compared: a name for the table and the Rhai expression.
const PINGS: [(&str, &str); 2] = [
    ("wait_for_log (streamed)", r#"wait_for_log("BOSS-BENCH-BANNER")"#),
    ("logs() poll every 100 ms", r#"logs().contains("BOSS-BENCH-BANNER")"#),
];

fn script(ping: &str) -> String {
    format!(
        r#"group("@GROUP@");

service(#{{
    name: "web",
    image: "@IMAGE@",
    cmd: ["sh", "-c", "sleep 1; echo {BANNER}; exec sleep 3600"],
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

    let mut rows = Vec::new();
    for (name, ping) in PINGS {
        project.script(&script(ping));
        let mut latencies = Vec::with_capacity(runs);
        for _ in 0..runs {
            latencies.push(one_run(&project));
            // A fresh container for every run, so each one prints its banner anew.
            let stopped = project.run(["stop", "--remove"]);
            assert_eq!(stopped.exit_code, Some(0), "`boss stop --remove` failed\n{stopped}");
        }
        rows.push((name, latencies));
    }

    println!("{:<26} {:>9} {:>9} {:>9}", "ping", "min ms", "median ms", "max ms");
    for (name, mut latencies) in rows {
        latencies.sort();
        let ms = |duration: Duration| duration.as_secs_f64() * 1000.0;
        let median = latencies[latencies.len() / 2];
        println!(
            "{name:<26} {:>9.1} {:>9.1} {:>9.1}",
            ms(latencies[0]),
            ms(median),
            ms(latencies[latencies.len() - 1])
        );
    }
    println!("\ntarget: under 50 ms");
}

/// Runs `boss start` once and returns how long after the banner it reported `web` started.
fn one_run(project: &Project) -> Duration {
    let mut child = Command::new(BOSS)
        .args(["start", "--wait-timeout", "30"])
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
            Ok((at, line)) if line.starts_with("web: started in") => break at,
            Ok((_, line)) => seen.push(line),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("boss did not report `web` started within {START_LIMIT:?}:\n{}", seen.join("\n"));
            }
        }
    };
    let status = child.wait().expect("wait for boss");
    assert!(status.success(), "boss start failed ({status}):\n{}", seen.join("\n"));

    let id = container(project.group(), "web").expect("`web` has a container").id;
    let banner_at = banner_time(&id);
    started_at.duration_since(banner_at).unwrap_or_else(|_| {
        panic!("boss reported `web` started before the banner was logged; the ping does not wait for it")
    })
}

/// When Docker logged the banner line of container `id`.
fn banner_time(id: &str) -> SystemTime {
    let logs = docker(["logs", "--timestamps", id]);
    let line = logs.lines().find(|line| line.ends_with(BANNER)).unwrap_or_else(|| panic!("no banner in:\n{logs}"));
    let (stamp, _) = line.split_once(' ').unwrap_or_else(|| panic!("no timestamp in {line:?}"));
    humantime::parse_rfc3339(stamp).unwrap_or_else(|error| panic!("bad timestamp {stamp:?}: {error}"))
}
