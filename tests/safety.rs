//! Hostile values on the real engine (issue 7): deeply nested values, huge command output and
//! logs stay errors with bounded memory, never a crash; secrets stay out of `-v` logs and
//! errors.

use crate::common::{Output, Project, containers};

/// Asserts that boss exited with 1 in its own words: no panic, no abort by a signal.
#[track_caller]
fn failed_cleanly(output: &Output) {
    output.code(1).stderr_lacks("panicked").stderr_lacks("overflowed its stack").stderr_lacks("RUST_BACKTRACE");
}

#[test]
fn deeply_nested_value_in_a_hook_is_an_error_and_the_container_is_removed() {
    let project = Project::new("deep_hook");
    // Each `a = [a]` deep-clones `a`, so the loop is quadratic; the hook's time limit ends it,
    // long after the 1 500 levels that overflowed the default thread stack.
    project.script(
        r#"group("@GROUP@");
service(#{ name: "a", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
    post_start: || { let a = []; for i in 0..30000 { a = [a]; } } });
"#,
    );

    let output = project.run(["start", "--timeout", "5"]);

    failed_cleanly(&output);
    output.stderr_contains("a: failed: hook `post_start` failed").stderr_contains("services.rhai:3:");
    assert!(containers(project.group()).is_empty(), "the container is torn down\n{output}");
}

#[test]
fn value_nested_too_deeply_for_the_context_file_is_refused() {
    let project = Project::new("deep_ctx");
    project.script(
        r#"group("@GROUP@");
service(#{ name: "a", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
    post_start: |ctx| {
        let a = [];
        for i in 0..5000 { a = [a]; }
        ctx.deep = a;
    } });
"#,
    );

    let output = project.run(["start", "--timeout", "60"]);

    failed_cleanly(&output);
    output
        .stderr_contains("cannot store `deep` in the context: arrays and maps in it nest deeper than 64 levels")
        .stderr_contains("services.rhai:6:");
    // What was saved loads again: a second start reads the context file without complaint.
    project.run(["start", "--timeout", "60"]).code(1).stderr_lacks("cannot use the context file");
}
