//! Per-service time limits on the real engine (issue 10, item 4): a service's `hook_timeout`
//! cuts off its own hooks and `wait_timeout` ends its own readiness, while the other services
//! of the run keep `--wait-timeout`.

use std::time::Duration;

use crate::common::{Project, container, containers};

#[test]
fn a_service_hook_limit_cuts_off_its_hooks_while_others_keep_the_default() {
    let project = Project::new("service_limits");
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "stuck",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    hook_timeout: 2,
    post_start: || {
        loop { }
    },
});

service(#{
    name: "spinner",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    hook_timeout: "1s",
    ping: || {
        loop { }
    },
});

service(#{
    name: "never",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    wait_timeout: "1500ms",
    ping: || false,
});

service(#{
    name: "slow",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    post_start: || {
        sleep(3000);
        log("slow hook finished");
    },
});
"#,
    );

    let output = project.run(["start", "--wait-timeout", "60"]);

    output
        .code(1)
        .stderr_contains(
            "stuck: failed: hook `post_start` failed: ran past its time limit of 2 s (`hook_timeout`) and was cut off",
        )
        // The loop has no position of its own when it is cut off; the hook's line is shown.
        .stderr_contains("services.rhai:9:5")
        .stderr_contains("hint: raise the service's `hook_timeout`, or check why the hook does not return")
        // One call of `ping` is cut off by `hook_timeout`, long before readiness would end.
        .stderr_contains("spinner: failed: hook `ping` failed: ran past its time limit of 1 s (`hook_timeout`)")
        .stderr_contains("never: failed: `ping` did not return true within 1.5 s")
        .stderr_contains("hint: raise the service's `wait_timeout`, or check what `ping` waits for")
        // The sibling's hook took 3 s, longer than the 2 s `stuck` has: it ran under the 60 s
        // default, or `sleep` would have been cut short and the hook cut off.
        .stderr_contains("slow | slow hook finished")
        .stderr_contains("slow: started in")
        .stderr_contains("error: failed to start 3 services: `stuck`, `spinner`, and `never`");
    assert!(
        output.elapsed < Duration::from_secs(45),
        "the per-service limits, not the 60 s default, ended the hooks\n{output}"
    );
    let group = project.group();
    assert_eq!(container(group, "slow").map(|row| row.state), Some("running".to_string()));
    assert_eq!(containers(group).len(), 1, "the failed services' containers are removed\n{output}");
}

#[test]
fn a_bad_time_limit_is_refused_before_the_engine_is_touched() {
    let project = Project::new("bad_limit");
    project.script(
        r#"group("@GROUP@");
service(#{ name: "a", image: "@IMAGE@", hook_timeout: "2" });
"#,
    );

    project
        .run(["start"])
        .code(2)
        .stderr_contains("error: field `hook_timeout` is not a time limit: a string needs a unit, got the string \"2\"")
        .stderr_contains("services.rhai:2:")
        .stderr_contains("hint: did you mean `2` (seconds) or `\"2s\"`?");
    assert_eq!(containers(project.group()), [], "nothing was created");
}
