//! `{key}` placeholders in definition strings, filled from the context. `{{` and `}}` are
//! literal braces. Pure; no I/O.

use serde_json::{Map, Value};

/// Why a string could not be filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterpolationError {
    UnknownKey { key: String, existing: Vec<String> },
    EmptyPlaceholder,
    Unclosed,
    StrayClosingBrace,
}

impl InterpolationError {
    pub fn describe(&self) -> String {
        match self {
            InterpolationError::UnknownKey { key, existing } if existing.is_empty() => {
                format!("the context has no key `{key}` (the context is empty)")
            }
            InterpolationError::UnknownKey { key, existing } => {
                format!("the context has no key `{key}` (existing keys: {})", crate::text::and_ticked(existing))
            }
            InterpolationError::EmptyPlaceholder => {
                "`{}` names no key; write `{key}`, or `{{}}` for literal braces".into()
            }
            InterpolationError::Unclosed => "a `{` is not closed; write `{{` for a literal brace".into(),
            InterpolationError::StrayClosingBrace => "a `}` has no opening `{`; write `}}` for a literal brace".into(),
        }
    }
}

/// Replaces every `{key}` in `text` with the context value (strings as they are, other
/// values as JSON text).
pub fn interpolate(text: &str, context: &Map<String, Value>) -> Result<String, InterpolationError> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
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
                match context.get(key) {
                    Some(Value::String(value)) => out.push_str(value),
                    Some(value) => out.push_str(&value.to_string()),
                    None => {
                        let mut existing: Vec<String> = context.keys().cloned().collect();
                        existing.sort();
                        return Err(InterpolationError::UnknownKey { key: key.to_string(), existing });
                    }
                }
            }
            c => out.push(c),
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
    fn empty_context_says_so() {
        let error = interpolate("{x}", &Map::new()).unwrap_err();
        assert_eq!(error.describe(), "the context has no key `x` (the context is empty)");
    }
}
