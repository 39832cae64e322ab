//! `boss reload SERVICE` on the chain db <- api <- web, where api is built from `./api`:
//! api is rebuilt and gets a new container, web is restarted (recreated with `--remove`), db
//! is never touched, the context and the network survive, and a reload that cannot be done
//! is refused before anything is touched.

use std::collections::BTreeMap;

use crate::common::{CONTEXT_FILE, Project, container_env, containers, inspect, networks};

const SCRIPT: &str = r#"group("@GROUP@");

service(#{
    name: "db",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    post_start: |ctx| {
        ctx.seed = "seed-42";
        log("db-post-start");
    },
});

service(#{
    name: "api",
    image: "@GROUP@-api:dev",
    build_from: "./api",
    dependencies: ["db"],
    env: #{ SEED: "{seed}" },
    stop_signal: "SIGKILL",
    post_start: || log("api-post-start"),
});

service(#{
    name: "web",
    image: "@IMAGE@",
    dependencies: ["api"],
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    post_start: || log("web-post-start"),
});
"#;

const DOCKERFILE: &str = r#"FROM @IMAGE@
COPY . /app
CMD ["sleep", "3600"]
"#;

/// Writes the script and api's build context, with `version` in `api/version.txt`.
fn chain(test_name: &str) -> Project {
    let project = Project::new(test_name);
    project.script(SCRIPT);
    project.file("api/Dockerfile", &project.expand(DOCKERFILE)).file("api/version.txt", "v1\n");
    project
}

/// Each service's container id, asserting that every service has exactly one container and
/// that it is running.
#[track_caller]
fn running_ids(project: &Project) -> BTreeMap<String, String> {
    let rows = containers(project.group());
    let ids: BTreeMap<String, String> = rows.iter().map(|row| (row.service.clone(), row.id.clone())).collect();
    assert_eq!(ids.keys().collect::<Vec<_>>(), ["api", "db", "web"], "{rows:#?}");
    assert_eq!(rows.len(), 3, "one container per service: {rows:#?}");
    assert!(rows.iter().all(|row| row.state == "running"), "{rows:#?}");
    ids
}

/// When the container `id` was last started, which a stop and start would change.
fn started_at(id: &str) -> String {
    inspect(id, "{{.State.StartedAt}}")
}

/// Starts the chain and checks the context `db` wrote.
#[track_caller]
fn start_chain(project: &Project) -> BTreeMap<String, String> {
    project.run(["start"]).success().stderr_contains("db | db-post-start");
    let context = project.context().expect("the context file is written");
    assert!(context.contains(r#""seed": "seed-42""#), "{context}");
    running_ids(project)
}

/// The context still holds db's value, api's new container got it, and the network is there.
#[track_caller]
fn assert_context_and_network_kept(project: &Project, api: &str) {
    let context = project.context().expect("the context file is kept");
    assert!(context.contains(r#""seed": "seed-42""#), "{context}");
    let env = container_env(api);
    assert!(env.contains(&"SEED=seed-42".to_owned()), "api's env is filled from the saved context: {env:?}");
    let group = project.group();
    assert_eq!(networks(group), [format!("boss-{group}")], "reload never removes the network");
}

#[test]
fn reload_rebuilds_the_service_restarts_dependants_and_leaves_dependencies_alone() {
    let project = chain("reload_chain");
    let group = project.group().to_owned();
    let before = start_chain(&project);
    let db_started = started_at(&before["db"]);
    let api_image = inspect(&before["api"], "{{.Image}}");

    project.file("api/version.txt", "v2\n");
    let output = project.run(["reload", "api"]);
    output
        .success()
        .stderr_contains(&format!("api: building image {group}-api:dev"))
        .stderr_contains("api (build) | Step 1/")
        .stderr_contains(&format!("api: recreating: reloading (removing {group}.api)"))
        .stderr_contains("api | api-post-start")
        .stderr_contains(&format!("web: restarting stopped container {group}.web"))
        .stderr_contains(&format!("db: already running ({group}.db)"))
        .stderr_lacks("db: stopping")
        .stderr_lacks("db-post-start")
        .stderr_lacks("web-post-start")
        .stderr_lacks("web: creating container")
        // Built first, then dependants stopped before the service itself.
        .lines_in_order("api: building image", "web: stopping")
        .lines_in_order("web: stopped", "api: stopping")
        .lines_in_order("api: started in", "web: restarting");

    let after = running_ids(&project);
    assert_ne!(after["api"], before["api"], "api gets a new container");
    assert_eq!(after["web"], before["web"], "web is restarted, not recreated");
    assert_eq!(after["db"], before["db"], "db is untouched");
    assert_eq!(started_at(&after["db"]), db_started, "db was never stopped");
    assert_ne!(inspect(&after["api"], "{{.Image}}"), api_image, "api runs the new build");
    let version = crate::common::docker(["exec", &after["api"], "cat", "/app/version.txt"]);
    assert_eq!(version, "v2\n");
    assert_context_and_network_kept(&project, &after["api"]);
}

#[test]
fn reload_with_remove_recreates_the_dependants_too() {
    let project = chain("reload_remove");
    let group = project.group().to_owned();
    let before = start_chain(&project);
    let db_started = started_at(&before["db"]);

    project
        .run(["reload", "api", "--remove"])
        .success()
        .stderr_contains(&format!("web: removed {group}.web"))
        .stderr_contains(&format!("api: removed {group}.api"))
        .stderr_contains("api | api-post-start")
        .stderr_contains("web | web-post-start")
        .stderr_contains(&format!("web: creating container {group}.web"))
        .stderr_lacks("db: stopping")
        .stderr_lacks("db-post-start")
        .stderr_lacks("removed network")
        .stderr_lacks("removed the context file");

    let after = running_ids(&project);
    assert_ne!(after["api"], before["api"], "api gets a new container");
    assert_ne!(after["web"], before["web"], "web is recreated with --remove");
    assert_eq!(after["db"], before["db"], "db is untouched");
    assert_eq!(started_at(&after["db"]), db_started, "db was never stopped");
    assert_context_and_network_kept(&project, &after["api"]);
}

#[test]
fn reload_takes_the_script_path_from_another_directory() {
    let project = chain("reload_file_arg");
    project.file("elsewhere/.keep", "");
    let before = start_chain(&project);

    let script = project.path("services.rhai").display().to_string();
    project
        .boss(["reload", script.as_str(), "api"])
        .current_dir("elsewhere")
        .run()
        .success()
        .stderr_contains("api | api-post-start");
    let after = running_ids(&project);
    assert_ne!(after["api"], before["api"], "api gets a new container");
    assert_eq!(after["web"], before["web"]);
    assert_eq!(after["db"], before["db"]);

    // A relative path works as well, and is the same project as far as ownership goes.
    project.boss(["reload", "../services.rhai", "api"]).current_dir("elsewhere").run().success();
    let again = running_ids(&project);
    assert_ne!(again["api"], after["api"]);
    assert_eq!(again["db"], before["db"]);

    assert!(project.read(format!("elsewhere/{CONTEXT_FILE}")).is_none(), "the context lives beside the script");
    assert_context_and_network_kept(&project, &again["api"]);
}

#[test]
fn reload_of_an_unknown_or_unbuildable_service_is_refused_without_touching_anything() {
    let project = chain("reload_refused");
    let before = start_chain(&project);
    let started: BTreeMap<String, String> =
        before.iter().map(|(service, id)| (service.clone(), started_at(id))).collect();

    project
        .run(["reload", "apii"])
        .code(2)
        .stderr_contains("error: unknown service `apii`")
        .stderr_contains("hint: did you mean `api`?")
        .stderr_lacks("building image")
        .stderr_lacks("stopping");
    project
        .run(["reload", "db"])
        .code(2)
        .stderr_contains("error: service `db` cannot be reloaded: it has no `build_from`")
        .stderr_lacks("building image")
        .stderr_lacks("stopping");

    let after = running_ids(&project);
    assert_eq!(after, before, "no container was replaced");
    for (service, id) in &after {
        assert_eq!(started_at(id), started[service], "`{service}` was restarted");
    }
}
