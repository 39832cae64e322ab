//! `boss env`: the context's values and the published ports as environment variables, read
//! back by a real shell (`eval`, `set -a; . ./.env.test`) and as JSON, with a value that holds
//! quotes, spaces, `$`, a backslash and line breaks.

use std::process::Command;

use serde_json::{Value, json};

use crate::common::{Project, container, docker};

/// What `TRICKY` is set to: everything a shell could misread.
const TRICKY: &str = "it's a \"quoted\" $HOME `pwd` \\ value\n  with spaces\nand a last line";

const SCRIPT: &str = r#"group("@GROUP@");
service(#{
    name: "db",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    ports: #{ "80": 0, "53/udp": 0 },
    post_start: |ctx| {
        ctx.tricky = "it's a \"quoted\" $HOME `pwd` \\ value\n  with spaces\nand a last line";
        ctx["api-token"] = "t0k3n";
        ctx.count = 3;
        ctx.nested = #{ a: [1, true] };
    },
});
"#;

/// Runs `script` with `sh` in the project directory, with `$BOSS` the boss binary, and
/// returns its stdout.
#[track_caller]
fn sh(project: &Project, script: &str) -> String {
    let output = Command::new("sh")
        .args(["-c", script])
        .current_dir(project.dir())
        .env("BOSS", env!("CARGO_BIN_EXE_boss"))
        .output()
        .expect("sh runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "`{script}` failed: {stderr}");
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// The host port `docker port` shows for `port` of the container.
fn published(id: &str, port: &str) -> String {
    let line = docker(["port", id, port]);
    line.lines().next().unwrap().rsplit(':').next().unwrap().trim().to_string()
}

#[test]
fn env_in_sh_dotenv_and_json_formats_read_back_by_a_shell() {
    let project = Project::new("env_formats");
    project.script(SCRIPT);
    project.run(["start"]).success();
    let id = container(project.group(), "db").expect("db runs").id;
    let (tcp, udp) = (published(&id, "80/tcp"), published(&id, "53/udp"));

    let read_back = "printf '%s|%s|%s|%s|%s|%s' \"$DB_PORT_80\" \"$DB_PORT_53_UDP\" \"$API_TOKEN\" \"$COUNT\" \"$NESTED\" \"$TRICKY\"";
    let expected = format!("{tcp}|{udp}|t0k3n|3|{{\"a\":[1,true]}}|{TRICKY}");
    assert_eq!(sh(&project, &format!("eval \"$(\"$BOSS\" env)\"; {read_back}")), expected);
    // Exported: a child process sees them.
    assert_eq!(sh(&project, "eval \"$(\"$BOSS\" env)\"; exec printenv DB_PORT_80"), format!("{tcp}\n"));

    sh(&project, "\"$BOSS\" env --format dotenv > .env.test");
    let dotenv = project.read(".env.test").unwrap();
    assert!(dotenv.contains(&format!("DB_PORT_80='{tcp}'\n")), "{dotenv}");
    assert!(!dotenv.contains("export"), "{dotenv}");
    assert_eq!(sh(&project, &format!("set -a; . ./.env.test; set +a; {read_back}")), expected);
    assert_eq!(sh(&project, "set -a; . ./.env.test; exec printenv TRICKY"), format!("{TRICKY}\n"));

    let output = project.run(["env", "--format", "json"]);
    output.success();
    let object: Value =
        serde_json::from_str(&output.stdout).unwrap_or_else(|error| panic!("not JSON ({error}):\n{output}"));
    assert_eq!(
        object,
        json!({
            "API_TOKEN": "t0k3n", "COUNT": "3", "DB_PORT_53_UDP": udp, "DB_PORT_80": tcp,
            "NESTED": "{\"a\":[1,true]}", "TRICKY": TRICKY,
        })
    );

    // Stopped, the group publishes nothing (the ports saved in the context are not shown as
    // if they were live); the saved context's other values remain.
    project.run(["stop"]).success();
    let output = project.run(["env", "--format", "json"]);
    output.success();
    let stopped: Value = serde_json::from_str(&output.stdout).unwrap();
    assert_eq!(stopped, json!({ "API_TOKEN": "t0k3n", "COUNT": "3", "NESTED": "{\"a\":[1,true]}", "TRICKY": TRICKY }));
}
