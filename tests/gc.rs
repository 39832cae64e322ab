//! `boss gc` on the real engine: a group whose script directory is gone loses its containers
//! and network (its volume only with `--volumes`), a live group and foreign look-alikes are
//! untouched, old build tags beyond the newest few go unless a container uses them, and what a
//! failed build left is found and removed. Every run that removes is limited to the test's own
//! group (`--group`), since tests run in parallel on one engine; an engine-wide `--dry-run`
//! shows what an unlimited gc would do without touching anything.

use std::time::Duration;

use crate::common::{
    Output, Project, container, containers, docker, foreign_container, foreign_network, networks, signal_when,
    try_docker,
};

/// `web` runs the fixture; `db` is built from `./db`, whose image declares a `VOLUME`.
const DEAD_SCRIPT: &str = r#"group("@GROUP@");

service(#{ name: "web", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });
service(#{ name: "db", image: "@GROUP@-db", build_from: "./db", stop_signal: "SIGKILL" });
"#;

const DB_DOCKERFILE: &str = r#"FROM @IMAGE@
VOLUME /data
CMD ["sleep", "3600"]
"#;

/// What `docker <kind> ls` prints in `format` for each object labelled with `group`, sorted.
fn labelled(kind: &str, group: &str, format: &str) -> Vec<String> {
    let filter = format!("label=boss.group={group}");
    let stdout = docker([kind, "ls", "--filter", &filter, "--format", format]);
    let mut lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

/// Names of the volumes labelled with `group`, sorted.
fn volumes(group: &str) -> Vec<String> {
    labelled("volume", group, "{{.Name}}")
}

/// `repository:tag` of every image labelled with `group`, sorted.
fn image_tags(group: &str) -> Vec<String> {
    labelled("image", group, "{{.Repository}}:{{.Tag}}")
}

/// The row of gc's table that names `name`, if any.
fn row<'a>(stdout: &'a str, name: &str) -> Option<&'a str> {
    stdout.lines().find(|line| line.split_whitespace().any(|word| word == name))
}

#[test]
fn a_group_whose_directory_is_gone_is_collected_and_nothing_else() {
    let dead = Project::new("gc_dead");
    let group = dead.group().to_owned();
    dead.file("app/services.rhai", &dead.expand(DEAD_SCRIPT)).file("app/db/Dockerfile", &dead.expand(DB_DOCKERFILE));
    dead.run(["start", "app/services.rhai"]).success();
    let live = Project::started(
        "gc_live",
        r#"group("@GROUP@");
service(#{ name: "web", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });
"#,
    );
    // Look-alikes without boss's labels: a container named like one of the dead group's, and
    // a network named like its network.
    foreign_container(&group, &format!("{group}.other"));
    foreign_network(&group, &format!("boss-{group}-other"));
    let volume = volumes(&group).pop().expect("the db image's VOLUME got a volume");
    std::fs::remove_dir_all(dead.path("app")).unwrap();

    // Engine-wide and dry: everything of the dead group is listed, its volume as kept.
    let dry = dead.run(["gc", "--dry-run"]);
    dry.success();
    for name in [format!("{group}.web"), format!("{group}.db"), format!("boss-{group}")] {
        let line = row(&dry.stdout, &name).unwrap_or_else(|| panic!("`{name}` is listed\n{dry}"));
        assert!(line.starts_with("remove") && line.contains("is gone"), "{line}\n{dry}");
    }
    let line = row(&dry.stdout, &volume).unwrap_or_else(|| panic!("the volume is listed\n{dry}"));
    assert!(line.starts_with("keep") && line.contains("`--volumes` removes it"), "{line}");
    for untouched in [
        format!("{group}.other"),
        format!("boss-{group}-other"),
        format!("{}.web", live.group()),
        format!("boss-{}", live.group()),
    ] {
        assert!(row(&dry.stdout, &untouched).is_none(), "`{untouched}` is not listed\n{dry}");
    }
    assert_eq!(containers(&group).len(), 2, "a dry run removes nothing\n{dry}");

    let json = dead.run(["gc", "--dry-run", "--group", &group, "--format", "json"]);
    json.success();
    let report: serde_json::Value = serde_json::from_str(&json.stdout).expect("gc prints JSON");
    assert_eq!(report["dry_run"], true, "{json}");
    let web = report["found"].as_array().unwrap().iter().find(|found| found["name"] == format!("{group}.web"));
    let web = web.unwrap_or_else(|| panic!("web is found\n{json}"));
    assert_eq!(web["kind"], "container");
    assert_eq!(web["reason"], "directory_gone");
    assert_eq!(web["fate"], "would_remove");
    assert!(web["directory"].as_str().unwrap().ends_with("/app"), "{json}");

    let removed = dead.run(["gc", "--group", &group]);
    removed.success();
    assert!(row(&removed.stdout, &format!("{group}.web")).unwrap().starts_with("removed"), "{removed}");
    assert!(containers(&group).is_empty(), "{removed}");
    assert!(networks(&group).is_empty(), "{removed}");
    assert_eq!(volumes(&group), std::slice::from_ref(&volume), "the volume holds data and stays without --volumes");
    docker(["container", "inspect", &format!("{group}.other")]);
    docker(["network", "inspect", &format!("boss-{group}-other")]);
    // The live group is untouched even when gc is asked about it.
    let live_gc = live.run(["gc", "--group", live.group()]);
    live_gc.success();
    assert_eq!(live_gc.stdout.lines().count(), 1, "only the header\n{live_gc}");
    assert_eq!(container(live.group(), "web").expect("live web").state, "running");

    dead.run(["gc", "--group", &group, "--volumes"]).success();
    assert!(volumes(&group).is_empty());
}

const BUILT_SCRIPT: &str = r#"group("@GROUP@");

service(#{ name: "app", image: "@GROUP@-app", build_from: "./app", stop_signal: "SIGKILL" });
"#;

const APP_DOCKERFILE: &str = r#"FROM @IMAGE@
COPY . /app
CMD ["sleep", "3600"]
"#;

/// The `boss-<time>` tags of `group`'s images, newest first.
fn build_tags(group: &str) -> Vec<String> {
    let mut tags: Vec<String> = image_tags(group).into_iter().filter(|tag| tag.contains(":boss-")).collect();
    tags.sort();
    tags.reverse();
    tags
}

#[test]
fn old_build_tags_beyond_the_newest_go_unless_a_container_uses_them() {
    let project = Project::new("gc_builds");
    let group = project.group().to_owned();
    project.script(BUILT_SCRIPT).file("app/Dockerfile", &project.expand(APP_DOCKERFILE)).file("app/v", "1");
    project.run(["start"]).success();
    for version in ["2", "3"] {
        // Build tags have one-second resolution; a pause keeps each build's tag its own.
        std::thread::sleep(Duration::from_millis(1100));
        project.file("app/v", version);
        project.run(["reload", "app"]).success();
    }
    let tags = build_tags(&group);
    assert_eq!(tags.len(), 3, "{tags:?}");
    let (newest, middle, oldest) = (&tags[0], &tags[1], &tags[2]);
    let id = |tag: &str| docker(["image", "inspect", "--format", "{{.Id}}", tag]).trim().to_owned();
    let middle_id = id(middle);
    // A container that boss does not own keeps the oldest build in use. It inherits the
    // image's `boss.*` labels, but not `boss.config-hash`, which only boss's containers carry.
    let label = format!("boss-test.group={group}");
    let foreign = docker(["create", "--label", &label, &id(oldest), "sleep", "1"]).trim().to_owned();

    let dry = project.run(["gc", "--dry-run", "--group", &group, "--keep-builds", "1"]);
    dry.success();
    let line = row(&dry.stdout, middle).unwrap_or_else(|| panic!("{middle} is listed\n{dry}"));
    assert!(line.contains("build tag") && line.contains("older than the newest 1 build of `app`"), "{line}");
    assert!(row(&dry.stdout, oldest).is_none() && row(&dry.stdout, newest).is_none(), "{dry}");
    assert_eq!(dry.stdout.lines().count(), 2, "{dry}");

    project.run(["gc", "--group", &group, "--keep-builds", "1"]).success();
    let mut left = vec![newest.clone(), oldest.clone()];
    left.sort();
    assert_eq!(build_tags(&group).into_iter().rev().collect::<Vec<_>>(), left);
    assert!(image_tags(&group).contains(&format!("{group}-app:latest")), "the declared tag stays");
    assert!(try_docker(["image", "inspect", &middle_id]).is_err(), "the middle build's image is gone");
    let app = format!("{group}.app");
    assert_eq!(docker(["inspect", "--format", "{{.State.Status}}", &app]).trim(), "running");
    docker(["container", "inspect", &foreign]);
}

/// The image of each step, in order, as `app`'s builder output reports them (` ---> <id>`).
fn step_images(output: &Output) -> Vec<String> {
    // Only the builder's own lines: the failure repeats the last ones below its message.
    output
        .stderr
        .lines()
        .filter(|line| line.starts_with("app (build) |"))
        .filter_map(|line| line.split("---> ").nth(1))
        .filter(|id| id.len() == 12 && id.chars().all(|c| c.is_ascii_hexdigit()))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_failed_build_leaves_a_marked_image_that_gc_removes_with_its_steps() {
    let project = Project::new("gc_failed_build");
    let group = project.group().to_owned();
    project
        .script(BUILT_SCRIPT)
        .file("app/Dockerfile", &project.expand("FROM @IMAGE@\nCOPY . /app\nRUN false\n"))
        .file("app/v", "1");
    let output = project.run(["start"]);
    output.code(1);
    // The COPY step's image is the last one the builder reported before `RUN false` failed.
    let step = step_images(&output).pop().unwrap_or_else(|| panic!("the builder reported its steps\n{output}"));
    let marked = image_tags(&group);
    assert_eq!(marked.len(), 1, "{marked:?}");
    assert!(marked[0].starts_with(&format!("{group}-app:boss-failed-")), "{marked:?}");
    let parent = docker(["image", "inspect", "--format", "{{.Parent}}", &marked[0]]);
    assert!(!parent.trim().is_empty(), "the marker is a child of the leftovers");

    let dry = project.run(["gc", "--dry-run", "--group", &group]);
    dry.success();
    let line = row(&dry.stdout, &marked[0]).unwrap_or_else(|| panic!("the marker is listed\n{dry}"));
    assert!(line.contains("failed build") && line.contains("left by a failed build of `app`"), "{line}");
    docker(["image", "inspect", &step]);

    project.run(["gc", "--group", &group]).success();
    assert!(image_tags(&group).is_empty());
    assert!(try_docker(["image", "inspect", &step]).is_err(), "the failed build's step image is gone");
}

#[test]
fn every_stage_of_a_failed_multi_stage_build_is_marked() {
    let project = Project::new("gc_failed_stages");
    let group = project.group().to_owned();
    let dockerfile = "FROM @IMAGE@ AS one\nCOPY v /v\nFROM @IMAGE@\nCOPY --from=one /v /w\nRUN false\n";
    project.script(BUILT_SCRIPT).file("app/Dockerfile", &project.expand(dockerfile)).file("app/v", "1");
    let output = project.run(["start"]);
    output.code(1);
    let steps = step_images(&output);
    // FROM, COPY (the first stage's end), FROM, COPY --from (the failed stage's last image).
    assert_eq!(steps.len(), 4, "{output}");
    let filter = format!("label=boss.group={group}");
    let markers = docker(["image", "ls", "--quiet", "--filter", &filter, "--filter", "label=boss.build=failed"]);
    assert_eq!(markers.lines().count(), 2, "one marker per stage\n{markers}");

    project.run(["gc", "--group", &group]).success();
    assert!(image_tags(&group).is_empty());
    for leftover in [&steps[1], &steps[3]] {
        assert!(try_docker(["image", "inspect", leftover]).is_err(), "{leftover} is gone");
    }
}

#[test]
fn an_interrupted_reload_build_is_marked_too() {
    let project = Project::new("gc_interrupted_build");
    let group = project.group().to_owned();
    project.script(BUILT_SCRIPT).file("app/Dockerfile", &project.expand(APP_DOCKERFILE)).file("app/v", "1");
    project.run(["start"]).success();
    let dockerfile = "FROM @IMAGE@\nCOPY . /app\nRUN sleep 60\nCMD [\"sleep\", \"3600\"]\n";
    project.file("app/Dockerfile", &project.expand(dockerfile)).file("app/v", "2");

    let (code, stderr, _) = signal_when(&project, &["reload", "app"], "INT", &|line| line.contains("---> Running in"));

    assert_eq!(code, Some(130), "{stderr}");
    let marked: Vec<String> = image_tags(&group).into_iter().filter(|tag| tag.contains(":boss-failed-")).collect();
    assert_eq!(marked.len(), 1, "{marked:?}\n{stderr}");
    let dry = project.run(["gc", "--dry-run", "--group", &group]);
    assert!(row(&dry.stdout, &marked[0]).is_some(), "{dry}");
    project.run(["gc", "--group", &group]).success();
    assert!(!image_tags(&group).iter().any(|tag| tag.contains(":boss-failed-")));
    assert!(image_tags(&group).contains(&format!("{group}-app:latest")), "the running build stays");
}

#[test]
fn what_the_engine_refuses_is_reported_and_the_rest_goes_on() {
    let project = Project::new("gc_refused");
    let group = project.group().to_owned();
    let script = r#"group("@GROUP@");
service(#{ name: "web", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });
"#;
    project.file("app/services.rhai", &project.expand(script));
    project.run(["start", "app/services.rhai"]).success();
    // A container boss does not own, attached to the dead group's network, keeps it in use.
    let label = format!("boss-test.group={group}");
    let network = format!("boss-{group}");
    let image = crate::common::fixture_image();
    docker(["run", "--detach", "--label", &label, "--network", &network, &image, "sleep", "3600"]);
    std::fs::remove_dir_all(project.path("app")).unwrap();

    let output = project.run(["gc", "--group", &group]);

    output
        .code(1)
        .stderr_contains(&format!("error: failed to remove network `{network}`\ncaused by: "))
        .stderr_contains("error: gc could not remove 1 of 2 things\nhint: each failure is shown above");
    assert!(row(&output.stdout, &format!("{group}.web")).unwrap().starts_with("removed"), "{output}");
    assert!(row(&output.stdout, &network).unwrap().starts_with("failed"), "{output}");
    assert_eq!(networks(&group), [network]);
}

#[test]
fn a_bad_group_is_refused_before_the_engine_is_touched_and_no_engine_exits_3() {
    let project = Project::new("gc_bad_group");
    project
        .boss(["gc", "--group", "no/such group"])
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .run()
        .code(2)
        .stderr_contains("error: group name `no/such group` is not a valid hostname");
    project
        .boss(["gc", "--dry-run"])
        .env("DOCKER_HOST", "unix:///nonexistent.sock")
        .run()
        .code(3)
        .stderr_contains("error: cannot reach Docker at `unix:///nonexistent.sock`");
}
