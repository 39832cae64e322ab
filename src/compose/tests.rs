//! Compose files written for the tests in the shapes real projects use (`testdata/`), read end
//! to end and compared, through one `describe` rendering, with what they declare; and every
//! rendered error and warning, verbatim.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::source::{SourceFile, Span};

fn variables(pairs: &[(&str, &str)]) -> Variables {
    Variables::new(pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())))
}

fn parse(name: &str, text: &str, variables: &Variables) -> Result<ComposeFile, crate::error::Error> {
    ComposeFile::parse(Arc::new(SourceFile::new(name.into(), text.into())), Path::new("/project"), variables)
}

fn testdata(name: &str, variables: &Variables) -> ComposeFile {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/compose/testdata").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    parse(name, &text, variables).unwrap_or_else(|error| panic!("{}", error.render()))
}

fn at(span: &Span) -> String {
    format!("{}:{}", span.line, span.column)
}

fn words(words: &[String]) -> String {
    words.iter().map(|word| format!("{word:?}")).collect::<Vec<_>>().join(" ")
}

fn duration(duration: Option<std::time::Duration>) -> String {
    duration.map_or("-".into(), |duration| format!("{duration:?}"))
}

/// One line per field that is set, with the line and column of located values.
fn describe(file: &ComposeFile) -> String {
    let mut out = String::new();
    if let Some(name) = &file.name {
        let _ = writeln!(out, "name {} @{}", name.value, at(&name.span));
    }
    for service in &file.services {
        let _ = writeln!(out, "service {} @{}", service.name, at(&service.span));
        let mut line = |text: String| {
            let _ = writeln!(out, "  {text}");
        };
        if let Some(image) = &service.image {
            line(format!("image {} @{}", image.value, at(&image.span)));
        }
        if let Some(build) = &service.build {
            let build = &build.value;
            let args: Vec<String> = build
                .args
                .iter()
                .map(|(name, value)| format!("{name}={}", value.as_deref().unwrap_or("<env>")))
                .collect();
            line(format!(
                "build {} dockerfile={} target={} args=[{}]",
                build.context.display(),
                build.dockerfile.as_deref().unwrap_or("-"),
                build.target.as_deref().unwrap_or("-"),
                args.join(", ")
            ));
        }
        if let Some(entrypoint) = &service.entrypoint {
            line(format!("entrypoint [{}]", words(&entrypoint.value)));
        }
        if let Some(command) = &service.command {
            line(format!("command [{}] @{}", words(&command.value), at(&command.span)));
        }
        for entry in &service.environment {
            line(format!(
                "env {}={} @{}",
                entry.value.name,
                entry.value.value.as_deref().unwrap_or("<unset>"),
                at(&entry.span)
            ));
        }
        for file in &service.env_files {
            line(format!("env_file {} required={}", file.value.path.display(), file.value.required));
        }
        for port in &service.ports {
            let port_text = &port.value;
            line(format!(
                "port {}{}->{}/{} @{}",
                port_text.host_ip.as_deref().map(|address| format!("{address}:")).unwrap_or_default(),
                port_text.published.map_or("*".into(), |published| published.to_string()),
                port_text.target,
                port_text.protocol.as_str(),
                at(&port.span)
            ));
        }
        for mount in &service.volumes {
            let text = match &mount.value {
                Mount::Bind { source, target, read_only } => {
                    format!("bind {} -> {target} ro={read_only}", source.display())
                }
                Mount::Volume { source, target, read_only } => {
                    format!("volume {} -> {target} ro={read_only}", source.as_deref().unwrap_or("<anonymous>"))
                }
                Mount::Tmpfs { target, size, mode } => format!(
                    "tmpfs {target} size={} mode={}",
                    size.map_or("-".into(), |size| size.to_string()),
                    mode.map_or("-".into(), |mode| format!("{mode:o}"))
                ),
            };
            line(format!("{text} @{}", at(&mount.span)));
        }
        for secret in &service.secrets {
            line(format!("secret {} -> {} @{}", secret.value.source, secret.value.target, at(&secret.span)));
        }
        for dependency in &service.depends_on {
            let value = &dependency.value;
            line(format!(
                "depends_on {} {:?} required={} restart={} @{}",
                value.service,
                value.condition,
                value.required,
                value.restart,
                at(&dependency.span)
            ));
        }
        if let Some(healthcheck) = &service.healthcheck {
            let check = &healthcheck.value;
            let test = match &check.test {
                None => "image's".to_string(),
                Some(HealthTest::Exec(words_list)) => format!("exec [{}]", words(words_list)),
                Some(HealthTest::Shell(command)) => format!("shell {command:?}"),
                Some(HealthTest::Disabled) => "disabled".to_string(),
            };
            line(format!(
                "healthcheck {test} interval={} timeout={} start_period={} start_interval={} retries={:?}",
                duration(check.interval),
                duration(check.timeout),
                duration(check.start_period),
                duration(check.start_interval),
                check.retries
            ));
        }
        for (name, value) in
            [("user", &service.user), ("working_dir", &service.working_dir), ("stop_signal", &service.stop_signal)]
        {
            if let Some(value) = value {
                line(format!("{name} {}", value.value));
            }
        }
        if service.stop_grace_period.is_some() {
            line(format!("stop_grace_period {}", duration(service.stop_grace_period)));
        }
        for host in &service.extra_hosts {
            line(format!("extra_host {}={}", host.value.0, host.value.1));
        }
        for (name, value) in &service.labels {
            line(format!("label {name}={value}"));
        }
        if !service.profiles.is_empty() {
            line(format!("profiles {}", service.profiles.join(", ")));
        }
        if let Some(restart) = &service.restart {
            line(format!("restart {restart:?}"));
        }
        if let Some(init) = service.init {
            line(format!("init {init}"));
        }
        if let Some(bytes) = service.mem_limit {
            line(format!("mem_limit {bytes}"));
        }
        if let Some(cpus) = service.cpus {
            line(format!("cpus {cpus}"));
        }
    }
    for volume in &file.volumes {
        let _ = writeln!(
            out,
            "volume {} @{} name={} external={} labels={:?}",
            volume.key,
            at(&volume.span),
            volume.name.as_deref().unwrap_or("-"),
            volume.external,
            volume.labels
        );
    }
    for secret in &file.secrets {
        let _ = writeln!(out, "secret {} @{} {:?}", secret.key, at(&secret.span), secret.source);
    }
    for warning in &file.warnings {
        let _ = writeln!(out, "warning {:?} @{}", warning.kind, at(&warning.span));
    }
    out
}

#[test]
fn shop_anchors_merge_keys_defaults_every_condition_a_migration_job_and_profiles() {
    let file = testdata("shop.yml", &variables(&[("APP_TAG", "2.1"), ("LOG_LEVEL", "")]));
    assert_eq!(
        describe(&file),
        r#"service db @13:3
  image postgres:16-alpine @14:12
  env POSTGRES_USER=shop @16:7
  env POSTGRES_PASSWORD=devpass @17:7
  port 127.0.0.1:5432->5432/tcp @19:9
  volume pgdata -> /var/lib/postgresql/data ro=false @21:9
  healthcheck shell "pg_isready -U shop" interval=5s timeout=3s start_period=90s start_interval=- retries=Some(10)
service migrate @29:3
  image shop/app:2.1 @6:10
  command ["app" "migrate" "--yes"] @31:14
  env DATABASE_URL=postgres://shop:devpass@db:5432/shop @8:5
  env LOG_LEVEL= @9:5
  depends_on db Healthy required=true restart=false @34:7
  restart No
service api @37:3
  image shop/app:2.1 @6:10
  command ["app" "serve" "--port" "8000"] @40:14
  env DATABASE_URL=postgres://shop:devpass@db:5432/shop @8:5
  env LOG_LEVEL= @9:5
  port 8000->8000/tcp @42:9
  port *->9100/tcp @46:9
  depends_on migrate CompletedSuccessfully required=true restart=false @48:7
  depends_on db Healthy required=true restart=true @50:7
  depends_on cache Started required=false restart=false @53:7
  healthcheck exec ["wget" "-q" "-O" "-" "http://localhost:8000/health"] interval=- timeout=- start_period=- start_interval=- retries=None
  restart UnlessStopped
service worker @59:3
  image shop/app:2.1 @6:10
  command ["app" "work"] @65:14
  env LOG_LEVEL=debug @63:7
  env QUEUE=orders @64:7
  env DATABASE_URL=postgres://shop:devpass@db:5432/shop @8:5
  depends_on db Started required=true restart=false @66:18
  depends_on cache Started required=true restart=false @66:22
  restart UnlessStopped
service cache @68:3
  image redis:7 @69:12
  profiles cache, full
service adminer @72:3
  image adminer:4 @73:12
  port 8081->8080/tcp @77:9
  profiles debug
volume pgdata @80:3 name=- external=false labels=[]
warning IgnoredKey { key: "version", place: TopLevel, reason: Obsolete } @3:1
warning IgnoredKey { key: "container_name", place: Service("api"), reason: ContainerName } @39:5
"#
    );
}

#[test]
fn vault_secrets_from_a_file_and_the_environment() {
    let file = testdata("vault.yml", &variables(&[("FROM_SHELL", "shell value")]));
    assert_eq!(
        describe(&file),
        r#"name vault-demo @2:7
service app @5:3
  image example/app:1 @6:12
  env API_KEY_FILE=/run/secrets/api_key @16:9
  env FROM_SHELL=shell value @17:9
  env NOT_SET_ANYWHERE=<unset> @18:9
  secret api_key -> /run/secrets/api_key @8:9
  secret db_password -> /run/secrets/db_pass @9:9
  secret tls_cert -> /etc/ssl/app.pem @13:9
secret api_key @21:3 File("/project/./secrets/api_key.txt")
secret db_password @23:3 Environment("DB_PASSWORD")
secret tls_cert @25:3 File("/etc/certs/app.pem")
warning IgnoredKey { key: "uid", place: ServiceField { service: "app", field: "secrets" }, reason: SecretOwnership } @11:9
warning IgnoredKey { key: "mode", place: ServiceField { service: "app", field: "secrets" }, reason: SecretOwnership } @12:9
"#
    );
}

#[test]
fn storage_named_volumes_binds_tmpfs_in_both_syntaxes() {
    let file = testdata("storage.yml", &variables(&[("HOME", "/home/dev")]));
    assert_eq!(
        describe(&file),
        r#"service files @4:3
  image example/files:2 @5:12
  volume uploads -> /srv/uploads ro=false @7:9
  bind /project/./config -> /etc/files ro=true @8:9
  bind /home/dev/cache -> /cache ro=false @9:9
  bind /var/tmp/scratch -> /scratch ro=false @10:9
  volume <anonymous> -> /srv/anonymous ro=false @11:9
  volume shared -> /srv/shared ro=true @12:9
  bind /project/../fixtures -> /fixtures ro=false @16:9
  tmpfs /run/cache size=67108864 mode=1777 @21:9
  tmpfs /tmp size=- mode=- @27:9
  tmpfs /run/lock size=1048576 mode=700 @28:9
volume uploads @31:3 name=- external=false labels=[("team", "storage")]
volume shared @34:3 name=company-shared external=true labels=[]
"#
    );
}

#[test]
fn builds_commands_env_files_hosts_labels_and_limits() {
    let file = testdata("builds.yml", &Variables::default());
    assert_eq!(
        describe(&file),
        r#"service web @4:3
  build /project/./web dockerfile=- target=- args=[]
  command ["nginx" "-g" "daemon off;"] @6:14
  port 8080->80/tcp @17:9
  port 8443->443/tcp @18:9
  user 101:101
  working_dir /srv
  stop_signal SIGQUIT
  stop_grace_period 20s
  extra_host host.docker.internal=host-gateway
  extra_host legacy=10.0.0.5
  label com.example.role=frontend
service api @20:3
  build /project/./api dockerfile=docker/Dockerfile.dev target=dev args=[NODE_VERSION=20, HTTP_PROXY=<env>]
  entrypoint ["/docker-entrypoint.sh" "--wait" "db:5432"]
  command ["npm" "run" "dev"] @29:14
  env_file /project/.env.api required=true
  env_file /project/./local.env required=false
  extra_host metrics=10.1.2.3
  label com.example.role=backend
  label com.example.empty=
  restart OnFailure { max_retries: Some(3) }
  init true
  mem_limit 536870912
  cpus 1.5
service tools @44:3
  build /project/. dockerfile=- target=- args=[VERSION=2]
  entrypoint []
  profiles tools
"#
    );
}

#[test]
fn queue_merges_two_anchors_turns_healthchecks_off_and_expands_port_ranges() {
    let file = testdata("queue.yml", &variables(&[("CONSUMER_TAG", "7")]));
    assert_eq!(
        describe(&file),
        r#"service broker @21:3
  image rabbitmq:3-management @22:12
  port 5672->5672/tcp @24:9
  port 15670->15670/tcp @25:9
  port 15671->15671/tcp @25:9
  port 15672->15672/tcp @25:9
  healthcheck shell "rabbitmq-diagnostics -q ping" interval=10s timeout=- start_period=- start_interval=500ms retries=None
service orders @33:3
  image example/consumer:7 @14:10
  command ["sh" "-c" "echo \"$HOSTNAME consumes $QUEUE\"; exec consumer"] @38:14
  env QUEUE=orders @37:7
  env BROKER_URL=amqp://guest:guest@broker:5672/ @7:3
  env PREFETCH=10 @8:3
  env DEBUG=true @10:3
  depends_on broker Healthy required=true restart=false @16:5
  healthcheck disabled interval=- timeout=- start_period=- start_interval=- retries=None
  stop_grace_period 45s
service emails @42:3
  image example/consumer:7 @14:10
  env QUEUE=emails @46:7
  env BROKER_URL=amqp://guest:guest@broker:5672/ @7:3
  env PREFETCH=10 @8:3
  depends_on broker Healthy required=true restart=false @16:5
  healthcheck disabled interval=- timeout=- start_period=- start_interval=- retries=None
  stop_grace_period 45s
warning IgnoredKey { key: "logging", place: Service("broker"), reason: Logging } @31:5
"#
    );
}

/// The rendered error for `text`, read with `variables`.
fn error(text: &str, variables: &Variables) -> String {
    match parse("compose.yml", text, variables) {
        Ok(file) => panic!("no error: {file:?}"),
        Err(error) => error.render(),
    }
}

#[test]
fn unsupported_keys_name_the_key_and_show_its_line() {
    assert_eq!(
        error("services:\n  web:\n    image: nginx\n    deploy:\n      replicas: 2\n", &Variables::default()),
        "error: unsupported key `deploy` in service `web`
 --> compose.yml:4:5
  |
4 |     deploy:
  |     ^
hint: boss runs services on one engine without Swarm; for limits use `mem_limit` and `cpus`
"
    );
    assert_eq!(
        error("services:\n  web:\n    image: nginx\n    enviroment:\n      A: 1\n", &Variables::default()),
        "error: unsupported key `enviroment` in service `web`
 --> compose.yml:4:5
  |
4 |     enviroment:
  |     ^
hint: did you mean `environment`?
"
    );
    assert_eq!(
        error("services:\n  web:\n    image: nginx\n    privileged: true\n", &Variables::default()),
        "error: unsupported key `privileged` in service `web`
 --> compose.yml:4:5
  |
4 |     privileged: true
  |     ^
hint: remove the key, or tell boss what it should do in the script around `compose()`
"
    );
    assert_eq!(
        error(
            "services:\n  web:\n    image: nginx\n    healthcheck:\n      test: [CMD, true]\n      intervall: 5s\n",
            &Variables::default()
        ),
        "error: unsupported key `intervall` in `healthcheck` of service `web`
 --> compose.yml:6:7
  |
6 |       intervall: 5s
  |       ^
hint: did you mean `interval`?
"
    );
}

#[test]
fn variable_errors_point_into_the_value() {
    assert_eq!(
        error("services:\n  web:\n    image: app:${TAG:?set TAG first}\n", &Variables::default()),
        "error: variable `TAG` is required: set TAG first
 --> compose.yml:3:16
  |
3 |     image: app:${TAG:?set TAG first}
  |                ^
hint: set `TAG` in the environment or in the `.env` file next to the compose file
"
    );
    assert_eq!(
        error("services:\n  web:\n    image: nginx\n    command: \"echo $ 5\"\n", &Variables::default()),
        "error: `$` is not followed by a variable name
 --> compose.yml:4:20
  |
4 |     command: \"echo $ 5\"
  |                    ^
hint: write `$$` for a literal `$`
"
    );
}

#[test]
fn values_that_cannot_be_used_are_refused_with_their_line() {
    assert_eq!(
        error("services:\n  web:\n    image: nginx\n    ports:\n      - \"8000-8010:80\"\n", &Variables::default()),
        "error: invalid port `8000-8010:80`: a host port range for one container port is not supported
 --> compose.yml:5:9
  |
5 |       - \"8000-8010:80\"
  |         ^
hint: publish one host port, or `0` for a free one that `port()` finds
"
    );
    assert_eq!(
        error(
            "services:\n  web:\n    image: nginx\n    depends_on:\n      db:\n        condition: service_healty\n  db:\n    image: pg\n",
            &Variables::default()
        ),
        "error: `service_healty` is not a valid `condition`
 --> compose.yml:6:20
  |
6 |         condition: service_healty
  |                    ^
hint: did you mean `service_healthy`?
"
    );
    assert_eq!(
        error(
            "services:\n  web:\n    image: nginx\n    volumes:\n      - dta:/data\nvolumes:\n  data:\n",
            &Variables::default()
        ),
        "error: service `web` uses volume `dta`, which the top-level `volumes` does not define
 --> compose.yml:5:9
  |
5 |       - dta:/data
  |         ^
hint: did you mean `data`?
"
    );
    assert_eq!(
        error("services:\n  web:\n    image: nginx\n    depends_on: [db]\n", &Variables::default()),
        "error: service `web` depends on unknown service `db`
 --> compose.yml:4:18
  |
4 |     depends_on: [db]
  |                  ^
"
    );
    assert_eq!(
        error("services:\n  web:\n    stop_grace_period: 10\n    image: nginx\n", &Variables::default()),
        "error: `stop_grace_period` `10` is not a duration
 --> compose.yml:3:24
  |
3 |     stop_grace_period: 10
  |                        ^
hint: write a duration such as `10s`, `1m30s` or `500ms`
"
    );
    assert_eq!(
        error("services:\n  web:\n    command: echo\n", &Variables::default()),
        "error: service `web` has neither `image` nor `build`
 --> compose.yml:2:3
  |
2 |   web:
  |   ^
hint: add `image: ...` or `build: ./dir`
"
    );
}

#[test]
fn yaml_mistakes_are_refused_with_their_line() {
    assert_eq!(
        error("services:\n  web:\n    image: a\n  web:\n    image: b\n", &Variables::default()),
        "error: key `web` is written twice
 --> compose.yml:4:3
  |
4 |   web:
  |   ^
note: first written at compose.yml:2:3
"
    );
    assert_eq!(
        error("services:\n  web:\n    image: [a\n", &Variables::default()),
        "error: invalid YAML: while parsing a flow sequence, expected ',' or ']'
 --> compose.yml:3:14
  |
3 |     image: [a
  |              ^
"
    );
    assert_eq!(
        error("services:\n  web:\n    <<: *missing\n", &Variables::default()),
        "error: invalid YAML: while parsing node, found unknown anchor
 --> compose.yml:3:9
  |
3 |     <<: *missing
  |         ^
"
    );
}

#[test]
fn warnings_render_with_their_line_and_why_nothing_is_lost() {
    let file = parse(
        "compose.yml",
        "services:\n  web:\n    image: nginx:${TAG}\n    networks: [front]\n    depends_on:\n      db: {}\n      metrics:\n        required: false\n  db:\n    image: pg\n",
        &Variables::default(),
    )
    .unwrap();
    let dependencies: Vec<&str> =
        file.services[0].depends_on.iter().map(|dependency| dependency.value.service.as_str()).collect();
    assert_eq!(dependencies, ["db"]);
    let rendered: Vec<String> = file.warnings.iter().map(crate::output::compose_warning).collect();
    assert_eq!(
        rendered,
        [
            "warning: variable `TAG` is not set; using an empty string
 --> compose.yml:3:18
  |
3 |     image: nginx:${TAG}
  |                  ^
note: set it in the environment or in the `.env` file next to the compose file, or write `${NAME:-default}`
",
            "warning: ignoring `networks` in service `web`
 --> compose.yml:4:5
  |
4 |     networks: [front]
  |     ^
note: every service of the group is on the group's one network
",
            "warning: service `web` depends on unknown service `metrics`
 --> compose.yml:7:7
  |
7 |       metrics:
  |       ^
note: the dependency has `required: false`, so the service starts without it
"
        ]
    );
}

#[test]
fn load_reads_the_dotenv_file_next_to_the_compose_file_and_the_shell_wins() {
    let directory = tempfile::tempdir().unwrap();
    std::fs::write(directory.path().join(".env"), "TAG=from-dotenv\nPORT=7000\n").unwrap();
    let path = directory.path().join("compose.yml");
    std::fs::write(&path, "services:\n  web:\n    image: app:${TAG}\n    ports: [\"${PORT}:80\"]\n    build: .\n")
        .unwrap();
    let file = ComposeFile::load(&path, &variables(&[("TAG", "from-shell")])).unwrap();
    let web = file.service("web").unwrap();
    assert_eq!(web.image.as_ref().unwrap().value, "app:from-shell");
    assert_eq!(web.ports[0].value.published, Some(7000));
    assert_eq!(web.build.as_ref().unwrap().value.context, directory.path().join("."));
    // Kept for what compose reads from the variables later, such as a secret's `environment`.
    assert_eq!((file.variables.get("TAG"), file.variables.get("PORT")), (Some("from-shell"), Some("7000")));
    assert_eq!(format!("{:?}", file.variables), r#"{"PORT", "TAG"}"#, "values may be secrets; Debug shows names only");

    // `--env-file`: that file instead of `.env`, and it must exist.
    let other = directory.path().join("ci.env");
    std::fs::write(&other, "PORT=7100\n").unwrap();
    let file = ComposeFile::load_with_env_file(&path, &Variables::default(), &other).unwrap();
    assert_eq!(file.service("web").unwrap().ports[0].value.published, Some(7100));
    let missing_env = directory.path().join("none.env");
    assert!(
        ComposeFile::load_with_env_file(&path, &Variables::default(), &missing_env)
            .unwrap_err()
            .render()
            .starts_with(&format!("error: cannot read `{}`", missing_env.display()))
    );

    std::fs::write(directory.path().join(".env"), "TAG=ok\nBROKEN LINE\n").unwrap();
    let rendered = ComposeFile::load(&path, &Variables::default()).unwrap_err().render();
    let dotenv = directory.path().join(".env");
    assert_eq!(
        rendered,
        format!(
            "error: expected `NAME=value`
 --> {}:2:1
  |
2 | BROKEN LINE
  | ^
",
            dotenv.display()
        )
    );

    let missing = directory.path().join("missing.yml");
    assert!(
        ComposeFile::load(&missing, &Variables::default())
            .unwrap_err()
            .render()
            .starts_with(&format!("error: cannot read `{}`: No such file or directory", missing.display()))
    );
}

#[test]
fn variables_in_values_written_over_several_lines_point_at_the_value() {
    let text = "services:\n  web:\n    image: nginx\n    command: echo one\n      two ${NONE}\n    user: \"\\u0041 ${ALSO}\"\n";
    let file = parse("compose.yml", text, &Variables::default()).unwrap();
    let warnings: Vec<String> = file.warnings.iter().map(|warning| at(&warning.span)).collect();
    assert_eq!(warnings, ["4:14", "6:11"]);
    assert_eq!(file.services[0].command.as_ref().unwrap().value, ["echo", "one", "two"]);
    assert_eq!(file.services[0].user.as_ref().unwrap().value, "A ");
}

#[test]
fn a_variable_copied_by_an_anchor_is_warned_about_once() {
    let text = "x-base: &base\n  image: app:${TAG}\nservices:\n  a: *base\n  b: *base\n";
    let file = parse("compose.yml", text, &Variables::default()).unwrap();
    assert_eq!(
        describe(&file).lines().filter(|line| line.starts_with("warning")).collect::<Vec<_>>(),
        ["warning UnsetVariable { name: \"TAG\" } @2:14"]
    );
}

#[test]
fn the_readme_lists_the_keys_read_and_ignored() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let (_, rest) = readme.split_once("<!-- compose-keys -->").expect("the README has the compose keys table");
    let (table, after) = rest.split_once("<!-- /compose-keys -->").unwrap();
    let mut documented: Vec<&str> = table
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .flat_map(|line| line.split(" |").next().unwrap().split(", "))
        .map(|key| key.trim_matches('`'))
        .collect();
    documented.sort_unstable();
    let mut read = SERVICE_KEYS.to_vec();
    read.sort_unstable();
    assert_eq!(documented, read);
    let ignored = after.split("**Ignored with a warning**").nth(1).unwrap().split("**Refused").next().unwrap();
    for (key, _) in IGNORED_SERVICE_KEYS {
        assert!(ignored.contains(&format!("`{key}`")), "the README does not say that `{key}` is ignored");
    }
}

mod mutated {
    use proptest::prelude::*;
    use proptest::test_runner::Config;

    use super::*;

    const FILES: [&str; 5] = ["shop.yml", "vault.yml", "storage.yml", "builds.yml", "queue.yml"];

    /// Characters that change how YAML or interpolation reads a file.
    const SYNTAX: [&str; 16] =
        [":", "-", "[", "]", "{", "}", "&a", "*a", "<<: ", "\n", "\n  ", "'", "\"", "$", "${", "#"];

    fn config() -> Config {
        let cases = std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(256);
        Config { cases, failure_persistence: None, ..Config::default() }
    }

    proptest! {
        #![proptest_config(config())]

        /// Whatever a file becomes, reading it gives a model or a compose error with a
        /// snippet, never a panic.
        #[test]
        fn any_mutation_reads_or_is_a_compose_error_that_renders(
            file in prop::sample::select(FILES.to_vec()),
            edits in prop::collection::vec((any::<prop::sample::Index>(), 0..4usize, prop::sample::select(SYNTAX.to_vec())), 1..4),
        ) {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/compose/testdata").join(file);
            let mut text = std::fs::read_to_string(path).unwrap();
            for (at, removed, inserted) in edits {
                let start = text.floor_char_boundary(at.index(text.len() + 1));
                let end = text.floor_char_boundary((start + removed).min(text.len()));
                text.replace_range(start..end, inserted);
            }
            match parse(file, &text, &variables(&[("CONSUMER_TAG", "1")])) {
                Ok(file) => prop_assert!(!file.services.is_empty()),
                Err(error) => {
                    prop_assert!(matches!(error, crate::error::Error::Compose(_)), "{error:?}");
                    let rendered = error.render();
                    prop_assert!(rendered.starts_with("error: ") && rendered.contains(" --> "), "{rendered}");
                }
            }
        }
    }
}

/// One compose file per kind of mistake, and what boss prints for it.
#[test]
fn every_kind_of_mistake_renders_verbatim() {
    let cases = [
        (
            "services:\n  web:\n    image: nginx\n    ? [a, b]\n    : 1\n",
            r#"error: a key must be a plain value, not a list or a mapping
 --> compose.yml:4:7
  |
4 |     ? [a, b]
  |       ^
"#,
        ),
        (
            "services:\n  web:\n    <<: [1]\n    image: nginx\n",
            r#"error: `<<` must merge a mapping or a list of mappings
 --> compose.yml:3:10
  |
3 |     <<: [1]
  |          ^
"#,
        ),
        (
            "services:\n  web:\n    image: !reset nginx\n",
            r#"error: YAML tag `!reset` is not supported
 --> compose.yml:3:12
  |
3 |     image: !reset nginx
  |            ^
"#,
        ),
        (
            "services:\n  web:\n    image: nginx\n---\nservices: {}\n",
            r#"error: a compose file holds one YAML document, this one holds more
 --> compose.yml:4:1
  |
4 | ---
  | ^
hint: remove the `---` and everything after it
"#,
        ),
        (
            "x: &a\n  y: *a\nservices:\n  web:\n    image: nginx\n",
            r#"error: an alias cannot be used inside the value it names
 --> compose.yml:2:6
  |
2 |   y: *a
  |      ^
"#,
        ),
        (
            "services:\n  web:\n    image: nginx\n    ports:\n      - published: 8080\n",
            r#"error: key `target` is required in `ports` of service `web`
 --> compose.yml:5:9
  |
5 |       - published: 8080
  |         ^
"#,
        ),
        (
            "services:\n  web:\n    image: nginx\n    ports: \"80\"\n",
            r#"error: `ports` must be a list, got a scalar
 --> compose.yml:4:12
  |
4 |     ports: "80"
  |            ^
"#,
        ),
        (
            "services:\n  web:\n    image:\n",
            r#"error: `image` must be a string, got a null
 --> compose.yml:3:10
  |
3 |     image:
  |          ^
"#,
        ),
        (
            "version: \"3\"\n",
            r#"error: the compose file defines no services
 --> compose.yml:1:1
  |
1 | version: "3"
  | ^
hint: declare one under `services:`, e.g. `web: { image: "nginx:1.27" }`
"#,
        ),
        (
            "services: {}\n",
            r#"error: the compose file defines no services
 --> compose.yml:1:1
  |
1 | services: {}
  | ^
hint: declare one under `services:`, e.g. `web: { image: "nginx:1.27" }`
"#,
        ),
        (
            "services:\n  web.1:\n    image: nginx\n",
            r#"error: service name `web.1` is not valid
 --> compose.yml:2:3
  |
2 |   web.1:
  |   ^
hint: boss names containers and hostnames after services: use letters, digits, `-` and `_`, starting and ending with a letter or digit, at most 63 characters
"#,
        ),
        (
            "services:\n  web:\n    image: nginx\n    volumes:\n      - ./a:/b:rw:z\n",
            r#"error: invalid volume `./a:/b:rw:z`: expected `[SOURCE:]TARGET[:MODE]`
 --> compose.yml:5:9
  |
5 |       - ./a:/b:rw:z
  |         ^
"#,
        ),
        (
            "services:\n  web:\n    image: nginx\n    volumes:\n      - type: npipe\n        source: x\n        target: /x\n",
            r#"error: invalid volume `/x`: volume type `npipe` is not supported
 --> compose.yml:5:15
  |
5 |       - type: npipe
  |               ^
hint: use `bind`, `volume` or `tmpfs`
"#,
        ),
        (
            "services:\n  web:\n    image: nginx\n    volumes:\n      - type: bind\n        target: /x\n",
            r#"error: invalid volume `/x`: a bind mount needs a `source`
 --> compose.yml:5:9
  |
5 |       - type: bind
  |         ^
"#,
        ),
        (
            "services:\n  web:\n    image: nginx\n    tmpfs: /run:noexec\n",
            r#"error: invalid volume `/run:noexec`: mode `noexec` is not supported
 --> compose.yml:4:12
  |
4 |     tmpfs: /run:noexec
  |            ^
hint: use `ro` or `rw`, optionally with `z` or `Z`
"#,
        ),
        (
            "services:\n  web:\n    image: nginx\n    mem_limit: 1 gigabyte\n",
            r#"error: `mem_limit` `1 gigabyte` is not a size in bytes
 --> compose.yml:4:16
  |
4 |     mem_limit: 1 gigabyte
  |                ^
hint: write a size such as `512m`, `1g` or `1048576`
"#,
        ),
        (
            "services:\n  web:\n    image: nginx\n    cpus: -1\n",
            r#"error: `cpus` `-1` is not a valid number
 --> compose.yml:4:11
  |
4 |     cpus: -1
  |           ^
"#,
        ),
        (
            "services:\n  web:\n    image: nginx\n    command: echo 'unclosed\n",
            r#"error: `command` `echo 'unclosed` has an unclosed quote
 --> compose.yml:4:14
  |
4 |     command: echo 'unclosed
  |              ^
"#,
        ),
        (
            "services:\n  web:\n    image: nginx\n    extra_hosts:\n      - justahost\n",
            r#"error: `extra_hosts` entry `justahost` has no value
 --> compose.yml:5:9
  |
5 |       - justahost
  |         ^
hint: write `host:address` or `host=address`
"#,
        ),
        (
            "services:\n  web:\n    image: nginx\n    secrets: [api_kee]\nsecrets:\n  api_key:\n    file: ./key\n",
            r#"error: service `web` uses secret `api_kee`, which the top-level `secrets` does not define
 --> compose.yml:4:15
  |
4 |     secrets: [api_kee]
  |               ^
hint: did you mean `api_key`?
"#,
        ),
        (
            "secrets:\n  api_key:\n    external: true\nservices:\n  web:\n    image: nginx\n",
            r#"error: secret `api_key` is `external`, which needs Docker Swarm
 --> compose.yml:3:5
  |
3 |     external: true
  |     ^
hint: give the secret a `file:` or an `environment:` variable instead
"#,
        ),
        (
            "secrets:\n  api_key:\n    name: key\nservices:\n  web:\n    image: nginx\n",
            r#"error: unsupported key `name` in secret `api_key`
 --> compose.yml:3:5
  |
3 |     name: key
  |     ^
hint: remove the key, or tell boss what it should do in the script around `compose()`
"#,
        ),
        (
            "services:\n  web:\n    image: nginx:${TAG/v/}\n",
            r#"error: `${TAG/v/}` is not a variable substitution
 --> compose.yml:3:18
  |
3 |     image: nginx:${TAG/v/}
  |                  ^
hint: write `${NAME}`, `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME?error}`, `${NAME:+other}` or `${NAME+other}`
"#,
        ),
        (
            "services:\n  web:\n    image: 'nginx:${TAG'\n",
            r#"error: `${` is not closed by `}`
 --> compose.yml:3:19
  |
3 |     image: 'nginx:${TAG'
  |                   ^
hint: write `$$` for a literal `$`
"#,
        ),
        (
            "include:\n  - other.yml\nservices:\n  web:\n    image: nginx\n",
            r#"error: unsupported key `include` at the top level
 --> compose.yml:1:1
  |
1 | include:
  | ^
hint: declare the included file's services in this file, or load it with its own `compose()` call
"#,
        ),
        (
            "configs:\n  app: {}\nservices:\n  web:\n    image: nginx\n",
            r#"error: unsupported key `configs` at the top level
 --> compose.yml:1:1
  |
1 | configs:
  | ^
hint: mount the file with a bind volume (`./file:/path:ro`)
"#,
        ),
        (
            "services:\n  web:\n    image: nginx\n    network_mode: host\n",
            r#"error: unsupported key `network_mode` in service `web`
 --> compose.yml:4:5
  |
4 |     network_mode: host
  |     ^
hint: services of a group share one network and reach each other by service name
"#,
        ),
        (
            "services:\n  web:\n    image: nginx\n    extends: base\n",
            r#"error: unsupported key `extends` in service `web`
 --> compose.yml:4:5
  |
4 |     extends: base
  |     ^
hint: copy the shared keys with a YAML anchor (`&base`) and `<<: *base`
"#,
        ),
        (
            "services:\n  web:\n    image: nginx\n    env_file:\n      - path: ./a.env\n        format: raw\n",
            r#"error: unsupported key `format` in `env_file` of service `web`
 --> compose.yml:6:9
  |
6 |         format: raw
  |         ^
hint: remove the key, or tell boss what it should do in the script around `compose()`
"#,
        ),
        (
            "services:\n  web:\n    image: nginx\n    restart: sometimes\n",
            r#"error: `sometimes` is not a valid `restart`
 --> compose.yml:4:14
  |
4 |     restart: sometimes
  |              ^
hint: use one of `no`, `always`, `on-failure`, `on-failure:N`, and `unless-stopped`
"#,
        ),
        (
            "services:\n  web:\n    image: nginx\n    healthcheck:\n      test: [RUN, true]\n",
            r#"error: `RUN` is not a valid `test`
 --> compose.yml:5:14
  |
5 |       test: [RUN, true]
  |              ^
hint: use one of `CMD`, `CMD-SHELL`, and `NONE`
"#,
        ),
        (
            "services:\n  web:\n    image: nginx\n    ports:\n      - \"80/sctp\"\n",
            r#"error: invalid port `80/sctp`: protocol `sctp` is not supported
 --> compose.yml:5:9
  |
5 |       - "80/sctp"
  |         ^
hint: use `tcp` or `udp`
"#,
        ),
        (
            "volumes:\n  data:\n    driver: nfs\nservices:\n  web:\n    image: nginx\n",
            r#"error: unsupported key `driver` in volume `data`
 --> compose.yml:3:5
  |
3 |     driver: nfs
  |     ^
hint: remove the key, or tell boss what it should do in the script around `compose()`
"#,
        ),
        (
            "services:\n  web:\n    image: nginx\n    init: yes\n",
            r#"error: `yes` is not a valid `init`
 --> compose.yml:4:11
  |
4 |     init: yes
  |           ^
hint: use one of `true` and `false`
"#,
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(error(text, &Variables::default()), expected, "{text}");
    }
}
