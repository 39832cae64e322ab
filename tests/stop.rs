//! `boss stop --remove`: containers, the group's network and the context file are all gone
//! afterwards.

use crate::common::{Project, containers, networks};

#[test]
fn stop_remove_leaves_nothing_behind() {
    let project = Project::new("stop_remove");
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "db",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    post_start: |ctx| { ctx.db_ready = true; },
});

service(#{
    name: "web",
    image: "@IMAGE@",
    dependencies: ["db"],
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
});
"#,
    );
    let group = project.group();

    project.run(["start"]).success();
    assert_eq!(containers(group).len(), 2);
    assert_eq!(networks(group).len(), 1);
    assert!(project.context().is_some(), "the context file is written");

    project
        .run(["stop", "--remove"])
        .success()
        .stderr_contains(&format!("web: removed {group}.web"))
        .stderr_contains(&format!("db: removed {group}.db"))
        .stderr_contains(&format!("removed network `boss-{group}`"))
        .stderr_contains("removed the context file")
        .lines_in_order("web: removed ", "db: stopping ");
    assert_eq!(containers(group), []);
    assert_eq!(networks(group), Vec::<String>::new());
    assert_eq!(project.context(), None);

    // Nothing is left to stop, and that is not an error.
    project.run(["stop", "--remove"]).success().stderr_contains("web: no container");
}
