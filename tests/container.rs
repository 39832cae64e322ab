//! What a service's definition becomes on the engine: a pull that cannot succeed, a custom
//! network name, entrypoint/cmd/user, and the stop signal.

use std::time::Duration;

use crate::common::{Project, container, docker, networks};

#[test]
fn an_image_that_cannot_be_pulled_fails_its_service_clearly() {
    let project = Project::new("pull_fails");
    project.script(
        r#"group("@GROUP@");
service(#{ name: "ghost", image: "boss-test-no-such-image/ghost:1" });
service(#{ name: "after", image: "@IMAGE@", dependencies: ["ghost"], cmd: ["sleep", "3600"] });
"#,
    );
    let output = project.run(["start"]);
    output
        .code(1)
        .stderr_contains("ghost: pulling image boss-test-no-such-image/ghost:1")
        .stderr_contains("ghost: failed: cannot pull image `boss-test-no-such-image/ghost:1`")
        .stderr_contains("caused by: ")
        .stderr_contains("after: not started: dependency `ghost` failed");
    assert_eq!(container(project.group(), "ghost"), None);
    assert!(output.elapsed < Duration::from_secs(60), "a failed pull must not hang");
}

#[test]
fn a_custom_network_name_is_used_and_removed() {
    let project = Project::new("network_name");
    project.script(
        r#"group("@GROUP@");
service(#{ name: "web", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });
"#,
    );
    let network = format!("{}-net", project.group());
    project
        .run(["start", "--network-name", &network])
        .success()
        .stderr_contains(&format!("created network `{network}`"));
    assert_eq!(networks(project.group()), std::slice::from_ref(&network));
    let id = container(project.group(), "web").unwrap().id;
    let attached =
        docker(["inspect", "--format", "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}", &id]);
    assert_eq!(attached.trim(), network);
    project.run(["stop", "--remove"]).success().stderr_contains(&format!("removed network `{network}`"));
    assert!(networks(project.group()).is_empty());
}

#[test]
fn entrypoint_cmd_and_user_reach_the_container() {
    let project = Project::new("entrypoint_user");
    project.script(
        r#"group("@GROUP@");
service(#{
    name: "app",
    image: "@IMAGE@",
    entrypoint: ["sh", "-c"],
    cmd: ["echo uid=$(id -u) args=$0; exec sleep 3600", "first-arg"],
    user: "1234",
    stop_signal: "SIGKILL",
    ping: || wait_for_log("uid=1234 args=first-arg"),
});
"#,
    );
    project.run(["start", "--wait-timeout", "20"]).success().stderr_contains("app: started in");
}

#[test]
fn the_stop_signal_is_delivered() {
    let project = Project::new("stop_signal");
    project.script(
        r#"group("@GROUP@");
service(#{
    name: "app",
    image: "@IMAGE@",
    cmd: ["sh", "-c", "trap 'echo got-sigint; exit 0' INT; echo trapping; while true; do sleep 0.1; done"],
    stop_signal: "SIGINT",
    ping: || wait_for_log("trapping"),
});
"#,
    );
    project.run(["start", "--wait-timeout", "20"]).success();
    let output = project.run(["stop", "--stop-timeout", "30"]);
    output.success().stderr_contains("app: stopped");
    assert!(output.elapsed < Duration::from_secs(15), "SIGINT stopped it, not the SIGKILL after the grace\n{output}");
    let id = container(project.group(), "app").unwrap().id;
    assert!(docker(["logs", &id]).contains("got-sigint"));
}
