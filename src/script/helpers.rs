//! Host functions scripts and hooks call: `tcp_open`, `http_get`, `http_post`, `sleep`, `log`,
//! `env_var`. Each one is bounded by its own timeout and by the calling hook's deadline, so a
//! helper can never hold a hook past its limit.

use std::io::Read as _;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rhai::{Dynamic, Engine, EvalAltResult, Map};

use super::call_state::{self, Interruption};
use super::convert;

type HelperResult<T> = Result<T, Box<EvalAltResult>>;

/// How long one TCP connect may take.
const TCP_TIMEOUT: Duration = Duration::from_secs(1);
/// How long one HTTP request may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest HTTP body a helper reads.
const HTTP_BODY_LIMIT: u64 = 4 << 20;

/// The functions boss adds to Rhai, for "did you mean" on a misspelt call.
pub(super) const KNOWN_FUNCTIONS: [&str; 22] = [
    "service",
    "compose",
    "hooks",
    "group",
    "tcp_open",
    "http_get",
    "http_post",
    "sleep",
    "log",
    "env_var",
    "port",
    "address",
    "exec",
    "exec_ok",
    "logs",
    "health",
    "wait_for_log",
    "wait_healthy",
    "tcp_ready",
    "http_ready",
    "unix_open",
    "file_exists",
];

pub(super) fn register(engine: &mut Engine) {
    engine.register_fn("tcp_open", tcp_open);
    engine.register_fn("http_get", http_get);
    engine.register_fn("http_post", http_post);
    engine.register_fn("sleep", sleep);
    engine.register_fn("log", |message: &str| call_state::log(message));
    engine.register_fn("log", |message: Dynamic| call_state::log(&message.to_string()));
    engine.register_fn("env_var", |name: &str| crate::secret::host_variable(name).map_or(Dynamic::UNIT, Dynamic::from));
    engine.register_fn("env_var", |name: &str, default: Dynamic| {
        crate::secret::host_variable(name).map_or(default, Dynamic::from)
    });
}

/// An error that stops the hook because its time is up or it was cancelled.
fn interrupted(interruption: Interruption) -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorTerminated(Dynamic::from(interruption.marker()), rhai::Position::NONE))
}

fn check_interruption() -> HelperResult<()> {
    match call_state::interruption() {
        Some(interruption) => Err(interrupted(interruption)),
        None => Ok(()),
    }
}

/// `limit`, shortened to what is left of the hook's time (at least a millisecond).
fn bounded(limit: Duration) -> Duration {
    limit.min(call_state::remaining()).max(Duration::from_millis(1))
}

fn sleep(milliseconds: rhai::INT) -> HelperResult<()> {
    let milliseconds = u64::try_from(milliseconds).map_err(|_| "sleep takes a number of milliseconds >= 0")?;
    let end = Instant::now() + Duration::from_millis(milliseconds);
    loop {
        check_interruption()?;
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(Duration::from_millis(10)));
    }
}

fn tcp_open(host: &str, port: rhai::INT) -> HelperResult<bool> {
    check_interruption()?;
    let port = u16::try_from(port).map_err(|_| format!("tcp_open: `{port}` is not a port number"))?;
    let Ok(addresses) = (host, port).to_socket_addrs() else { return Ok(false) };
    let timeout = bounded(TCP_TIMEOUT);
    Ok(addresses.into_iter().any(|address| TcpStream::connect_timeout(&address, timeout).is_ok()))
}

fn agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            // Readiness checks talk to local ports; a proxy from the environment would only
            // get in the way.
            .proxy(None)
            .build()
            .into()
    })
}

/// A malformed URL is a mistake in the script, not "not ready yet": it throws, so the hook
/// fails at once instead of retrying until the timeout.
fn check_url(helper: &str, url: &str) -> HelperResult<()> {
    let valid = url.parse::<ureq::http::Uri>().is_ok_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some_and(|host| !host.is_empty())
    });
    if valid { Ok(()) } else { Err(format!("{helper}: `{url}` is not an http:// or https:// URL").into()) }
}

fn http_get(url: &str) -> HelperResult<Map> {
    http_request("GET", url, None)
}

/// One HTTP request with any method; `body` (for methods that take one) is sent as text when
/// it is a string and as JSON otherwise.
pub(super) fn http_request(method: &str, url: &str, body: Option<Dynamic>) -> HelperResult<Map> {
    check_interruption()?;
    check_url(&format!("http {method}"), url)?;
    let method =
        ureq::http::Method::from_bytes(method.as_bytes()).map_err(|_| format!("`{method}` is not an HTTP method"))?;
    let request = ureq::http::Request::builder().method(method).uri(url);
    let timeout = Some(bounded(HTTP_TIMEOUT));
    let result = match body {
        None => {
            let request = request.body(()).map_err(|error| error.to_string())?;
            agent().run(agent().configure_request(request).timeout_global(timeout).build())
        }
        Some(body) if body.is_string() => {
            let request = request
                .header("content-type", "text/plain; charset=utf-8")
                .body(body.into_string().unwrap_or_default())
                .map_err(|error| error.to_string())?;
            agent().run(agent().configure_request(request).timeout_global(timeout).build())
        }
        Some(body) => {
            let json = convert::to_json(&body).map_err(|why| format!("cannot send {why} as JSON"))?;
            let request = request
                .header("content-type", "application/json")
                .body(json.to_string())
                .map_err(|error| error.to_string())?;
            agent().run(agent().configure_request(request).timeout_global(timeout).build())
        }
    };
    Ok(response_map(result))
}

fn http_post(url: &str, body: Dynamic) -> HelperResult<Map> {
    http_request("POST", url, Some(body))
}

/// `#{ status, ok, body, headers, json }`; a transport failure is `status: 0` with `error`, so
/// that `ping` can treat "not listening yet" as "not ready".
fn response_map(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Map {
    let mut map = Map::new();
    match result {
        Ok(mut response) => {
            let status = response.status().as_u16();
            let mut headers = Map::new();
            for (name, value) in response.headers() {
                headers.insert(name.as_str().into(), Dynamic::from(value.to_str().unwrap_or_default().to_string()));
            }
            let mut body = String::new();
            let read = response.body_mut().as_reader().take(HTTP_BODY_LIMIT).read_to_string(&mut body);
            let json = serde_json::from_str::<serde_json::Value>(&body)
                .map_or(Dynamic::UNIT, |json| convert::to_dynamic(&json));
            map.insert("status".into(), Dynamic::from(rhai::INT::from(status)));
            map.insert("ok".into(), Dynamic::from((200..300).contains(&status)));
            map.insert("body".into(), Dynamic::from(body));
            map.insert("headers".into(), Dynamic::from_map(headers));
            map.insert("json".into(), json);
            if let Err(error) = read {
                map.insert("error".into(), Dynamic::from(error.to_string()));
            }
        }
        Err(error) => {
            map.insert("status".into(), Dynamic::from(rhai::INT::from(0)));
            map.insert("ok".into(), Dynamic::from(false));
            map.insert("body".into(), Dynamic::from(String::new()));
            map.insert("headers".into(), Dynamic::from_map(Map::new()));
            map.insert("json".into(), Dynamic::UNIT);
            map.insert("error".into(), Dynamic::from(error.to_string()));
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn serve_once(response: &str) -> u16 {
        crate::testing::serve_http(response.to_string(), 1)
    }

    #[test]
    fn http_get_returns_status_body_and_json() {
        let port = serve_once(
            "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{\"id\": 42}\n",
        );
        let map = http_get(&format!("http://127.0.0.1:{port}/x")).unwrap();
        assert_eq!(map["status"].as_int().unwrap(), 404);
        assert!(!map["ok"].as_bool().unwrap());
        assert_eq!(map["json"].clone().cast::<Map>()["id"].as_int().unwrap(), 42);
        assert_eq!(
            map["headers"].clone().cast::<Map>()["content-type"].clone().into_string().unwrap(),
            "application/json"
        );
    }

    #[test]
    fn refused_connection_is_not_ready_rather_than_an_error() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let map = http_get(&format!("http://127.0.0.1:{port}/")).unwrap();
        assert_eq!(map["status"].as_int().unwrap(), 0);
        assert!(map.contains_key("error"));
        assert!(!tcp_open("127.0.0.1", rhai::INT::from(port)).unwrap());
    }

    #[test]
    fn a_malformed_url_throws() {
        for url in ["htp://127.0.0.1:1/", "not a url", "http://", "/relative"] {
            let error = http_get(url).unwrap_err().to_string();
            assert!(error.contains("is not an http:// or https:// URL"), "{url}: {error}");
        }
    }

    #[test]
    fn tcp_open_sees_a_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(tcp_open("127.0.0.1", rhai::INT::from(port)).unwrap());
        assert!(tcp_open("127.0.0.1", 70_000).is_err());
    }
}
