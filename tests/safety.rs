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

    let output = project.run(["start", "--wait-timeout", "5"]);

    failed_cleanly(&output);
    output.stderr_contains("a: failed: hook `post_start` failed").stderr_contains("services.rhai:3:");
    assert!(containers(project.group()).is_empty(), "the container is torn down\n{output}");
}

// The script's top level is evaluated on a blocking thread of the runtime, which must have the
// same large stack as the hook threads.
#[test]
fn deeply_nested_value_at_the_top_level_is_evaluated_without_overflow() {
    let project = Project::new("deep_top");
    project.script(
        r#"group("@GROUP@");
let a = [];
for i in 0..4000 { a = [a]; }
throw "nested";
"#,
    );

    let output = project.run(["start"]);

    output.code(2).stderr_lacks("overflowed its stack").stderr_contains("error: script failed: nested");
}

#[test]
fn value_nested_too_deeply_for_the_context_file_is_refused() {
    let project = Project::new("deep_ctx");
    project.script(
        r#"group("@GROUP@");
service(#{ name: "a", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
    post_start: |ctx| {
        let a = [];
        for i in 0..100 { a = [a]; }
        ctx.deep = a;
    } });
"#,
    );

    let output = project.run(["start", "--wait-timeout", "60"]);

    failed_cleanly(&output);
    output
        .stderr_contains("cannot store `deep` in the context: arrays and maps in it nest deeper than 64 levels")
        .stderr_contains("services.rhai:6:");
    // What was saved loads again: a second start reads the context file without complaint.
    project.run(["start", "--wait-timeout", "60"]).code(1).stderr_lacks("cannot use the context file");
}

#[test]
fn secret_env_values_and_exec_arguments_stay_out_of_debug_logs() {
    let project = Project::new("secret_logs");
    project.script(
        r#"group("@GROUP@");
service(#{ name: "a", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
    env: #{ DB_PASSWORD: "env-secret-41" },
    ping: || exec_ok(["sh", "-c", "true", "arg-secret-42"]) });
"#,
    );

    let output = project.run(["-v", "start", "--wait-timeout", "20"]);

    output
        .success()
        .stderr_contains("creating container")
        .stderr_contains("DB_PASSWORD")
        .stderr_contains("program=\"sh\" n_args=3")
        .stderr_lacks("env-secret-41")
        .stderr_lacks("arg-secret-42");
}

#[test]
fn mysql_ready_passes_the_password_in_the_environment() {
    let project = Project::new("mysql_ready");
    // A stand-in for mysqladmin: it fails when given `-p...` and succeeds only when
    // MYSQL_PWD holds the password. It is mounted where the image's PATH finds it.
    project.file(
        "fakebin/mysqladmin",
        "#!/bin/sh\nfor arg in \"$@\"; do case \"$arg\" in -p*) exit 3;; esac; done\n[ \"$MYSQL_PWD\" = pw-43 ]\n",
    );
    let fake = project.path("fakebin/mysqladmin");
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    project.script(
        r#"group("@GROUP@");
service(#{ name: "db", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
    volumes: ["./fakebin:/usr/local/bin:ro"],
    ping: || boss::mysql_ready("db", "root", "pw-43") });
"#,
    );

    let output = project.run(["-v", "start", "--wait-timeout", "20"]);

    output.success().stderr_contains("db: started").stderr_lacks("pw-43");
}

/// Peak memory boss may use while a hook's command prints far more than that.
const MEMORY_BOUND: u64 = 200 << 20;

#[test]
fn exec_of_a_gigabyte_errors_at_the_call_and_memory_stays_bounded() {
    let project = Project::new("exec_flood");
    project.script(
        r#"group("@GROUP@");
service(#{ name: "a", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
    ping: || exec_ok(["sh", "-c", "yes | head -c 300000000"]),
    post_start: || {
        let result = exec(["sh", "-c", "yes | head -c 1000000000"]);
    } });
"#,
    );

    let output = project.run(["start", "--wait-timeout", "120"]);

    failed_cleanly(&output);
    output
        .stderr_contains("a: failed: hook `post_start` failed: exec: `sh` printed more than 4 MiB, the most boss keeps")
        .stderr_contains("services.rhai:5:22");
    assert!(output.peak_memory < MEMORY_BOUND, "boss used {} MiB at its peak\n{output}", output.peak_memory >> 20);
}

#[test]
fn logs_past_the_limit_are_cut_and_say_so() {
    let project = Project::new("logs_cut");
    // `ping` is true once `logs()` carries the marker, so the test never depends on how fast
    // Docker stores the output. Long lines keep the number of log records (each parsed on its
    // own) small.
    project.script(
        r#"group("@GROUP@");
service(#{ name: "a", image: "@IMAGE@", cmd: ["sh", "-c", "yes \"$(seq -s x 300)\" | head -c 6000000; exec sleep 3600"],
    stop_signal: "SIGKILL",
    ping: || logs().ends_with("[boss: the log goes on; logs() returns only its first 4 MiB]\n"),
    post_start: |ctx| { ctx.length = logs().len(); } });
"#,
    );

    let output = project.run(["start", "--wait-timeout", "60"]);

    output.success();
    let context: serde_json::Value = serde_json::from_str(&project.context().unwrap()).unwrap();
    let length = context["length"].as_u64().unwrap();
    assert!((4 << 20..(4 << 20) + 100).contains(&length), "logs() returned {length} bytes\n{output}");
}

#[test]
fn an_unfillable_env_value_is_not_shown() {
    let project = Project::new("interp_secret");
    project.script(
        r#"group("@GROUP@");
service(#{ name: "a", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
    env: #{ DB_URL: "postgres://app:pw-secret-44@{db_host}/app" } });
"#,
    );

    // Nothing provides `db_host`, so `start` refuses before anything starts (issue 8).
    project
        .run(["-v", "start"])
        .code(2)
        .stderr_contains("error: service `a` needs `{db_host}` in env `DB_URL`, but nothing provides key `db_host`")
        .stderr_contains("hint: ")
        .stderr_lacks("pw-secret-44")
        .stderr_lacks("created network");
    assert!(containers(project.group()).is_empty());
}

#[test]
fn env_names_and_volume_paths_docker_cannot_take_are_refused_at_load() {
    let project = Project::new("load_refusals");
    let cases = [
        (r#"env: #{ "A\nB": "x" }"#, "error: invalid env name `A\\nB`: it contains a line break"),
        (r#"env: #{ "A=B": "x" }"#, "error: invalid env name `A=B`: it contains `=`"),
        (r#"volumes: ["./d:/x/../etc"]"#, "error: container path `/x/../etc` is not in normal form"),
        (r#"volumes: #{ "./a:b": #{ bind: "/d" } }"#, "error: the host path `./a:b` of a volume contains `:`"),
    ];
    for (field, message) in cases {
        project.script(&format!("group(\"@GROUP@\");\nservice(#{{ name: \"a\", image: \"@IMAGE@\", {field} }});\n"));
        project
            .run(["start"])
            .code(2)
            .stderr_contains(message)
            .stderr_contains("services.rhai:2:")
            .stderr_contains("hint: ");
    }
    assert!(containers(project.group()).is_empty());
}
