//! Images pulled from a real registry (Debian's `docker-registry` on this machine): every
//! missing image begins pulling when `start` begins, once even when several services share
//! it, so pulls overlap the waits on dependencies; a missing tag and an unreachable registry
//! fail the services that need them, with the registry's words.

use crate::common::{Project, Proxy, Registry, docker_required, fixture_image, try_docker};

/// Removes the local tags of pulled images, even when the test fails.
struct Untag(Vec<String>);

impl Drop for Untag {
    fn drop(&mut self) {
        for reference in &self.0 {
            let _ = try_docker(["rmi", reference]);
        }
    }
}

fn service(name: &str, image: &str, dependencies: &[&str]) -> String {
    let dependencies: Vec<String> = dependencies.iter().map(|dependency| format!("{dependency:?}")).collect();
    format!(
        r#"service(#{{ name: "{name}", image: "{image}", cmd: ["sleep", "3600"], stop_signal: "SIGKILL", dependencies: [{}] }});
"#,
        dependencies.join(", ")
    )
}

#[test]
fn missing_images_are_pulled_once_each_as_the_start_begins() {
    docker_required();
    let project = Project::new("pull_ahead");
    let registry = Registry::start();
    let repository = project.group().to_owned();
    let first = registry.push(&fixture_image(), &format!("{repository}/first"), "1");
    let shared = registry.push(&fixture_image(), &format!("{repository}/shared"), "1");
    let _untag = Untag(vec![first.clone(), shared.clone()]);
    project.script(&format!(
        "group(\"@GROUP@\");\n{}{}{}",
        service("db", &first, &[]),
        service("api", &shared, &["db"]),
        service("worker", &shared, &["db"]),
    ));
    let proxy = Proxy::start(&project.path("docker.sock"));

    let output = project.boss(["start"]).env("DOCKER_HOST", proxy.docker_host()).run();
    output
        .success()
        .stderr_contains(&format!("pulling image {shared} for `api` and `worker`"))
        .stderr_contains(&format!("pulled image {shared} in"))
        .lines_in_order(&format!("pulling image {shared}"), "db: creating");
    let requests = proxy.requests();
    let pulls: Vec<usize> = requests
        .iter()
        .enumerate()
        .filter(|(_, request)| request.method == "POST" && request.path == "/images/create")
        .map(|(index, _)| index)
        .collect();
    assert_eq!(pulls.len(), 2, "one pull per image, not per service: {requests:#?}");
    let first_create = requests
        .iter()
        .position(|request| request.method == "POST" && request.path == "/containers/create")
        .expect("containers were created");
    assert!(pulls.iter().all(|pull| *pull < first_create), "every pull began before db was created: {requests:#?}");
    let status = project.run(["status", "--format", "json"]);
    status.success();
}

#[test]
fn a_missing_tag_and_an_unreachable_registry_fail_their_services() {
    docker_required();
    let project = Project::new("pull_fails");
    let mut registry = Registry::start();
    let repository = project.group().to_owned();
    let present = registry.push(&fixture_image(), &format!("{repository}/app"), "1");
    let _untag = Untag(vec![present.clone()]);
    let missing_tag = format!("{}/{repository}/app:no-such-tag", registry.address());
    project.script(&format!(
        "group(\"@GROUP@\");\n{}{}{}",
        service("ok", &present, &[]),
        service("tagless", &missing_tag, &[]),
        service("after", &present, &["tagless"]),
    ));
    let output = project.run(["start"]);
    output
        .code(1)
        .stderr_contains(&format!("could not pull image {missing_tag}: "))
        .stderr_contains("tagless: failed: ")
        .stderr_contains("after: not started: dependency `tagless` failed")
        .stderr_contains("ok: started");

    registry.stop();
    let unreachable = format!("{}/{repository}/other:1", registry.address());
    project.script(&format!("group(\"@GROUP@\");\n{}", service("far", &unreachable, &[])));
    project
        .run(["start"])
        .code(1)
        .stderr_contains(&format!("could not pull image {unreachable}: "))
        .stderr_contains("far: failed: ");
}
