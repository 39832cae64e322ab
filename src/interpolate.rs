//! `{key}` placeholders in definition strings, filled from the context. `{{` and `}}` are
//! literal braces. Pure; no I/O.

use serde_json::{Map, Value};

/// Why a string could not be filled in; worded in `error.rs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpolationError {
    UnknownKey { key: String, existing: Vec<String> },
    EmptyPlaceholder,
    Unclosed,
    StrayClosingBrace,
}

/// Where in a service's definition a `{key}` is written: the fields filled in from the context
/// when a container is created. Worded in `output.rs`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Site {
    /// The value of env variable `name`.
    Env(String),
    Cmd,
    Entrypoint,
    WorkingDir,
    /// The value of the user's label `name`.
    Label(String),
    /// The address of extra host `name`.
    ExtraHost(String),
    /// Secret `name`, read from a context key (`secrets: #{ name: #{ context: key } }`).
    Secret(String),
}

impl Site {
    /// The field as the script spells it.
    pub fn field(&self) -> &'static str {
        match self {
            Site::Env(_) => "env",
            Site::Cmd => "cmd",
            Site::Entrypoint => "entrypoint",
            Site::WorkingDir => "working_dir",
            Site::Label(_) => "labels",
            Site::ExtraHost(_) => "extra_hosts",
            Site::Secret(_) => "secrets",
        }
    }

    /// The entry of the field: an env, label, host or secret name.
    pub fn name(&self) -> Option<&str> {
        match self {
            Site::Env(name) | Site::Label(name) | Site::ExtraHost(name) | Site::Secret(name) => Some(name),
            Site::Cmd | Site::Entrypoint | Site::WorkingDir => None,
        }
    }
}

/// In JSON: `{"env": name}` for an env variable, as before other fields could hold a `{key}`;
/// `{"field": "labels", "name": name}` or `{"field": "cmd"}` for the others.
impl serde::Serialize for Site {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        match self {
            Site::Env(name) => map.serialize_entry("env", name)?,
            other => {
                map.serialize_entry("field", other.field())?;
                if let Some(name) = other.name() {
                    map.serialize_entry("name", name)?;
                }
            }
        }
        map.end()
    }
}

/// A piece of a definition string: literal text or a `{key}` placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Key(String),
}

/// Splits `text` into literal text and placeholders, checking the brace syntax. Used to report
/// malformed placeholders when the script is loaded, before any context exists.
fn parse(text: &str) -> Result<Vec<Piece>, InterpolationError> {
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                literal.push('}');
            }
            '}' => return Err(InterpolationError::StrayClosingBrace),
            '{' => {
                let mut key = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => return Err(InterpolationError::Unclosed),
                        Some(k) => key.push(k),
                    }
                }
                let key = key.trim();
                if key.is_empty() {
                    return Err(InterpolationError::EmptyPlaceholder);
                }
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
                pieces.push(Piece::Key(key.to_string()));
            }
            c => literal.push(c),
        }
    }
    pieces.push(Piece::Text(literal));
    Ok(pieces)
}

/// Checks the placeholder syntax of `text` without filling anything in.
pub(crate) fn check(text: &str) -> Result<(), InterpolationError> {
    parse(text).map(|_| ())
}

/// The keys `text` names in `{key}` placeholders, in order; none when its syntax is broken
/// (load-time validation reports that).
pub(crate) fn keys(text: &str) -> Vec<String> {
    let pieces = parse(text).unwrap_or_default();
    pieces
        .into_iter()
        .filter_map(|piece| match piece {
            Piece::Key(key) => Some(key),
            Piece::Text(_) => None,
        })
        .collect()
}

/// Replaces every `{key}` in `text` with the context value (strings as they are, other
/// values as JSON text).
pub(crate) fn interpolate(text: &str, context: &Map<String, Value>) -> Result<String, InterpolationError> {
    let mut out = String::with_capacity(text.len());
    for piece in parse(text)? {
        match piece {
            Piece::Text(literal) => out.push_str(&literal),
            Piece::Key(key) => match context.get(&key) {
                Some(Value::String(value)) => out.push_str(value),
                Some(value) => out.push_str(&value.to_string()),
                None => {
                    let mut existing: Vec<String> = context.keys().cloned().collect();
                    existing.sort();
                    return Err(InterpolationError::UnknownKey { key, existing });
                }
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(text: &str, expected: Result<&str, InterpolationError>) {
        let context = json!({ "admin_id": 42, "host": "db", "flag": true }).as_object().unwrap().clone();
        assert_eq!(interpolate(text, &context), expected.map(String::from), "for {text:?}");
    }

    #[test]
    fn sites_keep_the_env_shape_in_json() {
        let json = |site: Site| serde_json::to_value(site).unwrap();
        assert_eq!(json(Site::Env("DB_URL".into())), json!({ "env": "DB_URL" }));
        assert_eq!(json(Site::Cmd), json!({ "field": "cmd" }));
        assert_eq!(json(Site::Label("team".into())), json!({ "field": "labels", "name": "team" }));
        assert_eq!(json(Site::ExtraHost("db".into())), json!({ "field": "extra_hosts", "name": "db" }));
        assert_eq!(json(Site::Secret("pw".into())), json!({ "field": "secrets", "name": "pw" }));
    }

    #[test]
    fn fills_in_keys() {
        check("plain", Ok("plain"));
        check("{host}:5432", Ok("db:5432"));
        check("id={admin_id}&f={flag}", Ok("id=42&f=true"));
        check("{{literal}} {host}", Ok("{literal} db"));
    }

    #[test]
    fn reports_what_is_wrong() {
        let unknown = InterpolationError::UnknownKey {
            key: "nope".into(),
            existing: vec!["admin_id".into(), "flag".into(), "host".into()],
        };
        check("{nope}", Err(unknown.clone()));
        assert_eq!(unknown.describe(), "the context has no key `nope` (existing keys: `admin_id`, `flag`, and `host`)");
        check("{}", Err(InterpolationError::EmptyPlaceholder));
        check("{host", Err(InterpolationError::Unclosed));
        check("host}", Err(InterpolationError::StrayClosingBrace));
    }

    #[test]
    fn close_keys_are_suggested_and_syntax_is_checked_alone() {
        let context = json!({ "token": "t" }).as_object().unwrap().clone();
        let error = interpolate("{tokne}", &context).unwrap_err();
        assert_eq!(error.describe(), "the context has no key `tokne` (existing keys: `token`); did you mean `token`?");
        assert_eq!(super::check("{a} {{b}}"), Ok(()));
        assert_eq!(super::check("{oops"), Err(InterpolationError::Unclosed));
        assert_eq!(keys("{a}:{{b}}/{ c }"), ["a", "c"]);
    }

    #[test]
    fn empty_context_says_so() {
        let error = interpolate("{x}", &Map::new()).unwrap_err();
        assert_eq!(error.describe(), "the context has no key `x` (the context is empty)");
    }
}
