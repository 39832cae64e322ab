//! boss only touches what carries its labels: a container that merely has the name boss
//! would give a service is neither replaced by `start` nor removed by `stop --remove`.

use crate::common::{Project, container, foreign_container, inspect};

#[test]
fn foreign_container_with_a_boss_name_is_left_untouched() {
    let project = Project::new("foreign_container");
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "web",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
});

service(#{
    name: "other",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
});
"#,
    );
    let group = project.group().to_owned();
    let name = format!("{group}.web");
    let foreign = foreign_container(&group, &name);
    let foreign_state = || inspect(&foreign, "{{.Id}} {{.State.Status}}");
    let before = foreign_state();
    assert_eq!(before, format!("{foreign} running"));

    project
        .run(["start"])
        .code(1)
        .stderr_contains(&format!("web: failed: a container named `{name}` exists but was not created by boss"))
        .stderr_contains("other: started in")
        .stderr_contains("error: failed to start 1 service: `web`");
    assert_eq!(foreign_state(), before, "start leaves the foreign container alone");
    assert_eq!(container(&group, "web"), None, "boss made no container for `web`");

    project.run(["stop", "--remove"]).success();
    assert_eq!(foreign_state(), before, "stop --remove leaves the foreign container alone");
    assert_eq!(container(&group, "other"), None);
}
