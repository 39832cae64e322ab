//! Rhai values to JSON and back, for the context. Only data converts: a function pointer or a
//! host object is refused rather than saved as junk, and so is a value nested deeper than
//! [`MAX_DEPTH`], which the context file could not be read back from.

use std::fmt;

use rhai::{Array, Dynamic, Map};
use serde_json::Value;

/// How deeply arrays and maps may nest in a value stored in the context or sent as JSON.
/// serde_json refuses to parse more than 128 levels, so a deeper value could be saved in
/// `.boss-context` but never loaded again; 64 leaves room for the context object itself and
/// is far beyond what configuration data needs. The check also stops the conversion's
/// recursion before it can exhaust the stack.
pub(crate) const MAX_DEPTH: usize = 64;

/// Why a script value cannot become JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Unstorable {
    /// Not data: a function, a host object, or a number JSON has no form for (described).
    NotData(String),
    /// Arrays and maps nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl fmt::Display for Unstorable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unstorable::NotData(what) => f.write_str(what),
            Unstorable::TooDeep => write!(f, "a value nested deeper than {MAX_DEPTH} levels"),
        }
    }
}

/// Converts a script value to JSON, or says why it cannot be stored.
pub(super) fn to_json(value: &Dynamic) -> Result<Value, Unstorable> {
    to_json_at(value, 0)
}

/// `depth` is the number of arrays and maps around `value`. Containers are read in place
/// (`read_lock`) rather than cloned, so converting costs one pass over the value.
fn to_json_at(value: &Dynamic, depth: usize) -> Result<Value, Unstorable> {
    if let Some(array) = value.read_lock::<Array>() {
        if depth >= MAX_DEPTH {
            return Err(Unstorable::TooDeep);
        }
        return array.iter().map(|item| to_json_at(item, depth + 1)).collect::<Result<Vec<_>, _>>().map(Value::Array);
    }
    if let Some(map) = value.read_lock::<Map>() {
        if depth >= MAX_DEPTH {
            return Err(Unstorable::TooDeep);
        }
        let mut object = serde_json::Map::new();
        for (key, item) in map.iter() {
            object.insert(key.to_string(), to_json_at(item, depth + 1)?);
        }
        return Ok(Value::Object(object));
    }
    // What is left is a scalar (or not data), cheap to copy out of a shared cell.
    let value = value.flatten_clone();
    if value.is_unit() {
        return Ok(Value::Null);
    }
    if let Some(flag) = value.clone().try_cast::<bool>() {
        return Ok(Value::Bool(flag));
    }
    if let Some(number) = value.clone().try_cast::<rhai::INT>() {
        return Ok(Value::from(number));
    }
    if let Some(number) = value.clone().try_cast::<rhai::FLOAT>() {
        return serde_json::Number::from_f64(number)
            .map(Value::Number)
            .ok_or_else(|| Unstorable::NotData(format!("the number {number}")));
    }
    if value.is_string() {
        return Ok(Value::String(value.into_string().unwrap_or_default()));
    }
    if let Some(c) = value.clone().try_cast::<char>() {
        return Ok(Value::String(c.to_string()));
    }
    Err(Unstorable::NotData(format!("a value of type `{}`", value.type_name())))
}

/// Converts JSON to a script value.
pub(super) fn to_dynamic(value: &Value) -> Dynamic {
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(flag) => Dynamic::from(*flag),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => Dynamic::from(integer),
            None => Dynamic::from(number.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(text) => Dynamic::from(text.clone()),
        Value::Array(items) => Dynamic::from_array(items.iter().map(to_dynamic).collect()),
        Value::Object(object) => {
            Dynamic::from_map(object.iter().map(|(key, item)| (key.as_str().into(), to_dynamic(item))).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_round_trips_and_functions_are_refused() {
        let engine = rhai::Engine::new();
        let value: Dynamic = engine.eval(r#"#{ a: 1, b: [true, "x", 2.5, ()], c: #{ d: 'e' } }"#).unwrap();
        let json = to_json(&value).unwrap();
        assert_eq!(json, serde_json::json!({ "a": 1, "b": [true, "x", 2.5, null], "c": { "d": "e" } }));
        assert_eq!(to_json(&to_dynamic(&json)).unwrap(), json);
        let closure: Dynamic = engine.eval("|| 1").unwrap();
        assert_eq!(to_json(&closure).unwrap_err().to_string(), "a value of type `Fn`");
    }

    /// A value `levels` arrays deep, built in Rust so the test does not depend on Rhai's own
    /// recursion limits.
    fn nested(levels: usize) -> Dynamic {
        (0..levels).fold(Dynamic::from(1_i64), |inner, _| Dynamic::from_array(vec![inner]))
    }

    #[test]
    fn nesting_is_limited_so_saved_values_load_again() {
        let deepest = to_json(&nested(MAX_DEPTH)).unwrap();
        // Inside the context object, the deepest storable value still parses with serde_json.
        let file = serde_json::json!({ "deep": deepest }).to_string();
        assert!(serde_json::from_str::<Value>(&file).is_ok());
        assert_eq!(to_json(&nested(MAX_DEPTH + 1)).unwrap_err(), Unstorable::TooDeep);
        let map_inside: Dynamic = Dynamic::from_map(Map::from([("a".into(), nested(MAX_DEPTH))]));
        assert_eq!(to_json(&map_inside).unwrap_err().to_string(), "a value nested deeper than 64 levels");
        // Far deeper values are refused without walking them to the bottom.
        assert_eq!(to_json(&nested(1_000)).unwrap_err(), Unstorable::TooDeep);
    }
}
