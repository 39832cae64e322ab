//! Script → model, and the exact text of every validation error.

use std::path::Path;

use super::*;
use crate::context::Context;
use crate::hook::{CallLimits, HookKind, HookValue};

/// Calls a hook with no containers to reach.
fn hooks_call(
    hooks: &Arc<dyn crate::hook::HookRunner>,
    service: &str,
    kind: HookKind,
    context: &Context,
    limits: &CallLimits,
) -> Result<HookValue, crate::hook::HookError> {
    let access: Arc<dyn crate::hook::ContainerAccess> = Arc::new(crate::hook::NoContainers);
    hooks.call(service, kind, context, limits, &access)
}

fn load_text(text: &str) -> Result<Project, Error> {
    load_source(Path::new("services.rhai"), text.to_string(), EventSink::new(|_| {}))
}

fn project(text: &str) -> Project {
    match load_text(text) {
        Ok(project) => project,
        Err(error) => panic!("script failed to load:\n{}", error.render()),
    }
}

/// Asserts the whole rendered error, after trimming the expected text's indentation.
#[track_caller]
fn check_error(text: &str, expected: &str) {
    let error = match load_text(text) {
        Ok(project) => panic!("expected an error, got {project:?}"),
        Err(error) => error,
    };
    assert_eq!(error.exit_code(), crate::error::exit_code::INVALID_INPUT);
    let expected: String =
        expected.lines().map(|line| format!("{}\n", line.strip_prefix("        ").unwrap_or(line))).collect();
    assert_eq!(error.render().trim_end(), expected.trim(), "\n--- actual ---\n{}", error.render());
}

#[test]
fn a_full_service_becomes_the_model() {
    let project = project(
        r#"
group("shop");
let base = 5400;
for i in 0..2 { service(#{ name: `db${i}`, image: "postgres:16", ports: #{ "5432": base + i } }); }
service(#{
    name: "web",
    image: "nginx:1.27",
    dependencies: ["db0", "db1"],
    env: #{ B: 2, A: "x", FLAG: true, RATIO: 1.5 },
    ports: #{ "80": 0, "53/udp": "0.0.0.0:5353" },
    volumes: ["./data:/data:ro", "/abs:/abs"],
    always_start_new: true,
    stop_signal: "SIGINT",
    entrypoint: "/bin/sh -c",
    cmd: ["echo", "hi there"],
    user: "1000",
    build_from: "./src",
    dockerfile: "main.rs",
    ping: || true,
    post_start: |ctx| { ctx.x = 1; },
});
"#,
    );
    assert_eq!(project.group, "shop");
    assert_eq!(project.services.keys().collect::<Vec<_>>(), ["db0", "db1", "web"]);
    assert_eq!(project.services["db1"].ports[0].host_port, 5401);
    let web = &project.services["web"];
    assert_eq!(web.dependencies, ["db0", "db1"]);
    let env: Vec<String> = web.env.iter().map(|(key, value)| format!("{key}={value}")).collect();
    assert_eq!(env, ["A=x", "B=2", "FLAG=true", "RATIO=1.5"]);
    let ports: Vec<String> =
        web.ports.iter().map(|port| format!("{}->{}:{}", port.container_key(), port.host_ip, port.host_port)).collect();
    assert_eq!(ports, ["53/udp->0.0.0.0:5353", "80/tcp->127.0.0.1:0"]);
    assert_eq!(web.volumes[0].source, crate::service::MountSource::Host(project.directory.join("data")));
    assert!(web.volumes[0].read_only);
    assert_eq!(web.volumes[1].bind_string("shop"), "/abs:/abs:rw");
    assert!(web.always_start_new);
    assert_eq!(web.stop_signal, crate::service::StopSignal::Int);
    assert_eq!(web.entrypoint.as_deref(), Some(&["/bin/sh".to_string(), "-c".to_string()][..]));
    assert_eq!(web.cmd.as_deref(), Some(&["echo".to_string(), "hi there".to_string()][..]));
    assert_eq!(web.user.as_deref(), Some("1000"));
    assert_eq!(web.build_from, Some(project.directory.join("src")));
    assert_eq!(web.dockerfile, "main.rs");
    assert_eq!((web.hooks.pre_start, web.hooks.ping, web.hooks.post_start), (false, true, true));
    assert_eq!(web.span.line, 5);
}

#[test]
fn default_group_is_the_directory_slug() {
    assert_eq!(default_group(Path::new("/tmp/x/My Project_1"), "services.rhai"), "my-project-1");
    assert_eq!(default_group(Path::new("/tmp/x/--"), "services.rhai"), "default");
    // Another script in the same directory gets a group of its own.
    assert_eq!(default_group(Path::new("/tmp/x/My Project_1"), "Dev Env.rhai"), "my-project-1-dev-env");
    assert_eq!(default_group(Path::new("/tmp/x/--"), "dev.rhai"), "default-dev");
    let long = default_group(Path::new(&format!("/tmp/{}", "d".repeat(60))), &format!("{}.rhai", "s".repeat(30)));
    assert_eq!(long.len(), 40, "{long}");
}

#[test]
fn hooks_run_with_the_shared_context() {
    let project = project(
        r#"
let calls = 0;
service(#{ name: "a", image: "i",
    ping: || { calls += 1; calls >= 2 },
    post_start: |ctx| { ctx.url = "http://a"; ctx.list = [1, #{ b: true }]; },
});
service(#{ name: "b", image: "i", pre_start: |ctx| { if !("url" in ctx) { throw "no url"; } ctx.seen = ctx.url; } });
"#,
    );
    let context = Context::default();
    let limits = CallLimits { deadline: Instant::now() + Duration::from_secs(5), cancel: CancellationToken::new() };
    let hooks = &project.hooks;
    assert_eq!(hooks_call(hooks, "a", HookKind::Ping, &context, &limits), Ok(HookValue::Bool(false)));
    assert_eq!(hooks_call(hooks, "a", HookKind::Ping, &context, &limits), Ok(HookValue::Bool(true)));
    let error = hooks_call(hooks, "b", HookKind::PreStart, &context, &limits).unwrap_err();
    assert_eq!(error.message, "no url");
    assert_eq!(error.span.map(|span| (span.line, span.column)), Some((7, 75)));
    hooks_call(hooks, "a", HookKind::PostStart, &context, &limits).unwrap();
    hooks_call(hooks, "b", HookKind::PreStart, &context, &limits).unwrap();
    assert_eq!(context.get("seen"), Some(serde_json::json!("http://a")));
    assert_eq!(context.get("list"), Some(serde_json::json!([1, { "b": true }])));
    assert_eq!(
        hooks_call(hooks, "b", HookKind::Ping, &context, &limits),
        Ok(HookValue::Bool(true)),
        "a missing hook is a no-op"
    );
}

#[test]
fn hook_errors_point_inside_the_hook_and_runaway_hooks_are_cut_off() {
    let project = project(
        r#"
fn helper(x) {
    x.missing_field
}
service(#{ name: "a", image: "i",
    pre_start: || helper(#{}),
    ping: || { loop { } },
    post_start: |ctx| { ctx.f = || 1; },
});
"#,
    );
    let context = Context::default();
    let limits =
        |ms| CallLimits { deadline: Instant::now() + Duration::from_millis(ms), cancel: CancellationToken::new() };
    let error = hooks_call(&project.hooks, "a", HookKind::PreStart, &context, &limits(5000)).unwrap_err();
    assert_eq!(error.message, "Property not found: missing_field");
    assert_eq!(error.span.map(|span| (span.line, span.column)), Some((3, 7)));

    let started = Instant::now();
    let error = hooks_call(&project.hooks, "a", HookKind::Ping, &context, &limits(200)).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(error.message, "ran past its time limit and was cut off");
    assert_eq!(error.span.map(|span| span.line), Some(7), "a hook cut off points at the hook");

    let error = hooks_call(&project.hooks, "a", HookKind::PostStart, &context, &limits(5000)).unwrap_err();
    assert_eq!(
        error.message,
        "cannot store a value of type `Fn` in the context as `f`: only (), booleans, numbers, strings, arrays and maps can be saved"
    );
}

#[test]
fn syntax_error() {
    check_error(
        "service(#{ name: \"a\", image: \"i\" }\nlet x = 1;\n",
        r#"
        error: syntax error: Expecting ',' to separate the arguments to function call 'service'
         --> services.rhai:2:1
          |
        2 | let x = 1;
          | ^
        "#,
    );
}

#[test]
fn undefined_variable_is_caught_before_running() {
    check_error(
        "let port = 1;\nservice(#{ name: \"a\", image: \"i\", ping: || tcp_open(\"h\", prot) });\n",
        r#"
        error: undefined variable `prot`
         --> services.rhai:2:58
          |
        2 | service(#{ name: "a", image: "i", ping: || tcp_open("h", prot) });
          |                                                          ^
        "#,
    );
}

#[test]
fn unknown_field_suggests_the_right_one() {
    check_error(
        "service(#{\n    name: \"web\",\n    image: \"nginx\",\n    prots: #{ \"80\": 8080 },\n});\n",
        r#"
        error: unknown field `prots`
         --> services.rhai:4:5
          |
        4 |     prots: #{ "80": 8080 },
          |     ^
        hint: did you mean `ports`?
        "#,
    );
}

#[test]
fn wrong_types_say_what_was_expected() {
    check_error(
        "service(#{ name: \"web\", image: 34.56 });",
        r#"
        error: field `image` must be a string, got `34.56`
         --> services.rhai:1:25
          |
        1 | service(#{ name: "web", image: 34.56 });
          |                         ^
        "#,
    );
    check_error(
        "service(#{ name: \"web\", image: \"i\", always_start_new: 123 });",
        r#"
        error: field `always_start_new` must be `true` or `false`, got `123`
         --> services.rhai:1:37
          |
        1 | service(#{ name: "web", image: "i", always_start_new: 123 });
          |                                     ^
        "#,
    );
    check_error(
        "service(#{ name: \"web\", image: \"i\", cmd: [\"ls\", 10] });",
        r#"
        error: field `cmd` must be a string or an array of strings, got `10`
         --> services.rhai:1:37
          |
        1 | service(#{ name: "web", image: "i", cmd: ["ls", 10] });
          |                                     ^
        "#,
    );
    check_error(
        "service(#{ name: \"web\", image: \"i\", ping: true });",
        r#"
        error: field `ping` must be a closure like `|ctx| { ... }` or `|| true`, got `true`
         --> services.rhai:1:37
          |
        1 | service(#{ name: "web", image: "i", ping: true });
          |                                     ^
        "#,
    );
}

#[test]
fn names_must_be_hostnames_and_present() {
    check_error(
        "service(#{ name: \"my web\", image: \"i\" });",
        r#"
        error: service name `my web` is not a valid hostname
         --> services.rhai:1:12
          |
        1 | service(#{ name: "my web", image: "i" });
          |            ^
        hint: use letters, digits, `-` and `_`, starting and ending with a letter or digit, at most 63 characters
        "#,
    );
    check_error(
        "service(#{ name: \"\", image: \"i\" });",
        r#"
        error: field `name` must be a non-empty string, got the string ""
         --> services.rhai:1:12
          |
        1 | service(#{ name: "", image: "i" });
          |            ^
        "#,
    );
    check_error(
        "service(#{ image: \"i\" });",
        r#"
        error: field `name` is required
         --> services.rhai:1:1
          |
        1 | service(#{ image: "i" });
          | ^
        "#,
    );
}

#[test]
fn bad_stop_signal_volume_and_port() {
    check_error(
        "service(#{ name: \"a\", image: \"i\", stop_signal: \"SIGHUP\" });",
        r#"
        error: stop signal `SIGHUP` is not allowed
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", stop_signal: "SIGHUP" });
          |                                   ^
        hint: use one of `SIGINT`, `SIGTERM`, `SIGKILL`, and `SIGQUIT`
        "#,
    );
    check_error(
        "service(#{ name: \"a\", image: \"i\", volumes: [\"./data\"] });",
        r#"
        error: invalid volume `./data`: expected `host:container` or `host:container:mode`
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", volumes: ["./data"] });
          |                                   ^
        hint: write `"./host:/container"`, `"./host:/container:ro"` or `"name:/container"` (a named volume), or a map `#{ "./data": #{ bind: "/data", mode: "ro" } }`
        "#,
    );
    check_error(
        "service(#{ name: \"a\", image: \"i\", volumes: #{ \"./d\": #{ bind: \"/d\", mode: \"rx\" } } });",
        r#"
        error: invalid volume `./d: #{"bind": "/d", "mode": "rx"}`: the mode must be `ro` or `rw`
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", volumes: #{ "./d": #{ bind: "/d", mode: "rx" } } });
          |                                   ^
        hint: write `"./host:/container"`, `"./host:/container:ro"` or `"name:/container"` (a named volume), or a map `#{ "./data": #{ bind: "/data", mode: "ro" } }`
        "#,
    );
    check_error(
        "service(#{ name: \"a\", image: \"i\", ports: #{ \"http\": 80 } });",
        r#"
        error: invalid port mapping `http: 80`: the container port must be a number from 1 to 65535
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", ports: #{ "http": 80 } });
          |                                   ^
        hint: write `#{ "8080": 8080 }` (container port to host port); `0` picks a free host port; `"0.0.0.0:8080"` publishes on every address
        "#,
    );
}

#[test]
fn duplicates_unknown_dependencies_and_cycles() {
    check_error(
        "service(#{ name: \"a\", image: \"i\" });\nservice(#{ name: \"a\", image: \"j\" });",
        r#"
        error: service `a` is declared twice
         --> services.rhai:2:12
          |
        2 | service(#{ name: "a", image: "j" });
          |            ^
        note: first declared at services.rhai:1:12
        "#,
    );
    check_error(
        "service(#{ name: \"appdb\", image: \"i\" });\nservice(#{ name: \"web\", image: \"i\", dependencies: [\"apdb\"] });",
        r#"
        error: service `web` depends on unknown service `apdb`
         --> services.rhai:2:37
          |
        2 | service(#{ name: "web", image: "i", dependencies: ["apdb"] });
          |                                     ^
        hint: did you mean `appdb`?
        "#,
    );
    check_error(
        "service(#{ name: \"a\", image: \"i\", dependencies: [\"b\"] });\nservice(#{ name: \"b\", image: \"i\", dependencies: [\"a\"] });",
        r#"
        error: circular dependency: `a` -> `b` -> `a`
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", dependencies: ["b"] });
          |                                   ^
        hint: remove one of these dependencies
        "#,
    );
}

#[test]
fn empty_scripts_groups_and_runtime_errors() {
    check_error(
        "let x = 1;\n",
        r#"
        error: no services defined
         --> services.rhai
        hint: declare one with `service(#{ name: "web", image: "nginx:1.27" });`
        "#,
    );
    check_error(
        "group(\"a\");\ngroup(\"b\");\nservice(#{ name: \"a\", image: \"i\" });",
        r#"
        error: the group name is already set; `group` may be called once
         --> services.rhai:2:1
          |
        2 | group("b");
          | ^
        note: first declared at services.rhai:1:1
        "#,
    );
    check_error(
        "service(\"web\");",
        r#"
        error: `service` takes a map like `#{ name: "web", image: "nginx" }`, got the string "web"
         --> services.rhai:1:1
          |
        1 | service("web");
          | ^
        "#,
    );
    check_error(
        "let ports = [1];\nlet p = ports[3];\nservice(#{ name: \"a\", image: \"i\" });",
        r#"
        error: script failed: Array index 3 out of bounds: only 1 element in array
         --> services.rhai:2:15
          |
        2 | let p = ports[3];
          |               ^
        "#,
    );
}

#[test]
fn eval_is_disabled() {
    let error = load_text("eval(\"1\");\nservice(#{ name: \"a\", image: \"i\" });").unwrap_err();
    assert!(error.render().contains("services.rhai:1:1"), "{}", error.render());
}

#[test]
fn mistakes_docker_would_only_find_later_are_caught_at_load() {
    check_error(
        "service(#{ name: \"a\", image: \"i\", env: #{ URL: \"{oops\" } });",
        r#"
        error: invalid env entry `URL`: a `{` is not closed; write `{{` for a literal brace
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", env: #{ URL: "{oops" } });
          |                                   ^
        "#,
    );
    check_error(
        "service(#{ name: \"a\", image: \"i\", ports: #{ \"80\": 8080 } });\nservice(#{ name: \"b\", image: \"i\", ports: #{ \"81\": 8080 } });",
        r#"
        error: service `b` publishes host port 8080/tcp, which `a` publishes too
         --> services.rhai:2:35
          |
        2 | service(#{ name: "b", image: "i", ports: #{ "81": 8080 } });
          |                                   ^
        "#,
    );
    check_error(
        "service(#{ name: \"a\", image: \"i\", ports: #{ \"80\": 1, \"80/tcp\": 2 } });",
        r#"
        error: invalid port mapping `80/tcp: 2`: this container port is mapped twice
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", ports: #{ "80": 1, "80/tcp": 2 } });
          |                                   ^
        hint: write `#{ "8080": 8080 }` (container port to host port); `0` picks a free host port; `"0.0.0.0:8080"` publishes on every address
        "#,
    );
    check_error(
        "service(#{ name: \"a\", image: \"i\", volumes: [\"./x:/y\", \"./z:/y\"] });",
        r#"
        error: invalid volume `/y`: this container path is mounted twice
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", volumes: ["./x:/y", "./z:/y"] });
          |                                   ^
        hint: write `"./host:/container"`, `"./host:/container:ro"` or `"name:/container"` (a named volume), or a map `#{ "./data": #{ bind: "/data", mode: "ro" } }`
        "#,
    );
    check_error(
        "service(#{ name: \"a\", image: \"Bad Image!!\" });",
        r#"
        error: `Bad Image!!` is not a valid image reference
         --> services.rhai:1:23
          |
        1 | service(#{ name: "a", image: "Bad Image!!" });
          |                       ^
        "#,
    );
    check_error(
        "service(#{ name: \"web\", image: \"i\" });\nservice(#{ name: \"Web\", image: \"i\" });",
        r#"
        error: service `Web` is declared twice
         --> services.rhai:2:12
          |
        2 | service(#{ name: "Web", image: "i" });
          |            ^
        note: first declared at services.rhai:1:12
        "#,
    );
    // Host port 0 means "any free port", so it may appear any number of times.
    project(
        "service(#{ name: \"a\", image: \"i\", ports: #{ \"80\": 0 } });\nservice(#{ name: \"b\", image: \"i\", ports: #{ \"80\": 0 } });",
    );
}

#[test]
fn common_slips_get_hints() {
    check_error(
        "service(#{ name: \"a\", image: \"i\", ping: || ctx.ready });",
        r#"
        error: undefined variable `ctx`
         --> services.rhai:1:44
          |
        1 | service(#{ name: "a", image: "i", ping: || ctx.ready });
          |                                            ^
        hint: a hook gets the context as its parameter: write `|ctx| ...`
        "#,
    );
    check_error(
        "service(#{ name: \"a\",\n  image: \"i\"",
        r#"
        error: syntax error: Expecting '}' to end this object map literal
         --> services.rhai:2:13
          |
        2 |   image: "i"
          |             ^
        "#,
    );
    check_error(
        "service(#{ name: \"a\", image: \"i\" }\n",
        r#"
        error: syntax error: Expecting ')' to close the arguments list of this function call 'service'
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i" }
          |                                   ^
        "#,
    );
    check_error(
        "servce(#{ name: \"a\", image: \"i\" });",
        r#"
        error: script failed: function not found: servce (map); did you mean `service`?
         --> services.rhai:1:1
          |
        1 | servce(#{ name: "a", image: "i" });
          | ^
        "#,
    );
    check_error(
        "group(42);\nservice(#{ name: \"a\", image: \"i\" });",
        r#"
        error: `group` takes a name like `group("shop")`, got `42`
         --> services.rhai:1:1
          |
        1 | group(42);
          | ^
        "#,
    );
}

/// Container access that publishes every port on host port 4321.
struct FixedPorts;

impl crate::hook::ContainerAccess for FixedPorts {
    fn host_port(&self, _: &str, _: u16, _: crate::service::Protocol, _: &CallLimits) -> Result<u16, String> {
        Ok(4321)
    }
    fn address(&self, _: &str, _: &CallLimits) -> Result<String, String> {
        Ok("10.0.0.2".into())
    }
    fn exec(
        &self,
        _: &str,
        exec: &crate::backend::ExecSpec,
        _: &CallLimits,
    ) -> Result<crate::backend::ExecOutput, String> {
        let stdout = [exec.env.as_slice(), exec.cmd.as_slice()].concat().join(" ");
        Ok(crate::backend::ExecOutput { code: Some(0), stdout, ..Default::default() })
    }
    fn logs(&self, _: &str, _: &CallLimits) -> Result<crate::hook::LogText, String> {
        Ok(crate::hook::LogText::default())
    }
    fn health(&self, _: &str, _: &CallLimits) -> Result<crate::backend::Health, String> {
        Ok(crate::backend::Health::Healthy)
    }
    fn wait_for_output(&self, _: &str, _: &str, _: &CallLimits) -> Result<bool, String> {
        Ok(true)
    }
    fn wait_healthy(&self, _: &str, _: &CallLimits) -> Result<bool, String> {
        Ok(true)
    }
}

#[test]
fn hooks_can_use_imported_modules_and_the_built_in_library() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::create_dir(directory.path().join("lib")).unwrap();
    std::fs::write(directory.path().join("lib/checks.rhai"), "fn greeting(name) { `hello ${name}` }\n").unwrap();
    let script = directory.path().join("services.rhai");
    std::fs::write(
        &script,
        r#"import "lib/checks" as checks;
service(#{ name: "a", image: "i",
    ping: || checks::greeting("a") == "hello a",
    post_start: |ctx| { ctx.url = boss::url("a", 80, "/health"); ctx.exec = boss::redis_ready("a"); },
});
"#,
    )
    .unwrap();
    let project = crate::script::load(&script, EventSink::new(|_| {})).unwrap();
    let access: Arc<dyn crate::hook::ContainerAccess> = Arc::new(FixedPorts);
    let limits = CallLimits { deadline: Instant::now() + Duration::from_secs(5), cancel: CancellationToken::new() };
    let context = Context::default();
    assert_eq!(project.hooks.call("a", HookKind::Ping, &context, &limits, &access), Ok(HookValue::Bool(true)));
    project.hooks.call("a", HookKind::PostStart, &context, &limits, &access).unwrap();
    assert_eq!(context.get("url"), Some(serde_json::json!("http://127.0.0.1:4321/health")));
    assert_eq!(context.get("exec"), Some(serde_json::json!(false)), "the fake exec echoes the command, not PONG");
}

#[test]
fn a_missing_module_is_reported_where_it_is_imported() {
    check_error(
        "import \"nope/missing\" as m;\nservice(#{ name: \"a\", image: \"i\" });",
        r#"
        error: script failed: Module not found: nope/missing
         --> services.rhai:1:8
          |
        1 | import "nope/missing" as m;
          |        ^
        "#,
    );
}

#[test]
fn a_hook_made_inside_a_module_is_refused_with_the_reason() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("maker.rhai"), "fn make() { || true }\n").unwrap();
    let script = directory.path().join("services.rhai");
    std::fs::write(
        &script,
        "import \"maker\" as maker;\nservice(#{ name: \"a\", image: \"i\", ping: maker::make() });\n",
    )
    .unwrap();
    let error = crate::script::load(&script, EventSink::new(|_| {})).unwrap_err().render();
    assert!(error.contains("a closure made inside a module cannot be called later"), "{error}");
    assert!(error.contains("error: invalid hook `ping`: this closure is not a closure or function written"), "{error}");
    assert!(error.contains("services.rhai:2:35"), "{error}");
}

#[test]
fn a_hook_with_two_parameters_is_refused() {
    let error = load_text("service(#{ name: \"a\", image: \"i\", post_start: |a, b| true });").unwrap_err().render();
    assert!(
        error.starts_with(
            "error: invalid hook `post_start`: a hook takes no parameter or one (the context), like `|ctx| { ... }`\n"
        ),
        "{error}"
    );
}

#[test]
fn a_ping_that_returns_something_else_points_at_the_hook() {
    let project = project("service(#{ name: \"a\", image: \"i\",\n    ping: || 1 });");
    let limits = CallLimits { deadline: Instant::now() + Duration::from_secs(5), cancel: CancellationToken::new() };
    let error = hooks_call(&project.hooks, "a", HookKind::Ping, &Context::default(), &limits).unwrap_err();
    assert_eq!(error.message, "`ping` must return `true` or `false`, got `1`");
    assert_eq!(error.span.map(|span| (span.line, span.column)), Some((2, 5)));
}

#[test]
fn errors_inside_modules_and_the_library_point_at_the_right_file() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::create_dir(directory.path().join("lib")).unwrap();
    std::fs::write(
        directory.path().join("lib/checks.rhai"),
        "fn ok() { true }\n\nfn boom() {\n    throw \"module boom\";\n}\n",
    )
    .unwrap();
    let script = directory.path().join("services.rhai");
    std::fs::write(
        &script,
        "import \"lib/checks\" as checks;\nservice(#{ name: \"a\", image: \"i\",\n    ping: || checks::boom(),\n    post_start: || boss::url(\"a\", 80, \"/\"),\n});\n",
    )
    .unwrap();
    let project = crate::script::load(&script, EventSink::new(|_| {})).unwrap();
    let limits = CallLimits { deadline: Instant::now() + Duration::from_secs(5), cancel: CancellationToken::new() };
    let context = Context::default();
    let error = hooks_call(&project.hooks, "a", HookKind::Ping, &context, &limits).unwrap_err();
    assert_eq!(error.message, "module boom");
    let span = error.span.unwrap();
    assert!(span.path().ends_with("lib/checks.rhai"), "{}", span.location());
    assert_eq!((span.line, span.column), (4, 5));
    assert_eq!(span.line_text(), Some("    throw \"module boom\";"));

    // No containers here, so `port` inside `boss::url` fails: the error points at the call.
    let error = hooks_call(&project.hooks, "a", HookKind::PostStart, &context, &limits).unwrap_err();
    let span = error.span.unwrap();
    assert!(span.path().ends_with("services.rhai"), "{}", span.location());
    assert_eq!(span.line, 4);

    std::fs::write(directory.path().join("lib/checks.rhai"), "fn ok() {\n  let x = ;\n}\n").unwrap();
    let rendered = crate::script::load(&script, EventSink::new(|_| {})).unwrap_err().render();
    assert!(rendered.contains("lib/checks.rhai:2:"), "{rendered}");
}

#[test]
fn a_missing_build_context_is_caught_at_load() {
    let error = load_text("service(#{ name: \"a\", image: \"i\", build_from: \"./no-such-dir\" });").unwrap_err();
    let rendered = error.render();
    assert!(
        rendered.contains("cannot build from `") && rendered.contains("no-such-dir`: it is not a directory"),
        "{rendered}"
    );
    assert!(rendered.contains("services.rhai:1:35"), "{rendered}");
    let error =
        load_text("service(#{ name: \"a\", image: \"i\", build_from: \"./src\", dockerfile: \"Nope\" });").unwrap_err();
    assert!(error.render().contains("it has no `Nope`"), "{}", error.render());
}

/// Only `build_from` is sent to the engine, so a Dockerfile outside it is refused at load,
/// pointing at `dockerfile`, however the path climbs out.
#[test]
fn a_dockerfile_outside_the_build_context_is_refused_at_load() {
    let error = load_text(r#"service(#{ name: "a", image: "i", build_from: "./src", dockerfile: "../Cargo.toml" });"#)
        .unwrap_err();
    assert_eq!(error.exit_code(), crate::error::exit_code::INVALID_INPUT);
    let rendered = error.render();
    // The directory is shown resolved, so only its end is predictable.
    assert!(rendered.contains("/src`: the dockerfile `../Cargo.toml` is outside the build context\n"), "{rendered}");
    assert!(rendered.contains(" --> services.rhai:1:56\n"), "{rendered}");
    assert!(
        rendered.ends_with(
            "hint: only `build_from` is sent to the engine, so the Dockerfile must be inside it: move the Dockerfile, or make `build_from` a directory that holds it\n"
        ),
        "{rendered}"
    );
    let error = load_text(
        r#"service(#{ name: "a", image: "i", build_from: "./src", dockerfile: "script/../../Cargo.toml" });"#,
    )
    .unwrap_err();
    assert!(error.render().contains("the dockerfile `script/../../Cargo.toml` is outside"), "{}", error.render());
    // A path that climbs within the context is inside; the engine sees it cleaned.
    project(r#"service(#{ name: "a", image: "i", build_from: "./src", dockerfile: "script/../lib.rs" });"#);
}

#[test]
fn exec_passes_env_for_one_command_and_checks_its_options() {
    let project = project(
        r#"service(#{ name: "a", image: "i",
    post_start: |ctx| {
        ctx.out = exec("a", ["mysqladmin", "ping"], #{ env: #{ MYSQL_PWD: "pw", N: 1 } }).stdout;
        ctx.ok = boss::mysql_ready("a", "root", "pw");
        try { exec("a", "true", #{ evn: #{} }); } catch (error) { ctx.unknown = error; }
        try { exec("a", "true", #{ env: #{ "A=B": "x" } }); } catch (error) { ctx.bad_name = error; }
    },
});
"#,
    );
    let access: Arc<dyn crate::hook::ContainerAccess> = Arc::new(FixedPorts);
    let limits = CallLimits { deadline: Instant::now() + Duration::from_secs(5), cancel: CancellationToken::new() };
    let context = Context::default();
    project.hooks.call("a", HookKind::PostStart, &context, &limits, &access).unwrap();
    assert_eq!(context.get("out"), Some(serde_json::json!("MYSQL_PWD=pw N=1 mysqladmin ping")));
    assert_eq!(context.get("ok"), Some(serde_json::json!(true)));
    assert_eq!(
        context.get("unknown"),
        Some(serde_json::json!("exec: unknown option `evn` (the only option is `env`); did you mean `env`?"))
    );
    assert_eq!(
        context.get("bad_name"),
        Some(serde_json::json!("exec: env name `A=B` cannot be used: it contains `=`"))
    );
}

#[test]
fn env_names_docker_cannot_take_are_refused() {
    // The written key (a Rhai string literal) and how the error shows it, escaped.
    for (written, shown, problem) in
        [("A\\nB", "A\\nB", "a line break"), ("A=B", "A=B", "`=`"), ("A\\x00", "A\\0", "a NUL character")]
    {
        let script = format!("service(#{{ name: \"a\", image: \"i\", env: #{{ \"{written}\": \"x\" }} }});");
        check_error(
            &script,
            &format!(
                r#"
        error: invalid env name `{shown}`: it contains {problem}
         --> services.rhai:1:35
          |
        1 | {script}
          |                                   ^
        hint: Docker passes env as `NAME=value` lines; use letters, digits and `_` in names, like `DB_URL`
        "#
            ),
        );
    }
}

#[test]
fn container_paths_must_be_normal_and_map_paths_free_of_colons() {
    for (path, normalised) in [("/x/../etc", "/etc"), ("/x/./y", "/x/y"), ("//x", "/x")] {
        let script = format!("service(#{{ name: \"a\", image: \"i\", volumes: [\"./d:{path}\"] }});");
        check_error(
            &script,
            &format!(
                r#"
        error: container path `{path}` is not in normal form
         --> services.rhai:1:35
          |
        1 | {script}
          |                                   ^
        hint: write `{normalised}`; boss compares container paths as written, so `.`, `..` and `//` are refused
        "#
            ),
        );
    }
    let project = project(r#"service(#{ name: "a", image: "i", volumes: ["./d:/data/"] });"#);
    assert_eq!(project.services["a"].volumes[0].container, "/data", "a trailing `/` is dropped");
    check_error(
        "service(#{ name: \"a\", image: \"i\", volumes: #{ \"./a:b\": #{ bind: \"/d\" } } });",
        r#"
        error: the host path `./a:b` of a volume contains `:`
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", volumes: #{ "./a:b": #{ bind: "/d" } } });
          |                                   ^
        hint: Docker separates host path, container path and mode with `:`, so a path cannot hold one; mount a parent directory instead
        "#,
    );
    check_error(
        "service(#{ name: \"a\", image: \"i\", volumes: #{ \"./d\": #{ bind: \"/d:ro\" } } });",
        r#"
        error: the container path `/d:ro` of a volume contains `:`
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", volumes: #{ "./d": #{ bind: "/d:ro" } } });
          |                                   ^
        hint: Docker separates host path, container path and mode with `:`, so a path cannot hold one; mount a parent directory instead
        "#,
    );
}

#[test]
fn an_env_written_as_a_string_is_not_echoed() {
    check_error(
        "service(#{ name: \"a\", image: \"i\", env: \"DB_PASSWORD=s3cret\" });",
        r#"
        error: field `env` must be a map of names to values, got a string
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", env: "DB_PASSWORD=s3cret" });
          |                                   ^
        "#,
    );
}

#[test]
fn time_limits_take_seconds_or_a_unit() {
    let limits = |fields: &str| {
        let project = project(&format!("service(#{{ name: \"a\", image: \"i\", {fields} }});"));
        project.services["a"].limits
    };
    let seconds = |seconds: f64| Some(std::time::Duration::from_secs_f64(seconds));
    assert_eq!(limits(""), crate::service::Limits::default());
    assert_eq!(
        limits("wait_timeout: 20, hook_timeout: 2"),
        crate::service::Limits { wait: seconds(20.0), hook: seconds(2.0) }
    );
    assert_eq!(limits("hook_timeout: 0.5").hook, seconds(0.5));
    assert_eq!(limits("hook_timeout: \"500ms\"").hook, seconds(0.5));
    assert_eq!(limits("wait_timeout: \"1m\"").wait, seconds(60.0));
    assert_eq!(limits("wait_timeout: \"1m 30s\"").wait, seconds(90.0));
    assert_eq!(limits("wait_timeout: 86400").wait, seconds(86_400.0));
}

#[test]
fn bad_time_limits_point_at_the_field() {
    check_error(
        "service(#{ name: \"a\", image: \"i\", hook_timeout: \"2\" });",
        r#"
        error: field `hook_timeout` is not a time limit: a string needs a unit, got the string "2"
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", hook_timeout: "2" });
          |                                   ^
        hint: did you mean `2` (seconds) or `"2s"`?
        "#,
    );
    check_error(
        "service(#{ name: \"a\", image: \"i\",\n    wait_timeout: \"2 fortnights\" });",
        r#"
        error: field `wait_timeout` is not a time limit: it is not a duration, got the string "2 fortnights"
         --> services.rhai:2:5
          |
        2 |     wait_timeout: "2 fortnights" });
          |     ^
        hint: write seconds as a number (`2`, `0.5`) or a string with a unit (`"500ms"`, `"2s"`, `"1m"`)
        "#,
    );
    for (value, reason) in [
        ("0", "it must be more than zero, got `0`"),
        ("-1", "it must be more than zero, got `-1`"),
        ("-0.5", "it must be more than zero, got `-0.5`"),
        ("\"0s\"", "it must be more than zero, got the string \"0s\""),
        ("86401", "it must be at most a day, got `86401`"),
        ("\"2d\"", "it must be at most a day, got the string \"2d\""),
        ("true", "it is not a duration, got `true`"),
        ("[2]", "it is not a duration, got an array"),
    ] {
        let error =
            load_text(&format!("service(#{{ name: \"a\", image: \"i\", wait_timeout: {value} }});")).expect_err(value);
        assert_eq!(error.exit_code(), crate::error::exit_code::INVALID_INPUT);
        let rendered = error.render();
        assert!(
            rendered.starts_with(&format!("error: field `wait_timeout` is not a time limit: {reason}\n")),
            "{value}: {rendered}"
        );
    }
}

#[test]
fn container_fields_become_the_model() {
    use crate::interpolate::Site;
    use crate::service::{Healthcheck, MountSource, RestartPolicy, Tmpfs};
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    let script = r#"
service(#{
    name: "db",
    image: "postgres:16",
    volumes: ["data:/var/lib/data", "./conf:/conf:ro", "cache:/cache:ro"],
    tmpfs: ["/run", "/tmp:size=64m,mode=1777"],
    working_dir: "/srv/{app}",
    extra_hosts: ["db.local:10.0.0.5", "peer:{peer_ip}"],
    labels: #{ team: "core", "com.example.url": "http://{host}" },
    restart: "on-failure:3",
    mem_limit: "1.5g",
    cpus: 0.5,
    init: true,
    healthcheck: #{ test: "pg_isready", interval: "2s", timeout: 1, retries: 5, start_period: "500ms" },
    build_from: ".",
    build_args: #{ VERSION: 16, MODE: "fast" },
    build_target: "runtime",
    cmd: ["serve", "--name={name}"],
});
service(#{ name: "web", image: "nginx", tmpfs: #{ "/cache": "size=1m" }, healthcheck: #{ test: ["curl", "-f", "x"] },
    restart: "unless-stopped", mem_limit: 104857600, labels: ["a=1", "b=x=y"] });
service(#{ name: "off", image: "nginx", healthcheck: #{ disable: true }, extra_hosts: #{ "h": "host-gateway" }, cpus: "2" });
"#;
    std::fs::write(directory.path().join("services.rhai"), script).unwrap();
    let project = load_source(&directory.path().join("services.rhai"), script.to_string(), EventSink::new(|_| {}))
        .unwrap_or_else(|error| panic!("{}", error.render()));
    let db = &project.services["db"];
    assert_eq!(db.volumes[0].source, MountSource::Named("data".into()));
    assert_eq!(db.volumes[0].bind_string("shop"), "shop.data:/var/lib/data:rw");
    assert_eq!(db.volumes[1].source, MountSource::Host(project.directory.join("conf")));
    assert_eq!(db.volumes[2].bind_string("shop"), "shop.cache:/cache:ro");
    assert_eq!(
        db.tmpfs,
        [
            Tmpfs { path: "/run".into(), options: String::new() },
            Tmpfs { path: "/tmp".into(), options: "size=64m,mode=1777".into() }
        ]
    );
    assert_eq!(db.working_dir.as_deref(), Some("/srv/{app}"));
    assert_eq!(db.extra_hosts, [("db.local".into(), "10.0.0.5".into()), ("peer".into(), "{peer_ip}".into())]);
    assert_eq!(db.labels, [("com.example.url".into(), "http://{host}".into()), ("team".into(), "core".into())]);
    assert_eq!(db.restart, RestartPolicy::OnFailure { max_retries: Some(3) });
    assert_eq!(db.resources.memory, Some(1_610_612_736));
    assert_eq!(db.resources.nano_cpus, Some(500_000_000));
    assert!(db.init);
    assert_eq!(
        db.healthcheck,
        Some(Healthcheck {
            test: vec!["CMD-SHELL".into(), "pg_isready".into()],
            interval: Some(Duration::from_secs(2)),
            timeout: Some(Duration::from_secs(1)),
            retries: Some(5),
            start_period: Some(Duration::from_millis(500)),
        })
    );
    assert_eq!(db.build.args, [("MODE".into(), "fast".into()), ("VERSION".into(), "16".into())]);
    assert_eq!(db.build.target.as_deref(), Some("runtime"));
    let sites: Vec<Site> = crate::plan::templates(db)
        .into_iter()
        .filter(|(_, text)| !crate::interpolate::keys(text).is_empty())
        .map(|(site, _)| site)
        .collect();
    assert_eq!(
        sites,
        [Site::Cmd, Site::WorkingDir, Site::Label("com.example.url".into()), Site::ExtraHost("peer".into())]
    );

    let web = &project.services["web"];
    assert_eq!(web.tmpfs, [Tmpfs { path: "/cache".into(), options: "size=1m".into() }]);
    assert_eq!(web.healthcheck.as_ref().unwrap().test, ["CMD", "curl", "-f", "x"]);
    assert_eq!(web.restart, RestartPolicy::UnlessStopped);
    assert_eq!(web.resources.memory, Some(104_857_600));
    assert_eq!(web.labels, [("a".into(), "1".into()), ("b".into(), "x=y".into())]);
    let off = &project.services["off"];
    assert_eq!(off.healthcheck.as_ref().unwrap().test, ["NONE"]);
    assert_eq!(off.extra_hosts, [("h".into(), "host-gateway".into())]);
    assert_eq!(off.resources.nano_cpus, Some(2_000_000_000), "compose writes `cpus: \"2\"`");
}

#[test]
fn container_fields_are_checked_at_load() {
    check_error(
        r#"service(#{ name: "a", image: "i", labels: #{ "boss.group": "other" } });"#,
        r#"
        error: invalid `labels` entry `boss.group`: labels starting with `boss.` are boss's own
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", labels: #{ "boss.group": "other" } });
          |                                   ^
        hint: rename the label; boss sets `boss.group`, `boss.service` and the others itself
        "#,
    );
    check_error(
        r#"service(#{ name: "a", image: "i", volumes: ["my data:/d"] });"#,
        r#"
        error: invalid volume `my data:/d`: the source is neither a host path (starting with `.`, `/` or `~`) nor a volume name (letters, digits, `-` and `_`)
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", volumes: ["my data:/d"] });
          |                                   ^
        hint: write `"./host:/container"`, `"./host:/container:ro"` or `"name:/container"` (a named volume), or a map `#{ "./data": #{ bind: "/data", mode: "ro" } }`
        "#,
    );
    check_error(
        r#"service(#{ name: "a", image: "i", restart: "sometimes" });"#,
        r#"
        error: invalid `restart` entry `sometimes`: it is not a restart policy
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", restart: "sometimes" });
          |                                   ^
        hint: use `"no"`, `"always"`, `"on-failure"`, `"on-failure:3"` or `"unless-stopped"`
        "#,
    );
    check_error(
        r#"service(#{ name: "a", image: "i", mem_limit: "lots" });"#,
        r#"
        error: invalid `mem_limit` entry `lots`: it is not a size
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", mem_limit: "lots" });
          |                                   ^
        hint: write bytes as a number, or a string with a unit: `"512m"`, `"1g"`
        "#,
    );
    check_error(
        r#"service(#{ name: "a", image: "i", mem_limit: "1m" });"#,
        r#"
        error: invalid `mem_limit` entry `1m`: Docker needs at least 6 MiB
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", mem_limit: "1m" });
          |                                   ^
        hint: write bytes as a number, or a string with a unit: `"512m"`, `"1g"`
        "#,
    );
    check_error(
        r#"service(#{ name: "a", image: "i", cpus: 0 });"#,
        r#"
        error: invalid `cpus` entry `0`: it must be a number of CPUs from 0.01 to 1024
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", cpus: 0 });
          |                                   ^
        hint: write a number like `1` or `0.5`
        "#,
    );
    check_error(
        r#"service(#{ name: "a", image: "i", tmpfs: ["/tmp", "data"] });"#,
        r#"
        error: invalid `tmpfs` entry `data`: the container path must be absolute
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", tmpfs: ["/tmp", "data"] });
          |                                   ^
        hint: write an absolute path like `/app`
        "#,
    );
    check_error(
        r#"service(#{ name: "a", image: "i", volumes: ["data:/d"], tmpfs: "/d" });"#,
        r#"
        error: invalid `tmpfs` entry `/d`: this container path is mounted twice
         --> services.rhai:1:57
          |
        1 | service(#{ name: "a", image: "i", volumes: ["data:/d"], tmpfs: "/d" });
          |                                                         ^
        hint: mount each container path once, in `volumes` or in `tmpfs`
        "#,
    );
    check_error(
        r#"service(#{ name: "a", image: "i", extra_hosts: ["db.local:somewhere"] });"#,
        r#"
        error: invalid `extra_hosts` entry `db.local:somewhere`: the address must be an IP address or `host-gateway`
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", extra_hosts: ["db.local:somewhere"] });
          |                                   ^
        hint: write `#{ "db.local": "10.0.0.5" }`; `{key}` fills the address in from the context
        "#,
    );
    check_error(
        r#"service(#{ name: "a", image: "i", working_dir: "app" });"#,
        r#"
        error: invalid `working_dir` entry `app`: the container path must be absolute
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", working_dir: "app" });
          |                                   ^
        hint: write an absolute path like `/app`
        "#,
    );
    check_error(
        r#"service(#{ name: "a", image: "i", cmd: ["echo", "{unclosed"] });"#,
        r#"
        error: invalid `cmd` entry `{unclosed`: a `{` is not closed; write `{{` for a literal brace
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", cmd: ["echo", "{unclosed"] });
          |                                   ^
        "#,
    );
    check_error(
        r#"service(#{ name: "a", image: "i", labels: #{ url: "http://{host" } });"#,
        r#"
        error: invalid `labels` entry `url`: a `{` is not closed; write `{{` for a literal brace
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", labels: #{ url: "http://{host" } });
          |                                   ^
        "#,
    );
    check_error(
        r#"service(#{ name: "a", image: "i", healthcheck: #{ tset: "true" } });"#,
        r#"
        error: invalid `healthcheck` entry `tset`: there is no such key
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", healthcheck: #{ tset: "true" } });
          |                                   ^
        hint: did you mean `test`?
        "#,
    );
    check_error(
        r#"service(#{ name: "a", image: "i", healthcheck: #{ interval: "2s" } });"#,
        r#"
        error: invalid `healthcheck` entry `test`: a healthcheck needs a `test` command
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", healthcheck: #{ interval: "2s" } });
          |                                   ^
        hint: write `test: "pg_isready -U postgres"` (run by a shell) or `test: ["CMD", "pg_isready"]`
        "#,
    );
    check_error(
        r#"service(#{ name: "a", image: "i", healthcheck: #{ test: "true", interval: "2" } });"#,
        r#"
        error: field `healthcheck.interval` is not a time limit: a string needs a unit, got the string "2"
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", healthcheck: #{ test: "true", interval: "2" } });
          |                                   ^
        hint: did you mean `2` (seconds) or `"2s"`?
        "#,
    );
    check_error(
        r#"service(#{ name: "a", image: "i", build_args: #{ V: 1 } });"#,
        r#"
        error: invalid `build_args` entry `build_args`: it applies only to an image built with `build_from`
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", build_args: #{ V: 1 } });
          |                                   ^
        hint: set `build_from` to the build context, or remove the field
        "#,
    );
    check_error(
        r#"service(#{ name: "a", image: "i", init: "yes" });"#,
        r#"
        error: field `init` must be `true` or `false`, got the string "yes"
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", init: "yes" });
          |                                   ^
        "#,
    );
}

#[test]
fn jobs_and_external_services_become_the_model() {
    let project = project(
        r#"
service(#{ name: "db", external: true, ping: || true, pre_stop: || {}, post_stop: || {} });
service(#{ name: "migrate", image: "i", job: true, dependencies: ["db"], post_start: |ctx| {} });
service(#{ name: "web", image: "i", job: false, external: false, dependencies: ["migrate"] });
"#,
    );
    let db = &project.services["db"];
    assert_eq!(db.kind, crate::service::ServiceKind::External);
    assert_eq!(db.image, "");
    assert!(db.hooks.ping && db.hooks.pre_stop && db.hooks.post_stop && !db.hooks.pre_start);
    assert_eq!(project.services["migrate"].kind, crate::service::ServiceKind::Job);
    assert_eq!(project.services["web"].kind, crate::service::ServiceKind::Container);
}

#[test]
fn a_job_refuses_ping() {
    check_error(
        "service(#{ name: \"a\", image: \"i\", job: true,\n  ping: || true });",
        r#"
        error: field `ping` cannot be used with `job: true`
         --> services.rhai:2:3
          |
        2 |   ping: || true });
          |   ^
        hint: a job has started when its container exits with status 0; remove `ping` (a `post_start` runs after that)
        "#,
    );
    check_error(
        "service(#{ name: \"a\", image: \"i\", job: \"yes\" });",
        r#"
        error: field `job` must be `true` or `false`, got the string "yes"
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", job: "yes" });
          |                                   ^
        "#,
    );
}

#[test]
fn an_external_service_refuses_container_fields() {
    check_error(
        "service(#{ name: \"db\", external: true,\n  ports: #{ \"5432\": 5432 } });",
        r#"
        error: field `ports` cannot be used with `external: true`
         --> services.rhai:2:3
          |
        2 |   ports: #{ "5432": 5432 } });
          |   ^
        hint: boss creates no container for an external service; remove `ports` (its `ping` and hooks reach it from the host)
        "#,
    );
    check_error(
        "service(#{ name: \"db\", image: \"postgres:16\", external: true });",
        r#"
        error: field `image` cannot be used with `external: true`
         --> services.rhai:1:24
          |
        1 | service(#{ name: "db", image: "postgres:16", external: true });
          |                        ^
        hint: boss creates no container for an external service; remove `image` (its `ping` and hooks reach it from the host)
        "#,
    );
    check_error(
        "service(#{ name: \"db\", external: true,\n  working_dir: \"/srv\" });",
        r#"
        error: field `working_dir` cannot be used with `external: true`
         --> services.rhai:2:3
          |
        2 |   working_dir: "/srv" });
          |   ^
        hint: boss creates no container for an external service; remove `working_dir` (its `ping` and hooks reach it from the host)
        "#,
    );
    check_error(
        "service(#{ name: \"db\", external: true, job: true });",
        r#"
        error: field `job` cannot be used with `external: true`
         --> services.rhai:1:40
          |
        1 | service(#{ name: "db", external: true, job: true });
          |                                        ^
        hint: boss runs no container for an external service; remove `job` or `external`
        "#,
    );
}

#[test]
fn stop_hooks_must_be_closures() {
    check_error(
        "service(#{ name: \"a\", image: \"i\", pre_stop: 1 });",
        r#"
        error: field `pre_stop` must be a closure like `|ctx| { ... }` or `|| true`, got `1`
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", pre_stop: 1 });
          |                                   ^
        "#,
    );
}

#[test]
fn secrets_profiles_and_env_files_are_checked_at_load() {
    check_error(
        r#"service(#{ name: "a", image: "i", secrets: #{ pw: #{ env: "PW", file: "./pw" } } });"#,
        r#"
        error: invalid secret `pw`: it names more than one source: `env` and `file`
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", secrets: #{ pw: #{ env: "PW", file: "./pw" } } });
          |                                   ^
        hint: write `secrets: #{ db_password: #{ env: "DB_PASSWORD" } }`, or `#{ file: "./secret.txt" }`, or `#{ context: "key" }`
        "#,
    );
    check_error(
        r#"service(#{ name: "a", image: "i", secrets: #{ "../pw": #{ env: "PW" } } });"#,
        r#"
        error: invalid secret `../pw`: the name must be a file name (letters, digits, `-`, `_` and `.`, not first)
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", secrets: #{ "../pw": #{ env: "PW" } } });
          |                                   ^
        hint: write `secrets: #{ db_password: #{ env: "DB_PASSWORD" } }`, or `#{ file: "./secret.txt" }`, or `#{ context: "key" }`
        "#,
    );
    check_error(
        r#"service(#{ name: "a", image: "i", volumes: ["./x:/run/secrets/pw"], secrets: #{ pw: #{ context: "pw" } } });"#,
        r#"
        error: invalid secret `pw`: `volumes` mounts something at `/run/secrets/pw` too
         --> services.rhai:1:69
          |
        1 | service(#{ name: "a", image: "i", volumes: ["./x:/run/secrets/pw"], secrets: #{ pw: #{ context: "pw" } } });
          |                                                                     ^
        hint: write `secrets: #{ db_password: #{ env: "DB_PASSWORD" } }`, or `#{ file: "./secret.txt" }`, or `#{ context: "key" }`
        "#,
    );
    check_error(
        r#"service(#{ name: "a", image: "i", profiles: "debug" });"#,
        r#"
        error: field `profiles` must be an array of profile names, got the string "debug"
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", profiles: "debug" });
          |                                   ^
        "#,
    );
    check_error(
        r#"service(#{ name: "a", image: "i", env_file: "./missing.env" });"#,
        r#"
        error: env file `./missing.env` cannot be read: No such file or directory (os error 2)
         --> services.rhai:1:35
          |
        1 | service(#{ name: "a", image: "i", env_file: "./missing.env" });
          |                                   ^
        hint: write `NAME=value` lines; `#` starts a comment; quote values with spaces or `#`
        "#,
    );
    let project =
        project(r#"service(#{ name: "a", image: "i", profiles: ["debug", "ci"], secrets: #{ pw: #{ env: "PW" } } });"#);
    let service = &project.services["a"];
    assert_eq!(service.profiles, ["debug", "ci"]);
    assert_eq!(service.secrets[0].source, crate::service::SecretSource::Env("PW".into()));
    assert_eq!(service.secrets[0].target(), "/run/secrets/pw");
}
