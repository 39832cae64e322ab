//! `boss plan`: what `start` would do, printed without changing anything. Runs on the real
//! engine: before a first start, after changes of env, image, ports and build source, with
//! excluded services, with orphans, and with a `{key}` that nothing provides.

use serde_json::Value;

use crate::common::{Project, containers, docker, free_port, networks};

/// `store` publishes a port and sets `admin_id` in `post_start`; `app` needs both; `docs`
/// depends on `app`.
const KEYS: &str = r#"group("@GROUP@");

service(#{
    name: "store",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    ports: #{ "80": 0 },
    post_start: |ctx| { ctx.admin_id = "42"; },
});

service(#{
    name: "app",
    image: "@IMAGE@",
    dependencies: ["store"],
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    env: #{ ADMIN_ID: "{admin_id}", STORE_PORT: "{store_port_80}" },
    ping: || true,
});

service(#{
    name: "docs",
    image: "@IMAGE@",
    dependencies: ["app"],
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
});
"#;

/// The JSON plan of `args` (after `plan --format json`), checking that it goes to stdout.
#[track_caller]
fn json_plan(project: &Project, args: &[&str]) -> Value {
    let mut full = vec!["plan", "--format", "json"];
    full.extend_from_slice(args);
    let output = project.run(full);
    output.success();
    serde_json::from_str(&output.stdout).unwrap_or_else(|error| panic!("not JSON ({error}):\n{output}"))
}

/// The planned entry of `service`.
#[track_caller]
fn service<'plan>(plan: &'plan Value, name: &str) -> &'plan Value {
    plan["services"]
        .as_array()
        .expect("`services` is an array")
        .iter()
        .find(|service| service["name"] == name)
        .unwrap_or_else(|| panic!("no service `{name}` in {plan:#}"))
}

#[test]
fn plan_before_and_after_a_first_start_and_with_excluded_services() {
    let project = Project::new("plan_first_start");
    let group = project.group().to_owned();
    project.script(KEYS);

    project
        .run(["plan"])
        .success()
        .stdout_contains("store  create    no container")
        .stdout_contains("hooks: post_start\n")
        .stdout_contains("app    create    no container")
        .stdout_contains("hooks: ping\n       {admin_id}: from store.post_start, which will run\n")
        .stdout_contains("{store_port_80}: from store.post_start, which will run; from a port store publishes\n")
        .stdout_contains("`start` would change 3 services: `store`, `app`, and `docs`");
    project.run(["plan", "--exit-code"]).code(1);
    assert_eq!(containers(&group), [], "plan creates nothing");
    assert_eq!(networks(&group), Vec::<String>::new(), "plan creates no network");
    assert_eq!(project.context(), None);

    // Every documented field of the JSON plan.
    let plan = json_plan(&project, &[]);
    assert_eq!(plan["group"], group.as_str());
    assert_eq!(plan["changes"], true);
    assert_eq!(plan["excluded"], serde_json::json!([]));
    assert_eq!(plan["orphans"], serde_json::json!([]));
    let app = service(&plan, "app");
    assert_eq!(app["image"], project.expand("@IMAGE@").as_str());
    assert_eq!(app["action"], serde_json::json!({ "kind": "create", "image": "present" }));
    assert_eq!(app["hooks"], serde_json::json!(["ping"]));
    assert_eq!(
        app["keys"],
        serde_json::json!([
            {
                "key": "admin_id",
                "env": ["ADMIN_ID"],
                "sources": [{ "from": "post_start", "service": "store", "runs": "will" }],
                "provided": true,
            },
            {
                "key": "store_port_80",
                "env": ["STORE_PORT"],
                "sources": [
                    { "from": "post_start", "service": "store", "runs": "will" },
                    { "from": "port", "service": "store" },
                ],
                "provided": true,
            },
        ])
    );

    let excluded = json_plan(&project, &["--exclude", "docs"]);
    assert_eq!(excluded["excluded"], serde_json::json!(["docs"]));
    assert!(excluded["services"].as_array().unwrap().iter().all(|service| service["name"] != "docs"));
    project
        .run(["plan", "--exclude", "docs"])
        .success()
        .stdout_contains("docs   excluded  not started by this `start`");
    project
        .run(["plan", "--exclude", "store"])
        .code(2)
        .stderr_contains("error: cannot exclude `store`: `app` depends on it and would be started");

    project.run(["start"]).success();
    project
        .run(["plan", "--exit-code"])
        .success()
        .stdout_contains("store  keep      running, unchanged")
        .stdout_contains("hooks: none")
        .stdout_contains("{admin_id}: from store.post_start, which will not run; the saved context has it\n")
        .stdout_contains("`start` would change nothing");
    let plan = json_plan(&project, &[]);
    assert_eq!(plan["changes"], false);
    let store = service(&plan, "store");
    assert_eq!(store["action"]["kind"], "keep");
    assert_eq!(store["action"]["container"]["name"], format!("{group}.store").as_str());
    assert!(store["action"]["container"]["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(store["action"]["unpause"], false);
    assert_eq!(store["action"]["outdated"], Value::Null);
    assert_eq!(store["hooks"], serde_json::json!([]));
}

#[test]
fn a_key_nothing_provides_is_refused_by_plan_and_by_start() {
    let project = Project::new("plan_missing_key");
    let group = project.group().to_owned();
    project.script(KEYS);
    project.run(["start"]).success();

    // `store` keeps running, so its `post_start` will not run again, and the saved context
    // no longer holds `admin_id`. (Without the context file at all, boss would not know that
    // `store` became ready, and would check it again and run its `post_start`.)
    project.run(["stop", "--exclude", "store"]).success();
    let mut saved: serde_json::Map<String, Value> = serde_json::from_str(&project.context().unwrap()).unwrap();
    saved.remove("admin_id").expect("store's post_start saved admin_id");
    project.file(".boss-context", &serde_json::to_string(&saved).unwrap());
    let refusal = "error: service `app` needs `{admin_id}` in env `ADMIN_ID`, but nothing provides key `admin_id`";
    project
        .run(["plan"])
        .code(2)
        .stdout_contains("{admin_id}: from store.post_start, which will not run\n")
        .stderr_contains(refusal)
        .stderr_contains("hint: ");
    project.run(["start"]).code(2).stderr_contains(refusal).stderr_lacks("restarting");
    let states: Vec<(String, String)> = containers(&group).into_iter().map(|row| (row.service, row.state)).collect();
    assert_eq!(
        states,
        [("app".into(), "exited".into()), ("docs".into(), "exited".into()), ("store".into(), "running".into())]
    );
}

/// One service `api` with `env`, `ports` and `image` as given (Rhai source), and `other`.
fn changing(env: &str, ports: &str, image: &str) -> String {
    format!(
        r#"group("@GROUP@");

service(#{{ name: "api", image: "{image}", cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
    env: #{{ {env} }}, ports: #{{ {ports} }} }});

service(#{{ name: "other", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" }});
"#
    )
}

#[test]
fn plan_names_env_ports_and_image_changes_and_orphans() {
    let project = Project::new("plan_changes");
    let group = project.group().to_owned();
    let port = free_port();
    project.script(&changing(r#"MODE: "one""#, "", "@IMAGE@"));
    project.run(["start"]).success();

    // A running container is kept, and said to be outdated.
    project.script(&changing(r#"MODE: "two""#, "", "@IMAGE@"));
    project
        .run(["plan", "--exit-code"])
        .success()
        .stdout_contains("api    keep      running, outdated: env `MODE` changed");

    project.run(["stop"]).success();
    project
        .run(["plan", "--exit-code"])
        .code(1)
        .stdout_contains("api    recreate  env `MODE` changed")
        .stdout_contains("hooks: none")
        .stdout_contains("other  restart   stopped, unchanged");
    let plan = json_plan(&project, &[]);
    let action = &service(&plan, "api")["action"];
    assert_eq!(action["kind"], "recreate");
    assert_eq!(action["reason"], "env `MODE` changed");
    assert_eq!(action["image"], "present");
    assert_eq!(action["remove"][0]["name"], format!("{group}.api").as_str());
    let other = &service(&plan, "other")["action"];
    assert_eq!((&other["kind"], &other["remove"]), (&Value::from("restart"), &serde_json::json!([])));

    project.script(&changing(r#"MODE: "one""#, &format!(r#""80": {port}"#), "@IMAGE@"));
    project.run(["plan"]).success().stdout_contains("api    recreate  `ports` changed");

    // A new image reference that is not present: plan says it would pull, and pulls nothing.
    let missing = format!("{group}-missing:1");
    project.script(&changing(r#"MODE: "one""#, "", &missing));
    project.run(["plan"]).success().stdout_contains(&format!(
        "api    recreate  image changed from `{}` to `{missing}`; pull `{missing}`",
        project.expand("@IMAGE@")
    ));
    assert!(crate::common::try_docker(["image", "inspect", &missing]).is_err(), "plan pulls nothing");

    // `api` is no longer declared: its container is an orphan, which `start` leaves alone.
    project.script(
        r#"group("@GROUP@");
service(#{ name: "other", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });
"#,
    );
    project
        .run(["plan"])
        .success()
        .stdout_contains(&format!("api    orphan    {group}.api belongs to a service the script no longer declares"));
    let plan = json_plan(&project, &[]);
    assert_eq!(plan["orphans"], serde_json::json!([{ "service": "api", "container": format!("{group}.api") }]));
}

#[test]
fn plan_of_a_latest_build_says_it_builds_and_builds_nothing() {
    let project = Project::new("plan_build");
    let group = project.group().to_owned();
    project.script(
        r#"group("@GROUP@");
service(#{ name: "app", image: "@GROUP@-app", build_from: "./app", stop_signal: "SIGKILL" });
"#,
    );
    project.file("app/Dockerfile", &project.expand("FROM @IMAGE@\nCMD [\"sleep\", \"3600\"]\n"));
    let images = || docker(["image", "ls", "--quiet", "--filter", &format!("label=boss.group={group}")]);

    project.run(["plan"]).success().stdout_contains("app  build     tag `latest` with build_from");
    assert_eq!(images(), "", "plan builds nothing");

    project.run(["start"]).success();
    project.run(["stop"]).success();
    let built = images();
    // A changed build source is only known by building; the plan says what decides.
    project.file("app/extra.txt", "changed source\n");
    project.run(["plan", "--exit-code"]).code(1).stdout_contains(
        "app  build     tag `latest` with build_from; restart if the image is unchanged, else recreate",
    );
    assert_eq!(images(), built, "plan builds nothing");
    let plan = json_plan(&project, &[]);
    let action = &service(&plan, "app")["action"];
    assert_eq!(action["kind"], "build");
    assert_eq!(action["container"]["name"], format!("{group}.app").as_str());
}
