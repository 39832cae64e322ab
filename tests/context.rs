//! The context: a value a `post_start` hook writes reaches a dependant's env through `{key}`,
//! is saved in `.boss-context`, and still fills the env after a stop and a new start.

use crate::common::{Project, container, container_env};

const SCRIPT: &str = r#"group("@GROUP@");

service(#{
    name: "admin",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    post_start: |ctx| { ctx.admin_id = "42"; },
});

service(#{
    name: "app",
    image: "@IMAGE@",
    dependencies: ["admin"],
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    env: #{ ADMIN: "{admin_id}" },
});
"#;

#[track_caller]
fn assert_admin_env(project: &Project) -> String {
    let app = container(project.group(), "app").expect("`app` has a container");
    assert_eq!(app.state, "running", "{app:?}");
    let env = container_env(&app.id);
    assert!(env.contains(&"ADMIN=42".to_owned()), "{env:?}");
    app.id
}

#[test]
fn post_start_values_reach_dependants_and_survive_a_restart() {
    let project = Project::new("context_flow");
    project.script(SCRIPT);

    project.run(["start"]).success();
    let first_app = assert_admin_env(&project);
    let saved = project.context().expect("the context file is written");
    assert!(saved.contains(r#""admin_id": "42""#), "{saved}");

    project.run(["stop"]).success();
    assert_eq!(project.context().as_deref(), Some(saved.as_str()), "a plain stop keeps the context");

    project
        .run(["start"])
        .success()
        .stderr_contains("app: restarting stopped container")
        .stderr_lacks("app: creating container");
    assert_eq!(assert_admin_env(&project), first_app, "`app` is reused");
    let saved = project.context().expect("the context file is kept");
    assert!(saved.contains(r#""admin_id": "42""#), "{saved}");
}
