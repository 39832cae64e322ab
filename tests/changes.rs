//! Change detection: a stopped container is reused only while its service's definition is
//! unchanged, a running one is never replaced but reported as outdated, and
//! `always_start_new` gets a new container on every start. Old containers never pile up.

use crate::common::{Project, container, container_env, containers};

/// One long-running service `api` whose env is `env` (the inside of a Rhai map).
fn script(env: &str) -> String {
    format!(
        r#"group("@GROUP@");

service(#{{
    name: "api",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    env: #{{ {env} }},
}});
"#
    )
}

/// The id of `api`'s container, asserting that it is the service's only container and that
/// it is running.
#[track_caller]
fn running_api(project: &Project) -> String {
    let rows = containers(project.group());
    assert_eq!(rows.len(), 1, "exactly one container: {rows:#?}");
    assert_eq!((rows[0].service.as_str(), rows[0].state.as_str()), ("api", "running"), "{rows:#?}");
    rows[0].id.clone()
}

#[test]
fn unchanged_definition_reuses_and_changed_env_recreates_the_stopped_container() {
    let project = Project::new("changes_env");
    let group = project.group().to_owned();
    project.script(&script(r#"DB_URL: "postgres://db/one", PORT: 8080"#));

    project.run(["start"]).success();
    let first = running_api(&project);

    // Same definition: `PORT: 8080` and `PORT: "8080"` are the same env value.
    project.run(["stop"]).success();
    project.script(&script(r#"DB_URL: "postgres://db/one", PORT: "8080""#));
    project
        .run(["start"])
        .success()
        .stderr_contains(&format!("api: restarting stopped container {group}.api"))
        .stderr_lacks("recreating")
        .stderr_lacks("api: creating container");
    assert_eq!(running_api(&project), first, "the stopped container is reused");

    // A changed env value gives a new container, and says why.
    project.run(["stop"]).success();
    project.script(&script(r#"DB_URL: "postgres://db/two", PORT: "8080""#));
    project
        .run(["start"])
        .success()
        .stderr_contains(&format!("api: recreating: env `DB_URL` changed (removing {group}.api)"))
        .stderr_contains(&format!("api: creating container {group}.api"))
        .stderr_lacks("restarting stopped container");
    let second = running_api(&project);
    assert_ne!(second, first, "a changed definition gets a new container");
    let env = container_env(&second);
    assert!(env.contains(&"DB_URL=postgres://db/two".to_owned()), "{env:?}");
}

#[test]
fn running_container_with_a_changed_definition_is_left_running_and_reported() {
    let project = Project::new("changes_running");
    let group = project.group().to_owned();
    project.script(&script(r#"DB_URL: "postgres://db/one""#));

    project.run(["start"]).success();
    let first = running_api(&project);

    project.script(&script(r#"DB_URL: "postgres://db/two""#));
    project
        .run(["start"])
        .success()
        .stderr_contains(&format!(
            "api: already running ({group}.api) but outdated: env `DB_URL` changed; \
             run `boss stop` then `boss start` to recreate it"
        ))
        .stderr_lacks("recreating")
        .stderr_lacks("api: creating container");
    assert_eq!(running_api(&project), first, "a running container is never replaced by `start`");
    let env = container_env(&first);
    assert!(env.contains(&"DB_URL=postgres://db/one".to_owned()), "the old env is kept: {env:?}");
}

#[test]
fn running_built_service_with_a_changed_definition_suggests_reload() {
    let project = Project::new("changes_running_built");
    let group = project.group().to_owned();
    let script = |mode: &str| {
        format!(
            r#"group("@GROUP@");

service(#{{
    name: "app",
    image: "@GROUP@-app:dev",
    build_from: "./app",
    stop_signal: "SIGKILL",
    env: #{{ MODE: "{mode}" }},
}});
"#
        )
    };
    project.script(&script("one"));
    project.file("app/Dockerfile", &project.expand("FROM @IMAGE@\nCMD [\"sleep\", \"3600\"]\n"));

    project.run(["start"]).success();
    let first = container(&group, "app").expect("`app` has a container");

    project.script(&script("two"));
    project
        .run(["start"])
        .success()
        .stderr_contains(&format!(
            "app: already running ({group}.app) but outdated: env `MODE` changed; run `boss reload app` to recreate it"
        ))
        .stderr_lacks("building image");
    assert_eq!(container(&group, "app").map(|row| row.id), Some(first.id));
}

#[test]
fn always_start_new_gets_a_new_container_on_every_start() {
    let project = Project::new("changes_always_new");
    let group = project.group().to_owned();
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "api",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    always_start_new: true,
    post_start: || log("post-start-ran"),
});
"#,
    );

    project.run(["start"]).success().stderr_contains("api | post-start-ran");
    let mut ids = vec![running_api(&project)];
    for _ in 0..2 {
        project.run(["stop"]).success();
        project
            .run(["start"])
            .success()
            .stderr_contains(&format!("api: recreating: `always_start_new` is set (removing {group}.api)"))
            .stderr_contains("api | post-start-ran")
            .stderr_lacks("restarting stopped container");
        let id = running_api(&project);
        assert!(!ids.contains(&id), "{id} was used before: {ids:?}");
        ids.push(id);
    }

    // A running container is still left alone.
    project
        .run(["start"])
        .success()
        .stderr_contains(&format!("api: already running ({group}.api)"))
        .stderr_lacks("post-start-ran");
    assert_eq!(&running_api(&project), ids.last().unwrap());
}
