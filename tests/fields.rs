//! The container fields compose users rely on, on the real engine: each reaches the container
//! (`docker inspect`), `{key}` from the context fills cmd, working_dir, labels and extra hosts,
//! a script healthcheck makes `wait_healthy` work for an image without one, named volumes
//! belong to the group (kept by `stop --remove` and by `gc` without `--volumes`, removed by
//! `--volumes`, a foreign volume of the same name refused), a changed field recreates a
//! stopped container and says which, a restart policy does not hide a container that exits
//! while it starts, and build args and target reach the build.

use crate::common::{Project, container, docker, inspect, try_docker};

/// `source` sets the context values `b` uses; `b` carries every container field.
const FIELDS: &str = r#"group("@GROUP@");

service(#{
    name: "source",
    image: "@IMAGE@",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    post_start: |ctx| { ctx.sub = "work"; ctx.peer = "10.1.2.3"; ctx.team = "core"; },
});

service(#{
    name: "b",
    image: "@IMAGE@",
    dependencies: ["source"],
    cmd: ["sh", "-c", "echo {sub} > /data/written; exec sleep 3600"],
    stop_signal: "SIGKILL",
    working_dir: "/srv/{sub}",
    labels: #{ team: "{team}", "com.example.kind": "test" },
    extra_hosts: #{ "peer.local": "{peer}", "fixed.local": "10.9.9.9" },
    volumes: ["data:/data"],
    tmpfs: ["/scratch:size=1m"],
    restart: "on-failure:2",
    mem_limit: "64m",
    cpus: 0.5,
    init: true,
    healthcheck: #{ test: ["CMD", "test", "-f", "/data/written"], interval: "200ms", retries: 50 },
    ping: || wait_healthy(),
});
"#;

#[test]
fn every_container_field_reaches_the_container_with_context_values_filled_in() {
    let project = Project::new("fields_all");
    project.script(FIELDS);
    let group = project.group().to_owned();
    project
        .run(["start"])
        .success()
        .stderr_contains(&format!("b: created volume {group}.data for /data"))
        .stderr_contains("b: started in");
    let id = container(&group, "b").expect("b runs").id;

    assert_eq!(inspect(&id, "{{json .Config.Cmd}}"), r#"["sh","-c","echo work > /data/written; exec sleep 3600"]"#);
    assert_eq!(inspect(&id, "{{.Config.WorkingDir}}"), "/srv/work");
    assert_eq!(
        inspect(&id, r#"{{index .Config.Labels "team"}} {{index .Config.Labels "com.example.kind"}}"#),
        "core test"
    );
    assert_eq!(inspect(&id, r#"{{index .Config.Labels "boss.group"}}"#), group, "boss's labels stay");
    let mut hosts: Vec<String> = serde_json::from_str(&inspect(&id, "{{json .HostConfig.ExtraHosts}}")).unwrap();
    hosts.sort();
    assert_eq!(hosts, ["fixed.local:10.9.9.9", "peer.local:10.1.2.3"]);
    let etc_hosts = docker(["exec", &id, "cat", "/etc/hosts"]);
    assert!(etc_hosts.contains("10.1.2.3\tpeer.local"), "{etc_hosts}");
    assert_eq!(inspect(&id, "{{json .HostConfig.Tmpfs}}"), r#"{"/scratch":"size=1m"}"#);
    assert_eq!(
        inspect(&id, "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"),
        "on-failure:2"
    );
    assert_eq!(
        inspect(&id, "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.Init}}"),
        "67108864 500000000 true"
    );
    assert_eq!(inspect(&id, "{{json .Config.Healthcheck.Test}}"), r#"["CMD","test","-f","/data/written"]"#);
    assert_eq!(inspect(&id, "{{.State.Health.Status}}"), "healthy", "the ping waited for the script's healthcheck");
    let mounts = inspect(&id, r#"{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}};{{end}}"#);
    assert!(mounts.contains(&format!("volume {group}.data /data;")), "{mounts}");
}

/// `db` writes into the named volume `data` once, and `reader` mounts the same volume.
const VOLUMES: &str = r#"group("@GROUP@");

service(#{
    name: "db",
    image: "@IMAGE@",
    cmd: ["sh", "-c", "[ -f /data/first ] || date > /data/first; exec sleep 3600"],
    stop_signal: "SIGKILL",
    volumes: ["data:/data"],
});

service(#{
    name: "reader",
    image: "@IMAGE@",
    dependencies: ["db"],
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
    volumes: ["data:/shared:ro"],
});
"#;

/// The labels of volume `name`, or `None` when it does not exist.
fn volume_labels(name: &str) -> Option<String> {
    try_docker(["volume", "inspect", "--format", "{{json .Labels}}", name]).ok().map(|text| text.trim().to_owned())
}

#[test]
fn a_named_volume_is_the_groups_kept_by_stop_remove_and_removed_only_with_volumes() {
    let project = Project::new("fields_named_volume");
    project.script(VOLUMES);
    let group = project.group().to_owned();
    let volume = format!("{group}.data");
    project.run(["start"]).success();
    let labels: serde_json::Value = serde_json::from_str(&volume_labels(&volume).expect("created")).unwrap();
    assert_eq!((labels["boss.group"].as_str(), labels["boss.volume"].as_str()), (Some(group.as_str()), Some("data")));
    let reader = container(&group, "reader").unwrap().id;
    let first = docker(["exec", &reader, "cat", "/shared/first"]);
    assert!(!first.trim().is_empty(), "both services mount one volume");

    project.run(["stop", "--remove"]).success();
    assert!(volume_labels(&volume).is_some(), "`stop --remove` keeps the data");
    project.run(["start"]).success();
    let reader = container(&group, "reader").unwrap().id;
    assert_eq!(docker(["exec", &reader, "cat", "/shared/first"]), first, "the new containers see the old data");

    // A service left running keeps the named volume it mounts.
    project.run(["stop", "--remove", "--volumes", "--exclude", "db"]).success();
    assert!(volume_labels(&volume).is_some(), "`db` still runs on it");
    project.run(["stop", "--remove", "--volumes"]).success().stderr_contains(&format!("removed volume `{volume}`"));
    assert_eq!(volume_labels(&volume), None, "`--volumes` removes it");
}

#[test]
fn a_volume_of_that_name_that_boss_did_not_create_is_refused_and_left_alone() {
    let project = Project::new("fields_foreign_volume");
    project.script(VOLUMES);
    let group = project.group().to_owned();
    let volume = format!("{group}.data");
    docker(["volume", "create", "--label", &format!("boss-test.group={group}"), &volume]);
    project
        .run(["start"])
        .code(1)
        .stderr_contains(&format!("a volume named `{volume}` exists but was not created by boss"));
    assert_eq!(volume_labels(&volume).as_deref(), Some(format!(r#"{{"boss-test.group":"{group}"}}"#).as_str()));
    project.run(["stop", "--remove", "--volumes"]).success();
    assert!(volume_labels(&volume).is_some(), "a volume boss did not create is never removed");
}

/// One service `api` with the extra fields `fields` (Rhai map entries).
fn api(fields: &str) -> String {
    format!(
        r#"group("@GROUP@");
service(#{{ name: "api", image: "@IMAGE@", cmd: ["sleep", "3600"], stop_signal: "SIGKILL", {fields} }});
"#
    )
}

#[test]
fn a_changed_container_field_recreates_the_stopped_container_and_says_which() {
    let project = Project::new("fields_changes");
    let group = project.group().to_owned();
    project.script(&api(r#"working_dir: "/one", labels: #{ tier: "a" }, tmpfs: "/t""#));
    project.run(["start"]).success();
    project.run(["stop"]).success();
    project.run(["start"]).success().stderr_contains(&format!("api: restarting stopped container {group}.api"));

    let cases = [
        (r#"working_dir: "/two", labels: #{ tier: "a" }, tmpfs: "/t""#, "`working_dir` changed"),
        (r#"working_dir: "/two", labels: #{ tier: "b" }, tmpfs: "/t""#, "`labels` changed"),
        (r#"working_dir: "/two", labels: #{ tier: "b" }, tmpfs: "/t:size=1m""#, "`tmpfs` changed"),
        (r#"working_dir: "/two", labels: #{ tier: "b" }, tmpfs: "/t:size=1m", init: true"#, "`init` changed"),
        (
            r#"working_dir: "/two", labels: #{ tier: "b" }, tmpfs: "/t:size=1m", init: true, restart: "always""#,
            "`restart` changed",
        ),
    ];
    for (fields, reason) in cases {
        project.run(["stop"]).success();
        project.script(&api(fields));
        project.run(["plan"]).success().stdout_contains(reason);
        project.run(["start"]).success().stderr_contains(&format!("api: recreating: {reason} (removing {group}.api)"));
    }
    let id = container(&group, "api").unwrap().id;
    assert_eq!(
        inspect(&id, "{{.Config.WorkingDir}} {{.HostConfig.Init}} {{.HostConfig.RestartPolicy.Name}}"),
        "/two true always"
    );
    // boss's stop is the engine's stop, which no restart policy undoes.
    project.run(["stop"]).success();
    assert_eq!(container(&group, "api").unwrap().state, "exited");
}

#[test]
fn a_key_in_cmd_or_extra_hosts_that_nothing_provides_is_refused_before_anything_starts() {
    let project = Project::new("fields_missing_key");
    project.script(
        r#"group("@GROUP@");
service(#{ name: "api", image: "@IMAGE@", cmd: ["awk", "{print $1}"], extra_hosts: #{ "x.local": "{print $1}" } });
"#,
    );
    project
        .run(["start"])
        .code(2)
        .stderr_contains("error: service `api` needs `{print $1}` in `cmd`, but nothing provides key `print $1`")
        .stderr_contains(
            "error: service `api` needs `{print $1}` in extra host `x.local`, but nothing provides key `print $1`",
        )
        .stderr_contains("hint: if the braces are meant literally (an `awk` program, say), write `{{` and `}}`");
    assert_eq!(container(project.group(), "api"), None, "nothing was created");
}

const BUILT: &str = r#"group("@GROUP@");

service(#{
    name: "app",
    image: "@GROUP@-app",
    build_from: "./app",
    build_args: #{ GREETING: "@GREETING@" },
    build_target: "chosen",
    cmd: ["sleep", "3600"],
    stop_signal: "SIGKILL",
});
"#;

const STAGES: &str = r#"FROM @IMAGE@ AS base
ARG GREETING=none
RUN echo "$GREETING" > /greeting
FROM base AS chosen
RUN echo chosen > /stage
FROM base AS last
RUN echo last > /stage
"#;

#[test]
fn build_args_and_target_reach_the_build_and_a_changed_arg_rebuilds_latest() {
    let project = Project::new("fields_build_args");
    let group = project.group().to_owned();
    project.file("app/Dockerfile", &project.expand(STAGES)).script(&BUILT.replace("@GREETING@", "hello"));
    project.run(["start"]).success();
    let id = container(&group, "app").unwrap().id;
    assert_eq!(docker(["exec", &id, "cat", "/greeting", "/stage"]), "hello\nchosen\n");

    // A running container is kept, and said to be outdated.
    project.script(&BUILT.replace("@GREETING@", "bye"));
    project
        .run(["plan"])
        .success()
        .stdout_contains("outdated: `build_args` or `build_target` changed since its image was built");
    // Stopped, the `latest` build decides: the new arg gives a new image, so a new container.
    project.run(["stop"]).success();
    project.run(["start"]).success().stderr_contains("app: recreating: image");
    let id = container(&group, "app").unwrap().id;
    assert_eq!(docker(["exec", &id, "cat", "/greeting", "/stage"]), "bye\nchosen\n");
}

#[test]
fn a_container_that_exits_while_it_starts_fails_its_service_whatever_its_restart_policy() {
    let project = Project::new("fields_restart_exit");
    project.script(
        r#"group("@GROUP@");
service(#{ name: "api", image: "@IMAGE@", cmd: ["sh", "-c", "sleep 0.3; exit 3"], restart: "always",
    ping: || false, wait_timeout: "60s" });
"#,
    );
    // Not the status itself: the engine reads it when it answers the wait, and a container it
    // has restarted by then shows 0.
    project.run(["start"]).code(1).stderr_contains("container exited with status").stderr_contains("while starting");
    project.run(["stop", "--remove"]).success();
    assert_eq!(container(project.group(), "api"), None);
}

#[test]
fn gc_keeps_a_dead_groups_named_volume_unless_asked_for_volumes() {
    let project = Project::new("fields_gc_named");
    let group = project.group().to_owned();
    let volume = format!("{group}.data");
    project.file("app/services.rhai", &project.expand(VOLUMES));
    project.run(["start", "app/services.rhai"]).success();
    std::fs::remove_dir_all(project.path("app")).unwrap();

    project.run(["gc", "--group", &group]).success();
    assert_eq!(container(&group, "db"), None, "the dead group's containers go");
    assert!(volume_labels(&volume).is_some(), "its named volume holds data and stays");
    project.run(["gc", "--group", &group, "--volumes"]).success();
    assert_eq!(volume_labels(&volume), None);
}
