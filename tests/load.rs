//! Load and scale through the binary (issue 10, items 7 and 8): a group of fifty services,
//! and ten groups started at once on one engine, go through `start`, `status` and
//! `stop --remove` on the real engine and leave nothing behind; scripts of ten thousand
//! services and a chain of five thousand are loaded and refused before the engine is
//! touched, within a memory bound. None of this is timed; `benches/load.rs` reports times and
//! memory.

use serde_json::Value;

use crate::common::{Output, Project, containers, fan_out_script, networks};

/// Peak memory a debug build of boss may use to load ten thousand services and refuse them.
const LOAD_MEMORY_BOUND: u64 = 1 << 30;

/// Starts the project's group, checks that `status` reports every one of its `n_services`
/// running, then stops and removes it and checks that nothing of it is left.
#[track_caller]
fn start_check_and_remove(project: &Project, n_services: usize) {
    project.run(["start"]).success().stderr_contains(&format!("{n_services} services up in"));
    let status = project.run(["status", "--format", "json"]);
    status.success();
    let status: Value =
        serde_json::from_str(&status.stdout).unwrap_or_else(|error| panic!("not JSON ({error}):\n{status}"));
    assert_eq!(status["all_running"], true, "{status:#}");
    let services = status["services"].as_array().expect("`services` is an array");
    assert_eq!(services.len(), n_services, "{status:#}");
    assert!(services.iter().all(|service| service["state"] == "running"), "{status:#}");

    project.run(["stop", "--remove"]).success();
    assert!(containers(project.group()).is_empty(), "containers left in {}", project.group());
    assert!(networks(project.group()).is_empty(), "a network left for {}", project.group());
}

/// Services in the single group. Fifty, not the hundred of `benches/load.rs`: a hundred took
/// over a minute of a debug build on two busy cores, next to the rest of the suite.
const N_SERVICES: usize = 50;

#[test]
fn a_group_of_fifty_services_start_run_and_are_removed() {
    let project = Project::new("load_fifty");
    project.script(&fan_out_script(N_SERVICES));
    start_check_and_remove(&project, N_SERVICES);
}

#[test]
fn ten_groups_started_at_once_on_one_engine_all_run_and_are_removed() {
    let projects: Vec<Project> = (0..10).map(|_| Project::new("load_parallel")).collect();
    for project in &projects {
        project.script(&fan_out_script(3));
    }
    std::thread::scope(|scope| {
        let runs: Vec<_> =
            projects.iter().map(|project| scope.spawn(move || start_check_and_remove(project, 3))).collect();
        for run in runs {
            if let Err(panic) = run.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}

/// Runs `boss start --exclude no-such-service` on `script`: boss loads and checks the whole
/// script, then refuses the unknown name before it contacts the engine.
fn refused_before_the_engine(test_name: &str, script: &str) -> Output {
    let project = Project::new(test_name);
    project.script(script);
    let output = project.run(["start", "--exclude", "no-such-service"]);
    output.code(2).stderr_contains("error: cannot exclude unknown service `no-such-service`");
    assert!(containers(project.group()).is_empty(), "boss created containers\n{output}");
    assert!(output.peak_memory < LOAD_MEMORY_BOUND, "boss used {} MiB at its peak\n{output}", output.peak_memory >> 20);
    output
}

#[test]
fn ten_thousand_services_load_in_bounded_memory() {
    refused_before_the_engine("load_ten_thousand", &fan_out_script(10_000));
}

#[test]
fn a_chain_of_five_thousand_loads_in_bounded_memory() {
    let script = r#"group("@GROUP@");
for i in 0..5000 {
    let dependencies = if i == 0 { [] } else { [`s${i - 1}`] };
    service(#{ name: `s${i}`, image: "@IMAGE@", dependencies: dependencies, env: #{ N: `{key_${i}}` } });
}
"#;
    refused_before_the_engine("load_chain", script);
}
