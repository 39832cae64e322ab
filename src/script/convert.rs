//! Rhai values to JSON and back, for the context. Only data converts: a function pointer or a
//! host object is refused rather than saved as junk.

use rhai::{Array, Dynamic, Map};
use serde_json::Value;

/// Converts a script value to JSON, or names the type that cannot be stored.
pub(super) fn to_json(value: &Dynamic) -> Result<Value, String> {
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
        return serde_json::Number::from_f64(number).map(Value::Number).ok_or_else(|| format!("the number {number}"));
    }
    if value.is_string() {
        return Ok(Value::String(value.into_string().unwrap_or_default()));
    }
    if let Some(c) = value.clone().try_cast::<char>() {
        return Ok(Value::String(c.to_string()));
    }
    if value.is_array() {
        let array = value.cast::<Array>();
        return array.iter().map(to_json).collect::<Result<Vec<_>, _>>().map(Value::Array);
    }
    if value.is_map() {
        let map = value.cast::<Map>();
        let mut object = serde_json::Map::new();
        for (key, item) in &map {
            object.insert(key.to_string(), to_json(item)?);
        }
        return Ok(Value::Object(object));
    }
    Err(format!("a value of type `{}`", value.type_name()))
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
        assert_eq!(to_json(&closure).unwrap_err(), "a value of type `Fn`");
    }
}
