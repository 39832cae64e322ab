//! Helpers that reach the group's containers (`port`, `address`, `exec`, `logs`, `health`) and
//! the readiness checks built on them and on the host (`http_ready`, `tcp_ready`, `unix_open`,
//! `file_exists`, `wait_for_log`, `wait_healthy`). Each is usable as a `ping` in one line and is
//! bounded by its own timeout and by the hook's deadline.
//!
//! Forms without a service name act on the hook's own service.

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use rhai::{Array, Dynamic, Engine, EvalAltResult, Map};

use super::call_state;
use crate::backend::{ExecOutput, ExecOutputMode, ExecSpec};
use crate::hook::OUTPUT_LIMIT;
use crate::service::Protocol;

type HelperResult<T> = Result<T, Box<EvalAltResult>>;

/// How long one `exec` may take (the hook's deadline may cut it shorter).
const EXEC_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

pub(super) fn register(engine: &mut Engine) {
    engine.register_fn("port", |port: rhai::INT| port_of(None, &Dynamic::from(port)));
    engine.register_fn("port", |port: &str| port_of(None, &Dynamic::from(port.to_string())));
    engine.register_fn("port", |service: &str, port: Dynamic| port_of(Some(service), &port));
    engine.register_fn("address", || address(None));
    engine.register_fn("address", |service: &str| address(Some(service)));
    engine.register_fn("exec", |cmd: Dynamic| exec(None, &cmd, &Map::new()));
    engine.register_fn("exec", |service: &str, cmd: Dynamic| exec(Some(service), &cmd, &Map::new()));
    engine.register_fn("exec", |service: &str, cmd: Dynamic, options: Map| exec(Some(service), &cmd, &options));
    engine.register_fn("exec_ok", |cmd: Dynamic| exec_ok(None, &cmd, &Map::new()));
    engine.register_fn("exec_ok", |service: &str, cmd: Dynamic| exec_ok(Some(service), &cmd, &Map::new()));
    engine.register_fn("exec_ok", |service: &str, cmd: Dynamic, options: Map| exec_ok(Some(service), &cmd, &options));
    engine.register_fn("logs", || logs(None));
    engine.register_fn("logs", |service: &str| logs(Some(service)));
    engine.register_fn("health", || health(None));
    engine.register_fn("health", |service: &str| health(Some(service)));
    engine.register_fn("wait_for_log", |text: &str| wait_for_log(None, text, None));
    engine.register_fn("wait_for_log", |service: &str, text: &str| wait_for_log(Some(service), text, None));
    engine.register_fn("wait_for_log", |service: &str, text: &str, ms: rhai::INT| {
        wait_for_log(Some(service), text, Some(ms))
    });
    engine.register_fn("wait_healthy", || wait_healthy(None, None));
    engine.register_fn("wait_healthy", |service: &str| wait_healthy(Some(service), None));
    engine.register_fn("wait_healthy", |service: &str, ms: rhai::INT| wait_healthy(Some(service), Some(ms)));
    engine.register_fn("tcp_ready", |port: rhai::INT| tcp_ready(None, port));
    engine.register_fn("tcp_ready", |service: &str, port: rhai::INT| tcp_ready(Some(service), port));
    engine.register_fn("http_ready", |url: &str| http_ready(url, &Map::new()));
    engine.register_fn("http_ready", |url: &str, options: Map| http_ready(url, &options));
    engine.register_fn("unix_open", unix_open);
    engine.register_fn("file_exists", |path: &str| call_state::resolve(path).exists());
}

/// The access to containers and the service a helper acts on.
fn target(service: Option<&str>) -> HelperResult<(std::sync::Arc<dyn crate::hook::ContainerAccess>, String)> {
    let (access, own) = call_state::access()?;
    Ok((access, service.map_or(own, String::from)))
}

/// `5432`, `"5432"`, `"53/udp"` → (port, protocol).
fn parse_port(port: &Dynamic) -> HelperResult<(u16, Protocol)> {
    let text = port.to_string();
    let (number, protocol) = match text.split_once('/') {
        None => (text.as_str(), Protocol::Tcp),
        Some((number, protocol)) => match Protocol::from_name(protocol) {
            Some(protocol) => (number, protocol),
            None => return Err(format!("`{text}` is not a port like 5432 or \"53/udp\"").into()),
        },
    };
    number.parse::<u16>().map(|number| (number, protocol)).map_err(|_| format!("`{text}` is not a port number").into())
}

fn port_of(service: Option<&str>, port: &Dynamic) -> HelperResult<rhai::INT> {
    let (access, service) = target(service)?;
    let (number, protocol) = parse_port(port)?;
    Ok(rhai::INT::from(access.host_port(&service, number, protocol, &call_state::limits(Duration::MAX))?))
}

fn address(service: Option<&str>) -> HelperResult<String> {
    let (access, service) = target(service)?;
    Ok(access.address(&service, &call_state::limits(Duration::MAX))?)
}

/// A command as an array of strings, or a string split like a shell would.
fn command(cmd: &Dynamic) -> HelperResult<Vec<String>> {
    if cmd.is_string() {
        let text = cmd.clone().into_string().unwrap_or_default();
        return shlex::split(&text)
            .filter(|words| !words.is_empty())
            .ok_or_else(|| format!("`{text}` is not a command").into());
    }
    if cmd.is_array() {
        let words: Option<Vec<String>> =
            cmd.clone().cast::<Array>().into_iter().map(|word| word.into_string().ok()).collect();
        if let Some(words) = words.filter(|words| !words.is_empty()) {
            return Ok(words);
        }
    }
    Err("a command is a string or a non-empty array of strings".into())
}

/// `exec`'s options: `env`, a map of variables set for this command only.
fn exec_env(options: &Map) -> HelperResult<Vec<String>> {
    if let Some(unknown) = options.keys().find(|key| key.as_str() != "env") {
        let hint = crate::text::suggest(unknown, ["env"])
            .map(|known| format!("; did you mean `{known}`?"))
            .unwrap_or_default();
        return Err(format!("exec: unknown option `{unknown}` (the only option is `env`){hint}").into());
    }
    let Some(env) = options.get("env") else { return Ok(Vec::new()) };
    let Some(env) = env.read_lock::<Map>() else {
        return Err(
            format!("exec: `env` must be a map of names to values, got {}", super::fields::describe(env)).into()
        );
    };
    let mut lines = Vec::with_capacity(env.len());
    for (name, value) in env.iter() {
        if let Some(reason) = crate::service::env_name_problem(name) {
            return Err(format!("exec: env name `{}` cannot be used: {reason}", name.escape_debug()).into());
        }
        if !(value.is_string() || value.is_int() || value.is_float() || value.is_bool()) {
            return Err(format!(
                "exec: env `{name}` must be a string, number or boolean, got {}",
                super::fields::describe(value)
            )
            .into());
        }
        let value = value.to_string();
        if value.contains('\0') {
            return Err(format!("exec: the value of env `{name}` contains a NUL character").into());
        }
        lines.push(format!("{name}={value}"));
    }
    Ok(lines)
}

/// Runs a command in a container. Its output is kept up to [`OUTPUT_LIMIT`]; past that the
/// command is abandoned and the call is an error, so a command that prints without end
/// cannot fill boss's memory. `ExecOutputMode::Discard` (for `exec_ok`) reads and drops it.
fn run_exec(service: Option<&str>, cmd: &Dynamic, options: &Map, output: ExecOutputMode) -> HelperResult<ExecOutput> {
    let (access, service) = target(service)?;
    let spec = ExecSpec { cmd: command(cmd)?, env: exec_env(options)?, output };
    let result = access.exec(&service, &spec, &call_state::limits(EXEC_TIMEOUT))?;
    if result.truncated {
        return Err(format!(
            "exec: `{}` printed more than {} MiB, the most boss keeps; it was abandoned (use `exec_ok` when only the exit code matters, or send the output elsewhere in the command)",
            spec.cmd[0],
            OUTPUT_LIMIT >> 20
        )
        .into());
    }
    Ok(result)
}

fn exec(service: Option<&str>, cmd: &Dynamic, options: &Map) -> HelperResult<Map> {
    let output = run_exec(service, cmd, options, ExecOutputMode::Keep { limit: OUTPUT_LIMIT })?;
    let mut map = Map::new();
    map.insert("code".into(), output.code.map_or(Dynamic::UNIT, Dynamic::from));
    map.insert("ok".into(), Dynamic::from(output.code == Some(0)));
    map.insert("stdout".into(), Dynamic::from(output.stdout));
    map.insert("stderr".into(), Dynamic::from(output.stderr));
    Ok(map)
}

fn exec_ok(service: Option<&str>, cmd: &Dynamic, options: &Map) -> HelperResult<bool> {
    Ok(run_exec(service, cmd, options, ExecOutputMode::Discard)?.code == Some(0))
}

/// The last line of `logs()` when the log went on past [`OUTPUT_LIMIT`].
const LOGS_CUT_MARKER: &str = "[boss: the log goes on; logs() returns only its first 4 MiB]\n";

fn logs(service: Option<&str>) -> HelperResult<String> {
    let (access, service) = target(service)?;
    let mut log = access.logs(&service, &call_state::limits(EXEC_TIMEOUT))?;
    if log.truncated {
        if !log.text.ends_with('\n') {
            log.text.push('\n');
        }
        log.text.push_str(LOGS_CUT_MARKER);
    }
    Ok(log.text)
}

fn health(service: Option<&str>) -> HelperResult<String> {
    let (access, service) = target(service)?;
    Ok(access.health(&service, &call_state::limits(Duration::MAX))?.as_str().to_string())
}

fn timeout(ms: Option<rhai::INT>) -> HelperResult<Duration> {
    match ms {
        None => Ok(Duration::MAX),
        Some(ms) => u64::try_from(ms).map(Duration::from_millis).map_err(|_| "a timeout is milliseconds >= 0".into()),
    }
}

fn wait_for_log(service: Option<&str>, text: &str, ms: Option<rhai::INT>) -> HelperResult<bool> {
    let (access, service) = target(service)?;
    Ok(access.wait_for_output(&service, text, &call_state::limits(timeout(ms)?))?)
}

fn wait_healthy(service: Option<&str>, ms: Option<rhai::INT>) -> HelperResult<bool> {
    let (access, service) = target(service)?;
    Ok(access.wait_healthy(&service, &call_state::limits(timeout(ms)?))?)
}

/// Connects to the container's own address on the group network, not to a published port:
/// Docker's userland proxy accepts connections on published ports before the server listens.
fn tcp_ready(service: Option<&str>, port: rhai::INT) -> HelperResult<bool> {
    let (access, service) = target(service)?;
    let port = u16::try_from(port).map_err(|_| format!("tcp_ready: `{port}` is not a port number"))?;
    let ip = access.address(&service, &call_state::limits(Duration::MAX))?;
    let address: SocketAddr = format!("{ip}:{port}").parse().map_err(|_| format!("`{ip}` is not an IP address"))?;
    let limits = call_state::limits(CONNECT_TIMEOUT);
    let timeout = limits.deadline.saturating_duration_since(std::time::Instant::now()).max(Duration::from_millis(1));
    Ok(TcpStream::connect_timeout(&address, timeout).is_ok())
}

/// An HTTP check: `method` (default GET), `status` (a number, or a regex matched against the
/// whole status; default any 2xx), `body` (a regex the body must match).
fn http_ready(url: &str, options: &Map) -> HelperResult<bool> {
    const OPTIONS: [&str; 3] = ["method", "status", "body"];
    if let Some(unknown) = options.keys().find(|key| !OPTIONS.contains(&key.as_str())) {
        let hint = crate::text::suggest(unknown, OPTIONS)
            .map(|known| format!("; did you mean `{known}`?"))
            .unwrap_or_default();
        return Err(format!(
            "http_ready: unknown option `{unknown}` (the options are `method`, `status` and `body`){hint}"
        )
        .into());
    }
    let method = options.get("method").map_or_else(|| "GET".to_string(), |method| method.to_string().to_uppercase());
    let status_pattern = match options.get("status") {
        None => "2\\d\\d".to_string(),
        Some(status) if status.is_int() => status.to_string(),
        Some(status) if status.is_string() => status.clone().into_string().unwrap_or_default(),
        Some(other) => return Err(format!("http_ready: `status` must be a number or a regex, got {other}").into()),
    };
    let status = regex::Regex::new(&format!("^(?:{status_pattern})$"))
        .map_err(|error| format!("http_ready: `status` is not a valid regex: {error}"))?;
    let body = match options.get("body") {
        None => None,
        Some(body) => Some(
            regex::Regex::new(&body.to_string())
                .map_err(|error| format!("http_ready: `body` is not a valid regex: {error}"))?,
        ),
    };
    let response = super::helpers::http_request(&method, url, None)?;
    let code = response.get("status").and_then(|status| status.as_int().ok()).unwrap_or(0);
    if code == 0 || !status.is_match(&code.to_string()) {
        return Ok(false);
    }
    let text = response.get("body").map(ToString::to_string).unwrap_or_default();
    Ok(body.is_none_or(|body| body.is_match(&text)))
}

fn unix_open(path: &str) -> bool {
    std::os::unix::net::UnixStream::connect(call_state::resolve(path)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve(status: &str, body: &str) -> u16 {
        let response =
            format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
        crate::testing::serve_http(response, 8)
    }

    fn options(pairs: &[(&str, Dynamic)]) -> Map {
        pairs.iter().map(|(key, value)| ((*key).into(), value.clone())).collect()
    }

    #[test]
    fn http_ready_matches_status_and_body() {
        let port = serve("404 Not Found", "nothing here");
        let url = format!("http://127.0.0.1:{port}/");
        assert!(!http_ready(&url, &Map::new()).unwrap(), "404 is not 2xx");
        assert!(http_ready(&url, &options(&[("status", Dynamic::from(404_i64))])).unwrap());
        assert!(http_ready(&url, &options(&[("status", Dynamic::from("(200|404)"))])).unwrap());
        assert!(
            http_ready(&url, &options(&[("status", Dynamic::from("4\\d\\d")), ("body", Dynamic::from("noth"))]))
                .unwrap()
        );
        assert!(
            !http_ready(&url, &options(&[("status", Dynamic::from(404_i64)), ("body", Dynamic::from("^ready$"))]))
                .unwrap()
        );
        assert!(
            http_ready(&url, &options(&[("status", Dynamic::from(404_i64)), ("method", Dynamic::from("head"))]))
                .unwrap()
        );
        let refused = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        assert!(!http_ready(&format!("http://127.0.0.1:{refused}/"), &Map::new()).unwrap());
        assert!(http_ready(&url, &options(&[("status", Dynamic::from("(("))])).is_err());
        let error = http_ready(&url, &options(&[("stauts", Dynamic::from(200_i64))])).unwrap_err().to_string();
        assert!(error.contains("unknown option `stauts`") && error.contains("did you mean `status`?"), "{error}");
    }

    #[test]
    fn unix_sockets_and_files() {
        let directory = tempfile::tempdir().unwrap();
        let socket = directory.path().join("app.sock");
        assert!(!unix_open(socket.to_str().unwrap()));
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        assert!(unix_open(socket.to_str().unwrap()));
        let pid_file = directory.path().join("app.pid");
        assert!(!call_state::resolve(pid_file.to_str().unwrap()).exists());
        std::fs::write(&pid_file, "42").unwrap();
        assert!(call_state::resolve(pid_file.to_str().unwrap()).exists());
    }

    #[test]
    fn ports_and_commands_parse() {
        assert_eq!(parse_port(&Dynamic::from(5432_i64)).unwrap(), (5432, Protocol::Tcp));
        assert_eq!(parse_port(&Dynamic::from("53/udp")).unwrap(), (53, Protocol::Udp));
        assert!(parse_port(&Dynamic::from("53/sctp")).is_err());
        assert_eq!(command(&Dynamic::from("pg_isready -U 'db user'")).unwrap(), ["pg_isready", "-U", "db user"]);
        assert!(command(&Dynamic::from("")).is_err());
        assert!(command(&Dynamic::from(1_i64)).is_err());
    }

    #[test]
    fn container_helpers_outside_a_hook_say_so() {
        let error = exec(None, &Dynamic::from("true"), &Map::new()).unwrap_err().to_string();
        assert!(error.contains("can only be reached from a hook"), "{error}");
    }
}
