//! Unit tests of `compose()`: a compose file in a temporary directory, loaded through a script,
//! checked as the services it declares.

use std::path::Path;

use crate::error::Error;
use crate::event::EventSink;
use crate::project::Project;
use crate::service::{MountSource, ServiceKind};

fn load(compose: &str, script: &str) -> (tempfile::TempDir, Result<Project, Error>) {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("docker-compose.yml"), compose).unwrap();
    let path = directory.path().join("services.rhai");
    let result = super::super::evaluate::load_source(&path, script.to_string(), EventSink::new(|_| {}));
    (directory, result)
}

fn project(compose: &str, script: &str) -> (tempfile::TempDir, Project) {
    let (directory, result) = load(compose, script);
    match result {
        Ok(project) => (directory, project),
        Err(error) => panic!("failed to load:\n{}", error.render()),
    }
}

const FILE: &str = r#"
x-base: &base
  image: busybox:1
  environment:
    COMMON: "yes"
services:
  db:
    <<: *base
    ports: ["5432:5432", "127.0.0.1:6000:6000/udp"]
    volumes: ["./data:/var/lib/data", "dbdata:/other"]
    healthcheck:
      test: ["CMD", "true"]
      interval: 1s
  migrate:
    <<: *base
    command: ["sh", "-c", "echo done"]
    depends_on:
      db: { condition: service_healthy }
  web:
    image: nginx:1.27
    environment: ["NAME=${WEB_NAME:-shop}"]
    ports:
      - target: 80
        published: 8080
    depends_on:
      migrate: { condition: service_completed_successfully }
      db: { condition: service_started }
volumes:
  dbdata: {}
"#;

#[test]
fn each_compose_service_becomes_a_service() {
    let (directory, project) = project(FILE, r#"compose("docker-compose.yml");"#);
    let names: Vec<&str> = project.services.keys().map(String::as_str).collect();
    assert_eq!(names, ["db", "migrate", "web"]);
    let db = &project.services["db"];
    assert_eq!(db.image, "busybox:1");
    assert_eq!(db.env, [("COMMON".to_string(), "yes".to_string())]);
    let ports: Vec<(u16, &str, u16)> =
        db.ports.iter().map(|port| (port.container_port, port.host_ip.as_str(), port.host_port)).collect();
    assert_eq!(ports, [(5432, "127.0.0.1", 5432), (6000, "127.0.0.1", 6000)]);
    assert_eq!(db.volumes[0].source, MountSource::Host(directory.path().join("data")));
    assert_eq!(db.volumes[1].source, MountSource::Named("dbdata".into()));
    assert!(db.hooks.ping, "service_healthy gives the dependency a ping");
    assert_eq!(db.healthcheck.as_ref().unwrap().test, ["CMD", "true"]);
    let migrate = &project.services["migrate"];
    assert_eq!(migrate.kind, ServiceKind::Job);
    assert_eq!(migrate.cmd.as_deref(), Some(&["sh".to_string(), "-c".into(), "echo done".into()][..]));
    assert_eq!(migrate.dependencies, ["db"]);
    let web = &project.services["web"];
    assert_eq!(web.kind, ServiceKind::Container);
    assert_eq!(web.env, [("NAME".to_string(), "shop".to_string())]);
    assert_eq!(web.dependencies, ["migrate", "db"]);
    assert_eq!(web.ports[0].host_port, 8080);
    assert!(!web.hooks.ping);
}

#[test]
fn overrides_swap_images_ports_and_paths() {
    let script = r#"compose("docker-compose.yml", #{
        images: #{ "busybox:1": "local/busybox:test" },
        random_ports: true,
        paths: #{ "./data": "/tmp/elsewhere" },
    });"#;
    let (_directory, project) = project(FILE, script);
    let db = &project.services["db"];
    assert_eq!(db.image, "local/busybox:test");
    assert!(db.ports.iter().all(|port| port.host_port == 0));
    assert_eq!(db.volumes[0].source, MountSource::Host("/tmp/elsewhere".into()));
    assert_eq!(project.services["web"].image, "nginx:1.27");
}

#[test]
fn hooks_are_added_to_a_compose_service() {
    let script = r#"compose("docker-compose.yml");
hooks("web", #{ ping: || true, post_start: |ctx| ctx.x = 1 });
hooks("db", #{ ping: || true });"#;
    let (_directory, project) = project(FILE, script);
    assert!(project.services["web"].hooks.ping);
    assert!(project.services["web"].hooks.post_start);
}

#[test]
fn hooks_for_an_unknown_service_suggest_one() {
    let (_directory, result) = load(FILE, "compose(\"docker-compose.yml\");\nhooks(\"webb\", #{ ping: || true });");
    let rendered = result.unwrap_err().render();
    assert!(rendered.contains("`hooks` names unknown service `webb`"), "{rendered}");
    assert!(rendered.contains("did you mean `web`?"), "{rendered}");
}

#[test]
fn a_service_next_to_the_compose_ones_can_depend_on_them() {
    let script = r#"compose("docker-compose.yml");
service(#{ name: "worker", image: "busybox:1", dependencies: ["web"] });"#;
    let (_directory, project) = project(FILE, script);
    assert_eq!(project.services["worker"].dependencies, ["web"]);
}

#[test]
fn two_services_on_one_host_port_is_the_usual_error() {
    let file =
        "services:\n  a: { image: busybox:1, ports: [\"80:80\"] }\n  b: { image: busybox:1, ports: [\"80:81\"] }\n";
    let (_directory, result) = load(file, r#"compose("docker-compose.yml");"#);
    let rendered = result.unwrap_err().render();
    assert!(rendered.contains("80/tcp"), "{rendered}");
}

#[test]
fn keys_not_mapped_yet_are_an_error_at_their_line() {
    let file = "secrets:\n  pw: { file: ./pw.txt }\nservices:\n  a:\n    image: busybox:1\n    secrets: [pw]\n";
    let (_directory, result) = load(file, r#"compose("docker-compose.yml");"#);
    let error = result.unwrap_err();
    assert_eq!(error.exit_code(), crate::error::exit_code::INVALID_INPUT);
    let rendered = error.render();
    assert!(rendered.contains("secrets"), "{rendered}");
    assert!(rendered.contains("docker-compose.yml:6"), "{rendered}");
    assert!(rendered.contains("does not map this key yet"), "{rendered}");
}

#[test]
fn env_files_and_profiles_map_onto_the_service() {
    let file = "services:\n  a:\n    image: busybox:1\n    env_file:\n      - a.env\n      - path: missing.env\n        required: false\n    environment: { B: from-environment }\n    profiles: [debug, tools]\n  b: { image: busybox:1 }\n";
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join("a.env"), "A=from-file\nB=from-file\n").unwrap();
    std::fs::write(directory.path().join("docker-compose.yml"), file).unwrap();
    let path = directory.path().join("services.rhai");
    let script = r#"compose("docker-compose.yml");"#.to_string();
    let project = super::super::evaluate::load_source(&path, script, EventSink::new(|_| {}))
        .unwrap_or_else(|error| panic!("{}", error.render()));
    let a = &project.services["a"];
    let mut env = a.env.clone();
    env.sort();
    assert_eq!(env, [("A".into(), "from-file".into()), ("B".into(), "from-environment".into())]);
    assert_eq!(a.profiles, ["debug", "tools"]);
    assert!(project.services["b"].profiles.is_empty());
}

#[test]
fn an_unknown_override_is_a_script_error() {
    let (_directory, result) = load(FILE, r#"compose("docker-compose.yml", #{ ports: true });"#);
    let rendered = result.unwrap_err().render();
    assert!(rendered.contains("the key `ports`"), "{rendered}");
}

#[test]
fn normalise_drops_dots() {
    assert_eq!(super::normalise(Path::new("/a/./b/../c")), Path::new("/a/c"));
}

#[test]
fn build_dirs_tmpfs_and_the_other_fields_map_onto_the_service() {
    let file = r#"
name: shop
services:
  api:
    build:
      context: ./api
      args: { VERSION: "2" }
      target: runtime
    tmpfs: ["/run:size=1m,mode=1777"]
    healthcheck: { test: "true", interval: 2s, retries: 3 }
    restart: on-failure:2
    labels: { team: shop }
    extra_hosts: ["db.local:10.0.0.1"]
    user: "1000"
    working_dir: /srv
    stop_signal: SIGINT
    init: true
    mem_limit: 64m
    cpus: 0.5
"#;
    let directory = tempfile::tempdir().unwrap();
    let other = directory.path().join("elsewhere");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("Dockerfile"), "FROM scratch\n").unwrap();
    std::fs::write(directory.path().join("docker-compose.yml"), file).unwrap();
    let script = r#"compose("docker-compose.yml", #{ build_dirs: #{ "./api": "./elsewhere" } });"#;
    let result = super::super::evaluate::load_source(
        &directory.path().join("services.rhai"),
        script.into(),
        EventSink::new(|_| {}),
    );
    let project = result.unwrap_or_else(|error| panic!("{}", error.render()));
    let api = &project.services["api"];
    assert_eq!(api.image, "shop-api");
    assert_eq!(api.build_from.as_deref(), Some(other.as_path()));
    assert_eq!(api.build.args, [("VERSION".to_string(), "2".to_string())]);
    assert_eq!(api.build.target.as_deref(), Some("runtime"));
    assert_eq!((api.tmpfs[0].path.as_str(), api.tmpfs[0].options.as_str()), ("/run", "size=1048576,mode=1777"));
    assert_eq!(api.healthcheck.as_ref().unwrap().test, ["CMD-SHELL", "true"]);
    assert_eq!(api.healthcheck.as_ref().unwrap().retries, Some(3));
    assert_eq!(api.labels, [("team".to_string(), "shop".to_string())]);
    assert_eq!(api.extra_hosts, [("db.local".to_string(), "10.0.0.1".to_string())]);
    assert_eq!(api.user.as_deref(), Some("1000"));
    assert_eq!(api.working_dir.as_deref(), Some("/srv"));
    assert!(api.init);
    assert_eq!(api.resources.memory, Some(64 << 20));
    assert_eq!(api.resources.nano_cpus, Some(500_000_000));
    assert_eq!(api.restart, crate::service::RestartPolicy::parse("on-failure:2").unwrap());
}

#[test]
fn a_value_the_service_model_refuses_points_into_the_compose_file() {
    let file = "services:\n  web:\n    image: busybox:1\n    stop_signal: SIGFOO\n";
    let (directory, result) = load(file, r#"compose("docker-compose.yml");"#);
    let rendered = result.unwrap_err().render().replace(&directory.path().display().to_string(), "<dir>");
    assert!(rendered.contains("stop signal `SIGFOO` is not allowed"), "{rendered}");
    assert!(rendered.contains(" --> <dir>/docker-compose.yml:2:3\n"), "{rendered}");
}
