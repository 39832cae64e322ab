//! boss under load (issue 10, item 8): one group of a hundred services, then ten groups of ten
//! started at once on one engine, each through `boss start`, `boss status` and
//! `boss stop --remove`. Not a timed test: it prints a table of wall time and boss's peak
//! resident memory (from `wait4`) per step and never fails on the numbers.
//!
//! For the ten groups, a step's wall time runs from launching the ten boss processes to the
//! last one's exit, and its memory is the largest peak of the ten.
//!
//! Run it with `cargo bench --bench load`; `BOSS_BENCH_SERVICES` sets the size of the single
//! group (default 100). It needs the Docker daemon and the host's static busybox, as the
//! integration tests do, whose harness it reuses for the fixture image, the unique groups and
//! the cleanup.

use std::time::{Duration, Instant};

#[path = "../tests/common/mod.rs"]
mod common;

use common::{Output, Project, containers, docker_required, fan_out_script};

/// The binary under test, built by Cargo with this bench's profile.
const BOSS: &str = env!("CARGO_BIN_EXE_boss");

/// The groups started at once, and the services in each.
const PARALLEL_GROUPS: usize = 10;
const SERVICES_PER_PARALLEL_GROUP: usize = 10;

/// The commands of each run, in order.
const STEPS: [&[&str]; 3] = [&["start"], &["status"], &["stop", "--remove"]];

/// One row of the table.
struct Row {
    case: String,
    step: String,
    wall: Duration,
    peak_memory: u64,
}

fn main() {
    docker_required();
    let n_services: usize =
        std::env::var("BOSS_BENCH_SERVICES").ok().and_then(|n| n.parse().ok()).unwrap_or(100).max(1);
    println!("boss: {BOSS}");
    let mut rows = Vec::new();

    let single = Project::new("bench_load");
    single.script(&fan_out_script(n_services));
    for step in STEPS {
        let output = single.run(step);
        checked(&output);
        rows.push(Row {
            case: format!("1 group of {n_services}"),
            step: output.command.clone(),
            wall: output.elapsed,
            peak_memory: output.peak_memory,
        });
    }
    assert!(containers(single.group()).is_empty(), "`stop --remove` left containers");

    let projects: Vec<Project> = (0..PARALLEL_GROUPS).map(|_| Project::new("bench_load_parallel")).collect();
    for project in &projects {
        project.script(&fan_out_script(SERVICES_PER_PARALLEL_GROUP));
    }
    for step in STEPS {
        let began = Instant::now();
        let outputs: Vec<Output> = std::thread::scope(|scope| {
            let runs: Vec<_> = projects.iter().map(|project| scope.spawn(move || project.run(step))).collect();
            runs.into_iter().map(|run| run.join().expect("a boss run panicked")).collect()
        });
        let wall = began.elapsed();
        outputs.iter().for_each(checked);
        rows.push(Row {
            case: format!("{PARALLEL_GROUPS} groups of {SERVICES_PER_PARALLEL_GROUP} at once"),
            step: outputs[0].command.clone(),
            wall,
            peak_memory: outputs.iter().map(|output| output.peak_memory).max().unwrap_or(0),
        });
    }

    println!("\n| case | step | wall s | peak RSS MiB |\n|---|---|---:|---:|");
    for row in rows {
        let mib = row.peak_memory as f64 / f64::from(1 << 20);
        println!("| {} | `{}` | {:.1} | {mib:.1} |", row.case, row.step, row.wall.as_secs_f64());
    }
}

/// Fails the bench when a step failed: its numbers would mean nothing.
fn checked(output: &Output) {
    assert_eq!(output.exit_code, Some(0), "`{}` failed\n{output}", output.command);
}
