//! The library API on the real engine: `boss::Group` started from Rust test code, two groups
//! at once in one process, clean-up when a handle is dropped, and failures as typed errors.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{GroupGuard, container, containers, fixture_image, networks, unique_group};

/// A temporary directory for one test's scripts, removed on drop.
struct Directory(std::path::PathBuf);

impl Directory {
    fn new(name: &str) -> Directory {
        let path = std::env::temp_dir().join(format!("boss-lib-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Directory(path)
    }
}

impl Drop for Directory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `db` publishes a port Docker picks and sets a value in `post_start`; `api` depends on it
/// and receives the value in its env.
fn script() -> String {
    r#"
service(#{
    name: "db",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    ports: #{ "5432": 0 },
    stop_signal: "SIGKILL",
    post_start: |ctx| { ctx.admin_id = 42; log("db is seeded"); },
});
service(#{
    name: "api",
    image: "@IMAGE@",
    dependencies: ["db"],
    env: #{ ADMIN_ID: "{admin_id}" },
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
});
"#
    .replace("@IMAGE@", &fixture_image())
}

#[tokio::test]
async fn two_groups_start_in_parallel_in_one_process_and_stop_on_request_or_drop() {
    let directory = Directory::new("parallel");
    let (first_name, second_name) = (unique_group("lib_parallel_a"), unique_group("lib_parallel_b"));
    let _guards = (GroupGuard::new(&first_name), GroupGuard::new(&second_name));
    let events = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&events);
    let first = boss::Group::from_source(&script(), &directory.0)
        .unwrap()
        .name(&first_name)
        .events(move |event| recorded.lock().unwrap().push(format!("{event:?}")));
    let second = boss::Group::from_source(&script(), &directory.0).unwrap().name(&second_name);

    let (first, second) = tokio::join!(first.start(), second.start());
    let (first, second) = (first.unwrap(), second.unwrap());

    // Both run at once, each with its own containers, network and context file.
    for name in [&first_name, &second_name] {
        assert_eq!(container(name, "db").unwrap().state, "running");
        assert_eq!(container(name, "api").unwrap().state, "running");
        assert_eq!(networks(name), [format!("boss-{name}")]);
        let context_file = directory.0.join(format!(".boss-context.services.{name}"));
        assert!(std::fs::read_to_string(&context_file).unwrap().contains("\"admin_id\": 42"));
    }
    assert_eq!(first.context().get("admin_id"), Some(serde_json::json!(42)));
    let port = first.port("db", 5432).unwrap();
    let published = crate::common::docker(["port", &format!("{first_name}.db"), "5432"]);
    assert!(published.contains(&format!(":{port}")), "{published} vs {port}");
    assert!(matches!(first.port("db", 1), Err(boss::Error::NoPublishedPort { .. })));
    let seen = events.lock().unwrap().join("\n");
    assert!(seen.contains("db is seeded"), "the hook's log reached the caller's sink:\n{seen}");

    first.stop().remove().await.unwrap();
    assert_eq!(containers(&first_name), []);
    assert_eq!(networks(&first_name), Vec::<String>::new());
    assert_eq!(container(&second_name, "db").unwrap().state, "running", "the other group is untouched");

    drop(second);
    assert_eq!(containers(&second_name), [], "dropping the handle removed the group");
    assert_eq!(networks(&second_name), Vec::<String>::new());
}

#[tokio::test]
async fn a_failed_start_is_a_typed_error_and_leaves_nothing_behind() {
    let directory = Directory::new("failure");
    let name = unique_group("lib_failure");
    let _guard = GroupGuard::new(&name);
    let script = format!(
        r#"
service(#{{ name: "db", image: "{image}", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" }});
service(#{{ name: "api", image: "{image}", dependencies: ["db"], cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
    ping: || false }});
"#,
        image = fixture_image()
    );
    let started = boss::Group::from_source(&script, &directory.0)
        .unwrap()
        .name(&name)
        .timeout(Duration::from_secs(1))
        .start()
        .await;
    match started {
        Err(boss::Error::ServicesFailed { failed, .. }) => assert_eq!(failed, ["api"]),
        Err(other) => panic!("expected ServicesFailed, got {other}"),
        Ok(_) => panic!("the start should fail"),
    }
    assert_eq!(containers(&name), [], "what did start was removed again");
}

#[tokio::test]
async fn script_errors_are_typed_and_displayed_like_the_cli() {
    let directory = Directory::new("script_error");
    let error = match boss::Group::from_source(r#"service(#{ name: "a", imag: "x" });"#, &directory.0) {
        Err(error) => error,
        Ok(_) => panic!("the script is invalid"),
    };
    assert!(matches!(error, boss::Error::Script(_)));
    let shown = error.to_string();
    assert!(shown.starts_with("error: unknown field `imag`"), "{shown}");
    assert!(shown.contains("hint: did you mean `image`?"), "{shown}");
    let error: Box<dyn std::error::Error> = Box::new(error);
    assert!(!error.to_string().is_empty());
    let bad_name = boss::Group::from_source(r#"service(#{ name: "a", image: "x" });"#, &directory.0)
        .unwrap()
        .name("not a hostname")
        .start()
        .await;
    assert!(matches!(bad_name, Err(boss::Error::BadGroupName { .. })));
}

#[tokio::test]
async fn a_kept_group_is_stopped_later_from_a_freshly_loaded_group() {
    let directory = Directory::new("keep");
    let name = unique_group("lib_keep");
    let _guard = GroupGuard::new(&name);
    let load = || boss::Group::from_source(&script(), &directory.0).unwrap().name(&name);
    load().start().await.unwrap().keep();
    assert_eq!(container(&name, "api").unwrap().state, "running", "kept after the handle is gone");

    // `api` would keep running without its dependency: refused before anything is stopped.
    let refused = load().exclude(["api"]).stop().await;
    assert!(refused.is_err_and(|error| error.exit_code() == 2));
    assert_eq!(container(&name, "db").unwrap().state, "running");
    load().stop().remove().await.unwrap();
    assert_eq!(containers(&name), []);
    assert!(!directory.0.join(format!(".boss-context.services.{name}")).exists(), "the context file is removed");
}

#[tokio::test]
async fn reload_rebuilds_and_recreates_a_service_from_rust() {
    let directory = Directory::new("reload");
    let name = unique_group("lib_reload");
    let _guard = GroupGuard::new(&name);
    std::fs::create_dir_all(directory.0.join("app")).unwrap();
    std::fs::write(
        directory.0.join("app/Dockerfile"),
        format!("FROM {}\nCMD [\"sleep\", \"3600\"]\n", fixture_image()),
    )
    .unwrap();
    let script =
        format!(r#"service(#{{ name: "app", image: "{name}-app:dev", build_from: "app", stop_signal: "SIGKILL" }});"#);
    let load = || boss::Group::from_source(&script, &directory.0).unwrap().name(&name);
    load().start().await.unwrap().keep();
    let before = container(&name, "app").unwrap().id;

    let unknown = load().reload("ap").await;
    assert!(unknown.is_err_and(|error| error.exit_code() == 2 && error.to_string().contains("did you mean `app`?")));

    let running = load().reload("app").await.unwrap();
    let after = container(&name, "app").unwrap();
    assert_ne!(after.id, before, "a new container");
    assert_eq!(after.state, "running");
    drop(running);
    assert_eq!(containers(&name), []);
}

#[tokio::test]
async fn running_stop_runs_the_stop_hooks_and_a_job_completes_before_its_dependant() {
    let directory = Directory::new("stop_hooks");
    let name = unique_group("lib_stop_hooks");
    let _guard = GroupGuard::new(&name);
    let script = format!(
        r#"
service(#{{ name: "seed", image: "{image}", job: true, cmd: ["sh", "-c", "echo seeded"],
    post_start: |ctx| {{ ctx.seeded = logs().contains("seeded"); }} }});
service(#{{ name: "db", image: "{image}", dependencies: ["seed"], cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
    pre_stop: |ctx| {{ ctx.dumped = exec_ok(["true"]); log("dumping"); }},
    post_stop: || log("stopped db") }});
"#,
        image = fixture_image()
    );
    let events = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&events);
    let running = boss::Group::from_source(&script, &directory.0)
        .unwrap()
        .name(&name)
        .events(move |event| recorded.lock().unwrap().push(format!("{event:?}")))
        .start()
        .await
        .unwrap();
    assert_eq!(running.context().get("seeded"), Some(serde_json::json!(true)), "post_start ran after the job");
    assert_eq!(container(&name, "seed").unwrap().state, "exited");
    assert_eq!(container(&name, "db").unwrap().state, "running");
    let context = running.context().clone();

    running.stop().remove().await.unwrap();
    assert_eq!(context.get("dumped"), Some(serde_json::json!(true)), "pre_stop reached the running container");
    let seen = events.lock().unwrap().join("\n");
    let (dumping, stopped) = (seen.find("dumping").unwrap(), seen.find("stopped db").unwrap());
    assert!(dumping < stopped, "pre_stop before post_stop:\n{seen}");
    assert_eq!(containers(&name), []);
}

#[tokio::test]
async fn only_and_profiles_select_what_a_start_starts() {
    let directory = Directory::new("only");
    let name = unique_group("lib_only");
    let _guard = GroupGuard::new(&name);
    let script = format!(
        "{}\nservice(#{{ name: \"extra\", image: \"{}\", profiles: [\"extra\"], cmd: [\"sleep\", \"3600\"], stop_signal: \"SIGKILL\" }});\n",
        script(),
        fixture_image()
    );
    let running =
        boss::Group::from_source(&script, &directory.0).unwrap().name(&name).only(["db"]).start().await.unwrap();
    let state = |service: &str| container(&name, service).map(|row| row.state);
    assert_eq!((state("db").as_deref(), state("api"), state("extra")), (Some("running"), None, None));
    running.keep();
    let running =
        boss::Group::from_source(&script, &directory.0).unwrap().name(&name).profiles(["extra"]).start().await.unwrap();
    assert_eq!(state("api").as_deref(), Some("running"));
    assert_eq!(state("extra").as_deref(), Some("running"));
    running.stop().remove().await.unwrap();
    assert_eq!(containers(&name), []);
}
