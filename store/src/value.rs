//! `Value` is OpenTelemetry's AnyValue, and its JSON form is the one the
//! database stores and the API serves: plain JSON where JSON can say it
//! (string, bool, integer, float, array, map), a one-key object where it
//! cannot (`{"$bytes": base64}`, `{"$double": "NaN"}`). Map keys that start
//! with `$` are stored with one more `$`, so no map is ever mistaken for a tag.
//! Floats keep their decimal point (`1.0`), so ints and doubles survive a round trip.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::{Deserializer, Error as _};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Empty,
    String(String),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    Map(Attributes),
}

/// Key-value pairs in the order they were sent.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Attributes(pub Vec<(String, Value)>);

impl Attributes {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    pub fn from_json_str(text: &str) -> Result<Attributes, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// A map key as the JSON form stores it (one more `$` in front of a `$`).
pub fn stored_key(key: &str) -> String {
    if key.starts_with('$') {
        format!("${key}")
    } else {
        key.to_owned()
    }
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "null".to_owned())
    }

    pub fn from_json_str(text: &str) -> Result<Value, serde_json::Error> {
        serde_json::from_str(text)
    }

    fn from_json(json: serde_json::Value) -> Result<Value, String> {
        Ok(match json {
            serde_json::Value::Null => Value::Empty,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::String(s) => Value::String(s),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if n.is_u64() {
                    return Err(format!("integer {n} out of range"));
                } else {
                    Value::Double(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(Value::from_json)
                    .collect::<Result<_, _>>()?,
            ),
            serde_json::Value::Object(map) => {
                if map.len() == 1 {
                    if let Some(serde_json::Value::String(b64)) = map.get("$bytes") {
                        return BASE64
                            .decode(b64)
                            .map(Value::Bytes)
                            .map_err(|e| format!("bad $bytes: {e}"));
                    }
                    if let Some(serde_json::Value::String(special)) = map.get("$double") {
                        return match special.as_str() {
                            "NaN" => Ok(Value::Double(f64::NAN)),
                            "Infinity" => Ok(Value::Double(f64::INFINITY)),
                            "-Infinity" => Ok(Value::Double(f64::NEG_INFINITY)),
                            other => Err(format!("bad $double: {other}")),
                        };
                    }
                }
                Value::Map(Attributes::from_json_map(map)?)
            }
        })
    }
}

impl Attributes {
    fn from_json_map(
        map: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Attributes, String> {
        map.into_iter()
            .map(|(key, value)| {
                let key = match key.strip_prefix('$') {
                    Some(rest) => rest.to_owned(),
                    None => key,
                };
                Ok((key, Value::from_json(value)?))
            })
            .collect::<Result<Vec<_>, String>>()
            .map(Attributes)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Empty => serializer.serialize_none(),
            Value::String(s) => serializer.serialize_str(s),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => serializer.serialize_i64(*i),
            Value::Double(d) if d.is_finite() => serializer.serialize_f64(*d),
            Value::Double(d) => {
                let special = if d.is_nan() {
                    "NaN"
                } else if *d > 0.0 {
                    "Infinity"
                } else {
                    "-Infinity"
                };
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("$double", special)?;
                map.end()
            }
            Value::Bytes(bytes) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("$bytes", &BASE64.encode(bytes))?;
                map.end()
            }
            Value::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Map(attributes) => attributes.serialize(serializer),
        }
    }
}

impl Serialize for Attributes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            if key.starts_with('$') {
                map.serialize_entry(&format!("${key}"), value)?;
            } else {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let json = serde_json::Value::deserialize(deserializer)?;
        Value::from_json(json).map_err(D::Error::custom)
    }
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(deserializer)? {
            serde_json::Value::Object(map) => {
                Attributes::from_json_map(map).map_err(D::Error::custom)
            }
            serde_json::Value::Null => Ok(Attributes::default()),
            _ => Err(D::Error::custom("attributes must be a JSON object")),
        }
    }
}

/// Ids as lowercase hex in JSON; an empty id is `null`.
pub mod hex_bytes {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        if bytes.is_empty() {
            serializer.serialize_none()
        } else {
            serializer.serialize_str(&hex::encode(bytes))
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            None => Ok(Vec::new()),
            Some(text) => hex::decode(text).map_err(D::Error::custom),
        }
    }
}

/// `f64` fields outside `Value` (histogram and summary numbers) in the JSON
/// form of `Value::Double`, so that NaN and the infinities survive a round
/// trip instead of being written as `null`, which reads back as an error. A
/// `null` already stored reads back as NaN.
pub mod double {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Value;

    pub fn serialize<S: Serializer>(d: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        Value::Double(*d).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
        number(Value::deserialize(deserializer)?).map_err(D::Error::custom)
    }

    fn number(value: Value) -> Result<f64, String> {
        match value {
            Value::Double(d) => Ok(d),
            Value::Int(i) => Ok(i as f64),
            Value::Empty => Ok(f64::NAN),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(d: &Option<f64>, serializer: S) -> Result<S::Ok, S::Error> {
            d.map(Value::Double).serialize(serializer)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<f64>, D::Error> {
            Option::<Value>::deserialize(deserializer)?
                .map(number)
                .transpose()
                .map_err(D::Error::custom)
        }
    }

    pub mod vec {
        use super::*;

        pub fn serialize<S: Serializer>(ds: &[f64], serializer: S) -> Result<S::Ok, S::Error> {
            serializer.collect_seq(ds.iter().map(|d| Value::Double(*d)))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Vec<f64>, D::Error> {
            Vec::<Value>::deserialize(deserializer)?
                .into_iter()
                .map(number)
                .collect::<Result<_, _>>()
                .map_err(D::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(value: Value, json: &str) {
        assert_eq!(value.to_json_string(), json, "serialising {value:?}");
        let back = Value::from_json_str(json).expect("parses");
        // NaN is the one value not equal to itself.
        if let (Value::Double(a), Value::Double(b)) = (&value, &back)
            && a.is_nan()
        {
            assert!(b.is_nan());
            return;
        }
        assert_eq!(back, value, "parsing {json}");
    }

    #[test]
    fn round_trips() {
        check(Value::Empty, "null");
        check(Value::String("a\"b".into()), r#""a\"b""#);
        check(Value::Bool(true), "true");
        check(Value::Int(-42), "-42");
        check(Value::Int(i64::MAX), "9223372036854775807");
        check(Value::Double(1.0), "1.0");
        check(Value::Double(-0.5), "-0.5");
        check(Value::Double(f64::NAN), r#"{"$double":"NaN"}"#);
        check(
            Value::Double(f64::NEG_INFINITY),
            r#"{"$double":"-Infinity"}"#,
        );
        check(Value::Bytes(vec![0, 255, 7]), r#"{"$bytes":"AP8H"}"#);
        check(Value::Array(vec![]), "[]");
        check(
            Value::Array(vec![Value::Int(1), Value::String("x".into()), Value::Empty]),
            r#"[1,"x",null]"#,
        );
        check(Value::Map(Attributes::default()), "{}");
        check(
            Value::Map(Attributes(vec![
                ("z".into(), Value::Int(1)),
                (
                    "a".into(),
                    Value::Map(Attributes(vec![("b".into(), Value::Bool(false))])),
                ),
            ])),
            r#"{"z":1,"a":{"b":false}}"#,
        );
        // A user's map that looks like a tag stays a map.
        check(
            Value::Map(Attributes(vec![(
                "$bytes".into(),
                Value::String("AA==".into()),
            )])),
            r#"{"$$bytes":"AA=="}"#,
        );
    }

    #[test]
    fn rejects_what_it_never_writes() {
        for bad in [
            r#"{"$bytes":"!!"}"#,
            r#"{"$double":"huge"}"#,
            "18446744073709551615",
        ] {
            assert!(Value::from_json_str(bad).is_err(), "{bad}");
        }
    }
}
