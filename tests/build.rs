//! Services built from `build_from`: the context honours `.dockerignore` with Docker's
//! rules, the builder's output is shown under the service's name, a tagged image is not
//! rebuilt for a running service, a broken build fails the service and its dependants
//! quickly, and the group's guard removes every image boss built.

use std::time::{Duration, Instant};

use crate::common::{Project, container, containers, docker, try_docker};

/// `app` is built from `./app` and tagged `<group>-app:dev`; its image serves nothing and
/// only sleeps, so the test looks at the copied files with `docker exec`.
const SCRIPT: &str = r#"group("@GROUP@");

service(#{
    name: "app",
    image: "@GROUP@-app:dev",
    build_from: "./app",
    stop_signal: "SIGKILL",
});
"#;

const DOCKERFILE: &str = r#"FROM @IMAGE@
COPY . /app
CMD ["sleep", "3600"]
"#;

/// Writes the build context: a `.dockerignore` that leaves out `secret.txt` anywhere it is
/// named from the root, and `*.log` at the root only (Docker's rule, unlike gitignore's).
fn write_app(project: &Project) {
    project
        .file("app/Dockerfile", &project.expand(DOCKERFILE))
        .file("app/.dockerignore", "secret.txt\n*.log\n")
        .file("app/secret.txt", "do not ship\n")
        .file("app/keep.txt", "ship me\n")
        .file("app/top.log", "root log, ignored\n")
        .file("app/sub/x.log", "nested log, kept\n");
}

/// The files under `/app` in the container `id`, sorted.
fn files_in_container(id: &str) -> Vec<String> {
    let stdout = docker(["exec", id, "find", "/app", "-type", "f"]);
    let mut files: Vec<String> = stdout.lines().map(str::to_owned).collect();
    files.sort();
    files
}

/// Every image labelled with `group`, as `docker image ls` lists it (one line per tag).
fn labelled_images(group: &str) -> String {
    let filter = format!("label=boss.group={group}");
    docker(["image", "ls", "--filter", &filter, "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"])
}

#[test]
fn build_from_applies_dockerignore_and_is_not_repeated_for_a_running_service() {
    let project = Project::new("build_dockerignore");
    project.script(SCRIPT);
    write_app(&project);
    let group = project.group().to_owned();
    let image = format!("{group}-app:dev");

    project
        .run(["start"])
        .success()
        .stderr_contains(&format!("app: building image {image} (also tagged {group}-app:boss-"))
        .stderr_contains("app (build) | Step 1/")
        .stderr_contains(&format!("app: creating container {group}.app from {image}"))
        .stderr_contains("app: started in")
        .lines_in_order("app: building image", "app: creating container");

    let app = container(&group, "app").expect("`app` has a container");
    assert_eq!(app.state, "running", "{app:?}");
    assert_eq!(
        files_in_container(&app.id),
        ["/app/.dockerignore", "/app/Dockerfile", "/app/keep.txt", "/app/sub/x.log",],
        "secret.txt and the root-level top.log are left out; sub/x.log is kept because `*.log` matches at the root only"
    );

    // The image carries boss's labels and both tags.
    let images = labelled_images(&group);
    assert!(images.contains(&format!("{image} ")), "{images}");
    assert!(images.contains(&format!("{group}-app:boss-")), "{images}");
    let labels = docker(["image", "inspect", "--format", "{{index .Config.Labels \"boss.service\"}}", &image]);
    assert_eq!(labels.trim(), "app");

    // A tag other than `latest` is built only when missing; a running service is left alone.
    project
        .run(["start"])
        .success()
        .stderr_contains(&format!("app: already running ({group}.app)"))
        .stderr_lacks("outdated")
        .stderr_lacks("(build) |")
        .stderr_lacks("building image");
    let again = container(&group, "app").expect("`app` still has a container");
    assert_eq!(again.id, app.id);

    // The guard removes the containers and every tag of every image boss built for the group.
    drop(project);
    assert_eq!(containers(&group), []);
    assert_eq!(labelled_images(&group), "", "the guard left images of `{group}` behind");
    assert!(try_docker(["image", "inspect", &image]).is_err(), "`{image}` still exists");
}

#[test]
fn broken_build_fails_the_service_and_its_dependant_quickly() {
    let project = Project::new("build_broken");
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "api",
    image: "@GROUP@-api:dev",
    build_from: "./api",
    stop_signal: "SIGKILL",
});

service(#{
    name: "web",
    image: "@IMAGE@",
    dependencies: ["api"],
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
});
"#,
    );
    project.file(
        "api/Dockerfile",
        &project.expand("FROM @IMAGE@\nRUN echo broken-build-marker && false\nCMD [\"sleep\", \"3600\"]\n"),
    );

    let began = Instant::now();
    let output = project.run(["start", "--wait-timeout", "60"]);
    let elapsed = began.elapsed();
    output
        .code(1)
        .stderr_contains("api (build) | Step 1/")
        .stderr_contains("api: failed: image build failed: ")
        .stderr_contains("last lines of the build:")
        .stderr_contains("| broken-build-marker")
        .stderr_contains("web: not started: dependency `api` failed")
        .stderr_contains("error: failed to start 2 services: `api` and `web`")
        .stderr_lacks("api: creating container")
        .stderr_lacks("web: creating container")
        .stderr_lacks("started in");
    assert!(elapsed < Duration::from_secs(60), "the failed build was not reported promptly\n{output}");
    assert_eq!(containers(project.group()), [], "no container is created for either service");
    let image = format!("{}-api:dev", project.group());
    assert!(try_docker(["image", "inspect", &image]).is_err(), "a failed build must not leave `{image}`");
}

#[test]
fn latest_tag_is_rebuilt_on_every_start_and_recreates_only_when_the_image_changed() {
    let project = Project::new("build_latest");
    project.script(
        r#"group("@GROUP@");

service(#{
    name: "app",
    image: "@GROUP@-app",
    build_from: "./app",
    stop_signal: "SIGKILL",
});
"#,
    );
    project.file("app/Dockerfile", &project.expand(DOCKERFILE)).file("app/version.txt", "v1\n");
    let group = project.group().to_owned();

    project.run(["start"]).success().stderr_contains(&format!("app: building image {group}-app:latest"));
    let first = container(&group, "app").expect("`app` has a container");

    // Running: nothing is built.
    project.run(["start"]).success().stderr_lacks("building image").stderr_lacks("(build) |");

    // Stopped, sources unchanged: built again, the cache gives the same image, and the
    // container is reused.
    project.run(["stop"]).success();
    project
        .run(["start"])
        .success()
        .stderr_contains(&format!("app: building image {group}-app:latest"))
        .stderr_contains(&format!("app: restarting stopped container {group}.app"))
        .stderr_lacks("recreating");
    assert_eq!(container(&group, "app").map(|row| row.id), Some(first.id.clone()));

    // Stopped, sources changed: the new image replaces the container.
    project.run(["stop"]).success();
    project.file("app/version.txt", "v2\n");
    project.run(["start"]).success().stderr_contains(&format!(
        "app: recreating: image `{group}-app` was rebuilt or pulled again (removing {group}.app)"
    ));
    let second = container(&group, "app").expect("`app` has a container");
    assert_ne!(second.id, first.id);
    assert_eq!(docker(["exec", &second.id, "cat", "/app/version.txt"]), "v2\n");
}

/// What `boss status --format json` says is outdated about `app`, or `None`.
#[track_caller]
fn app_outdated(project: &Project) -> Option<String> {
    let output = project.run(["status", "--format", "json"]);
    output.success();
    let status: serde_json::Value =
        serde_json::from_str(&output.stdout).unwrap_or_else(|error| panic!("not JSON ({error}):\n{output}"));
    let app =
        status["services"].as_array().and_then(|services| services.iter().find(|service| service["name"] == "app"));
    let outdated = &app.unwrap_or_else(|| panic!("no `app` in {status:#}"))["outdated"];
    outdated.as_str().map(str::to_owned)
}

#[test]
fn editing_the_build_context_of_a_running_service_makes_it_outdated_until_reload() {
    let project = Project::new("build_outdated");
    project.script(SCRIPT);
    write_app(&project);
    project.run(["start"]).success();
    assert_eq!(app_outdated(&project), None, "just built");

    // A new mtime (a `touch`, a checkout) is not a change, nor are files the build leaves out.
    let keep = std::fs::File::options().write(true).open(project.path("app/keep.txt")).unwrap();
    keep.set_modified(std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000)).unwrap();
    drop(keep);
    project.file("app/top.log", "root log, edited\n").file("app/secret.txt", "still not shipped\n");
    assert_eq!(app_outdated(&project), None, "only the mtime and ignored files changed");

    project.file("app/keep.txt", "ship me, edited\n");
    let changed = "build context changed since its image was built";
    assert_eq!(app_outdated(&project).as_deref(), Some(changed));
    project.run(["status"]).success().stdout_contains(&format!("outdated: {changed}"));
    project.run(["plan"]).success().stdout_contains(changed);
    // `start` rebuilds no running service; it says how to refresh it.
    project
        .run(["start"])
        .success()
        .stderr_contains(&format!("app: already running ({}.app) but outdated: {changed}", project.group()))
        .stderr_contains("run `boss reload app` to recreate it")
        .stderr_lacks("app: building image");

    project.run(["reload", "app"]).success().stderr_contains("app: building image");
    assert_eq!(app_outdated(&project), None, "the reload built the context as it is now");
}

// An image boss built carries the group's and the service's labels, and a container someone
// makes from it inherits them: boss must still leave that container alone.
#[test]
fn a_container_made_by_hand_from_a_built_image_is_not_the_groups() {
    let project = Project::new("built_image_manual");
    write_app(&project);
    project.script(SCRIPT);
    project.run(["start"]).success();
    let image = format!("{}-app:dev", project.group());
    let by_hand = docker(["run", "-d", "--name", &format!("{}-by-hand", project.group()), &image]);
    let by_hand = by_hand.trim();

    let status = project.run(["status", "--format", "json"]);
    status.success();
    let rows: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(rows["services"].as_array().unwrap().len(), 1, "not an orphan of the group\n{status}");
    project.run(["stop", "--remove"]).success().stderr_lacks("orphan");
    assert_eq!(docker(["inspect", "-f", "{{.State.Running}}", by_hand]).trim(), "true", "still running");
    docker(["rm", "-f", by_hand]);
}
