//! Issue 7: boss never deletes data the user did not ask to delete, saves the context as soon
//! as a hook sets values, and never mistakes another group's resources for its own.

use crate::common::{
    CONTEXT_FILE, GroupGuard, Project, container, docker, docker_required, signal_when, try_docker, unique_group,
};

/// `db` is built from `./db`, whose image declares `VOLUME /data`; `MODE` is the knob that
/// changes its definition.
fn volume_script(mode: &str) -> String {
    format!(
        r#"group("@GROUP@");
service(#{{
    name: "db",
    image: "@GROUP@-db:1",
    build_from: "db",
    env: #{{ MODE: "{mode}" }},
    stop_signal: "SIGKILL",
}});
"#
    )
}

fn read_data(group: &str) -> Result<String, String> {
    let db = container(group, "db").expect("`db` has a container");
    try_docker(["exec", &db.id, "cat", "/data/f"])
}

fn group_volumes(group: &str) -> Vec<String> {
    let filter = format!("label=boss.group={group}");
    docker(["volume", "ls", "--quiet", "--filter", &filter]).lines().map(str::to_owned).collect()
}

// See issue 7, item 2: a definition change used to remove the container with its anonymous
// volume, so the data in an image's `VOLUME` was gone.
#[test]
fn data_in_an_image_volume_survives_recreate_and_remove_and_goes_only_with_volumes() {
    let project = Project::new("volume_data_kept");
    let group = project.group().to_owned();
    project.file("db/Dockerfile", &project.expand("FROM @IMAGE@\nVOLUME /data\nCMD [\"sleep\", \"3600\"]\n"));
    project.script(&volume_script("1"));
    project.run(["start"]).success().stderr_contains(&format!("db: created volume {group}.db."));
    let db = container(&group, "db").unwrap();
    docker(["exec", &db.id, "sh", "-c", "echo precious > /data/f"]);

    // A definition change recreates the container, which gets the same volume back.
    project.run(["stop"]).success();
    project.script(&volume_script("2"));
    project
        .run(["start"])
        .success()
        .stderr_contains("db: recreating: env `MODE` changed")
        .stderr_lacks("created volume");
    assert_ne!(container(&group, "db").unwrap().id, db.id, "a new container");
    assert_eq!(read_data(&group).as_deref(), Ok("precious\n"));

    // `stop --remove` removes containers, network and context, never volumes.
    project.run(["stop", "--remove"]).success().stderr_lacks("removed volume");
    assert_eq!(group_volumes(&group).len(), 1);
    project.run(["start"]).success();
    assert_eq!(read_data(&group).as_deref(), Ok("precious\n"), "the data is still there after `stop --remove`");

    // Only `--volumes` deletes them.
    project.run(["stop", "--remove", "--volumes"]).success().stderr_contains(&format!("removed volume `{group}.db."));
    assert_eq!(group_volumes(&group), Vec::<String>::new());
    project.run(["start"]).success();
    assert!(read_data(&group).is_err(), "a fresh volume after `--volumes`");
}

// See issue 7, item 2: a stopped container that `start` restarted and whose ping then failed
// was removed, although this run never created it.
#[test]
fn a_restarted_container_whose_ping_fails_is_stopped_not_removed() {
    let project = Project::new("restarted_kept");
    let group = project.group().to_owned();
    project.script(
        r#"group("@GROUP@");
service(#{
    name: "db",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    ping: || env_var("BOSS_TEST_FAIL") == (),
});
"#,
    );
    project.run(["start"]).success();
    let db = container(&group, "db").unwrap();
    docker(["exec", &db.id, "sh", "-c", "echo precious > /f"]);
    project.run(["stop"]).success();

    project
        .boss(["start", "--wait-timeout", "1"])
        .env("BOSS_TEST_FAIL", "1")
        .run()
        .code(1)
        .stderr_contains(&format!("db: restarting stopped container {group}.db"))
        .stderr_contains(&format!("db: stopping {group}.db (kept: this run did not create it)"));
    let kept = container(&group, "db").expect("the container is kept");
    assert_eq!((kept.id.as_str(), kept.state.as_str()), (db.id.as_str(), "exited"));
    project.run(["start"]).success();
    assert_eq!(try_docker(["exec", &db.id, "cat", "/f"]).as_deref(), Ok("precious\n"));
}

// See issue 7, item 2: a paused container was force-removed and recreated while its
// dependant kept running.
#[test]
fn a_paused_container_is_unpaused_not_recreated() {
    let project = Project::new("paused_kept");
    let group = project.group().to_owned();
    project.script(
        r#"group("@GROUP@");
service(#{ name: "db", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });
service(#{ name: "api", image: "@IMAGE@", dependencies: ["db"], cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });
"#,
    );
    project.run(["start"]).success();
    let db = container(&group, "db").unwrap();
    docker(["pause", &db.id]);
    project
        .run(["start"])
        .success()
        .stderr_contains(&format!("db: unpausing paused container {group}.db"))
        .stderr_contains(&format!("api: already running ({group}.api)"))
        .stderr_lacks("recreating");
    let after = container(&group, "db").unwrap();
    assert_eq!((after.id, after.state.as_str()), (db.id, "running"));
}

/// `a` sets a token in `post_start`; `b` needs it in its env and never becomes ready.
const TOKEN_SCRIPT: &str = r#"group("@GROUP@");
service(#{
    name: "a",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    post_start: |ctx| { ctx.token = "t0k-secret"; },
});
service(#{
    name: "b",
    image: "@IMAGE@",
    dependencies: ["a"],
    env: #{ TOKEN: "{token}" },
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    ping: || env_var("BOSS_TEST_READY") != (),
});
"#;

// See issue 7, item 4: values set by a `post_start` were saved only at the end of the run, so
// a killed boss lost them and every later `start` failed for a running service.
#[test]
fn post_start_values_are_saved_at_once_and_survive_a_killed_boss() {
    docker_required();
    let project = Project::new("context_sigkill");
    project.script(TOKEN_SCRIPT);
    let (code, output, _) = signal_when(&project, &["start"], "KILL", &|line| line == "b: pinging");
    assert_eq!(code, None, "SIGKILL ends boss\n{output}");
    let saved = project.context().expect("the context file exists");
    assert!(saved.contains("t0k-secret"), "{saved}\n{output}");

    // A later start finds `a` running and fills in `b`'s env from the saved value.
    project.boss(["start"]).env("BOSS_TEST_READY", "1").run().success().stderr_contains("a: already running");
}

// See issue 7, item 4: a closed terminal (SIGHUP) is handled like Ctrl-C.
#[test]
fn sighup_is_handled_like_ctrl_c() {
    docker_required();
    let project = Project::new("context_sighup");
    let group = project.group().to_owned();
    project.script(TOKEN_SCRIPT);
    let (code, output, _) = signal_when(&project, &["start"], "HUP", &|line| line == "b: pinging");
    assert_eq!(code, Some(130), "{output}");
    assert!(output.contains(&format!("b: stopping and removing {group}.b")), "{output}");
    assert!(container(&group, "b").is_none(), "{output}");
    assert!(project.context().is_some_and(|saved| saved.contains("t0k-secret")), "{output}");
}

// See issue 7, item 4: a running container was failed when its env could not be filled in
// again, e.g. after the context file was deleted.
#[test]
fn a_running_service_is_not_failed_when_its_env_cannot_be_filled_in() {
    let project = Project::new("context_lost_running");
    project.script(TOKEN_SCRIPT);
    project.boss(["start"]).env("BOSS_TEST_READY", "1").run().success();
    // The saved context loses `token` (boss still knows both containers became ready).
    let mut saved: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&project.read(CONTEXT_FILE).unwrap()).unwrap();
    saved.remove("token").expect("a's post_start saved token");
    project.file(CONTEXT_FILE, &serde_json::to_string(&saved).unwrap());
    project.boss(["start"]).env("BOSS_TEST_READY", "1").run().success().stderr_contains("b: already running");
}

// See issue 7, item 4: two scripts in one directory shared `.boss-context`.
#[test]
fn two_scripts_in_one_directory_keep_their_own_context() {
    let project = Project::new("context_per_script");
    let other_group = unique_group("context_per_script_other");
    let _other_guard = GroupGuard::new(&other_group);
    let script = |group: &str, who: &str| {
        project.expand(&format!(
            r#"group("{group}");
service(#{{ name: "a", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL",
    post_start: |ctx| {{ ctx.who = "{who}"; }} }});
"#
        ))
    };
    project.file("services.rhai", &script(project.group(), "main"));
    project.file("other.rhai", &script(&other_group, "other"));
    project.run(["start"]).success();
    project.run(["start", "other.rhai"]).success();
    assert!(project.read(CONTEXT_FILE).unwrap().contains("\"main\""));
    let other = project.read(format!("{CONTEXT_FILE}.other")).expect("other.rhai has its own context file");
    assert!(other.contains("\"other\"") && !other.contains("\"main\""), "{other}");
    project.run(["stop", "other.rhai", "--remove"]).success();
    assert!(project.read(format!("{CONTEXT_FILE}.other")).is_none());
    assert!(project.read(CONTEXT_FILE).is_some(), "the other script's context is untouched");
}

// See issue 7, item 7: `shop` + `api-db` and `shop-api` + `db` were both named `shop-api-db`.
#[test]
fn container_names_never_collide_across_groups_and_another_groups_network_is_named() {
    let project = Project::new("names_unambiguous");
    let group = project.group().to_owned();
    let other_group = format!("{group}-api");
    let _other_guard = GroupGuard::new(&other_group);
    let script = |group: &str, service: &str| {
        project.expand(&format!(
            r#"group("{group}");
service(#{{ name: "{service}", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" }});
"#
        ))
    };
    project.file("one/services.rhai", &script(&group, "api-db"));
    project.file("two/services.rhai", &script(&other_group, "db"));
    project.boss(["start"]).current_dir("one").run().success();
    project.boss(["start"]).current_dir("two").run().success();
    assert_eq!(container(&group, "api-db").unwrap().name, format!("{group}.api-db"));
    assert_eq!(container(&other_group, "db").unwrap().name, format!("{other_group}.db"));

    // A network passed with `--network-name` that belongs to another group is named as such,
    // with no hint to remove it.
    let network = format!("boss-{group}");
    project.boss(["stop", "--remove"]).current_dir("two").run().success();
    project
        .boss(["start", "--network-name", &network])
        .current_dir("two")
        .run()
        .code(1)
        .stderr_contains(&format!("error: network `{network}` belongs to boss group `{group}`"))
        .stderr_lacks("docker network rm");
    assert_eq!(container(&group, "api-db").unwrap().state, "running", "the other group is untouched");
}

// Volumes outlive `stop --remove`, so they keep claiming their group: a script in another
// directory that declares the same group must not mount their data.
#[test]
fn kept_volumes_still_claim_their_group() {
    let owner = Project::new("volume_claim_owner");
    owner.file("db/Dockerfile", &owner.expand("FROM @IMAGE@\nVOLUME /data\nCMD [\"sleep\", \"3600\"]\n"));
    owner.script(&volume_script("1"));
    owner.run(["start"]).success();
    owner.run(["stop", "--remove"]).success();
    assert_eq!(group_volumes(owner.group()).len(), 1);

    // The intruder declares the owner's group, so the owner's guard removes anything it makes.
    let intruder = Project::new("volume_claim_intruder");
    intruder.file("db/Dockerfile", &intruder.expand("FROM @IMAGE@\nVOLUME /data\nCMD [\"sleep\", \"3600\"]\n"));
    intruder.file("services.rhai", &intruder.expand(&volume_script("1")).replace(intruder.group(), owner.group()));
    intruder
        .run(["start"])
        .code(2)
        .stderr_contains(&format!("error: group `{}` belongs to the script in", owner.group()))
        .stderr_contains("whose volumes are kept")
        .stderr_lacks("creating container");
}

// See issue 7, item 7: a name held by another boss group was answered with a hint to
// `docker rm -f` it, which would destroy that group's work.
#[test]
fn a_container_name_held_by_another_group_names_that_group() {
    let project = Project::new("name_held_by_group");
    let group = project.group().to_owned();
    let other_group = unique_group("name_held_by_group_other");
    let _other_guard = GroupGuard::new(&other_group);
    let name = format!("{group}.web");
    let image = project.expand("@IMAGE@");
    let held = docker([
        "run",
        "--detach",
        "--name",
        &name,
        "--label",
        &format!("boss.group={other_group}"),
        "--label",
        "boss.service=web",
        &image,
        "sleep",
        "3600",
    ]);
    project.script(
        r#"group("@GROUP@");
service(#{ name: "web", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" });
"#,
    );
    project
        .run(["start"])
        .code(1)
        .stderr_contains(&format!("web: failed: container `{name}` belongs to boss group `{other_group}`"))
        .stderr_lacks("docker rm");
    assert_eq!(container(&other_group, "web").map(|row| row.state).as_deref(), Some("running"));
    assert!(held.trim().starts_with(&container(&other_group, "web").unwrap().id));
}

// Two scripts in one directory without `group(...)` used to share the directory's group, so
// stopping one with `--remove --volumes` removed the other's containers as orphans.
#[test]
fn two_scripts_in_one_directory_without_a_group_do_not_share_one() {
    let project = Project::new("default_group_per_script");
    let service = |name: &str| {
        project.expand(&format!(
            r#"service(#{{ name: "{name}", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL" }});
"#
        ))
    };
    project.file("services.rhai", &service("db"));
    project.file("web.rhai", &service("web"));
    // Neither script names a group, so the guards are made from what boss recorded.
    let directory = std::fs::canonicalize(project.dir()).unwrap();
    let filter = format!("label=boss.project-dir={}", directory.display());
    let groups = || -> Vec<String> {
        let mut groups: Vec<String> =
            docker(["ps", "--all", "--filter", &filter, "--format", "{{.Label \"boss.group\"}}"])
                .lines()
                .map(str::to_owned)
                .collect();
        groups.sort();
        groups.dedup();
        groups
    };
    let started = project.run(["start"]);
    let _guards: Vec<GroupGuard> = groups().iter().map(|group| GroupGuard::new(group)).collect();
    started.success();
    let web_started = project.run(["start", "web.rhai"]);
    let _more_guards: Vec<GroupGuard> = groups().iter().map(|group| GroupGuard::new(group)).collect();
    web_started.success().stderr_lacks("no longer declares");
    let groups = groups();
    assert_eq!(groups.len(), 2, "{groups:?}");
    // The directory's part is shortened to leave room for the script's name.
    let (web_group, db_group) = match groups[0].ends_with("-web") {
        true => (&groups[0], &groups[1]),
        false => (&groups[1], &groups[0]),
    };
    assert!(web_group.ends_with("-web") && !db_group.ends_with("-web"), "{groups:?}");

    project.run(["stop", "web.rhai", "--remove", "--volumes"]).success();
    assert_eq!(container(db_group, "db").map(|row| row.state).as_deref(), Some("running"));
    assert_eq!(container(web_group, "web"), None);
}

/// Removes a volume when dropped, for one a test makes without a group label.
struct VolumeGuard(String);

impl Drop for VolumeGuard {
    fn drop(&mut self) {
        let _ = try_docker(["volume", "rm", "--force", &self.0]);
    }
}

// See issue 7, item 2: a container made by an older boss keeps its image's data in an
// anonymous volume; a recreate carries that volume over, as compose does, and only
// `--volumes` deletes it.
#[test]
fn a_recreate_carries_over_an_older_containers_anonymous_volume() {
    let project = Project::new("anonymous_volume_carried");
    let group = project.group().to_owned();
    project.file("db/Dockerfile", &project.expand("FROM @IMAGE@\nVOLUME /data\nCMD [\"sleep\", \"3600\"]\n"));
    project.script(&volume_script("1"));
    // Build the image only; the old container is made by hand, as an older boss made it.
    project.run(["start"]).success();
    project.run(["stop", "--remove", "--volumes"]).success();
    let image = format!("{group}-db:1");
    let old = docker([
        "run",
        "--detach",
        "--name",
        &format!("{group}-db"),
        "--label",
        &format!("boss.group={group}"),
        "--label",
        "boss.service=db",
        // Every boss since the first has labelled its containers with their config hash.
        "--label",
        "boss.config-hash=0123456789abcdef",
        &image,
    ]);
    let old = old.trim();
    let anonymous = docker(["inspect", "--format", "{{range .Mounts}}{{.Name}}{{end}}", old]).trim().to_owned();
    let _volume_guard = VolumeGuard(anonymous.clone());
    docker(["exec", old, "sh", "-c", "echo precious > /data/f"]);
    docker(["stop", "--time", "0", old]);

    project
        .run(["start"])
        .success()
        .stderr_contains("db: recreating: it was created without a recorded definition")
        .stderr_lacks("created volume");
    assert_eq!(read_data(&group).as_deref(), Ok("precious\n"), "the anonymous volume came along");

    project.run(["stop", "--remove", "--volumes"]).success().stderr_contains(&format!("removed volume `{anonymous}`"));
    assert!(try_docker(["volume", "inspect", &anonymous]).is_err(), "`--volumes` deleted it");
}
