//! Reading providers' JSON without losing what they wrote: scalars are kept
//! as their text (`200.00` stays `200.00`), empty strings count as absent.

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// A JSON scalar as text: a string's content, or a number's or boolean's
/// JSON text. `null` and `""` are `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text(pub Option<String>);

impl Text {
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }

    pub fn into_inner(self) -> Option<String> {
        self.0
    }
}

/// The text of a raw JSON value, as PingPong signs it.
pub fn text_of(raw: &RawValue) -> Option<String> {
    let json = raw.get().trim();
    if json == "null" {
        return None;
    }
    let text = if json.starts_with('"') {
        serde_json::from_str::<String>(json).ok()?
    } else {
        json.to_owned()
    };
    (!text.is_empty()).then_some(text)
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Ok(Text(text_of(&raw)))
    }
}

/// Names the first required field that is absent, for the verdict's reason.
pub fn required<'a>(field: &str, value: &'a Text) -> Result<&'a str, super::Rejection> {
    value
        .get()
        .ok_or_else(|| super::Rejection::Malformed(format!("required field {field} is missing")))
}

/// Parses JSON into a provider's typed notification; the reason names what
/// was wrong.
pub fn from_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, super::Rejection> {
    serde_json::from_slice(body)
        .map_err(|e| super::Rejection::Malformed(format!("the body is not the expected JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Sample {
        a: Text,
        b: Text,
        c: Text,
        d: Text,
        #[serde(default)]
        e: Text,
        f: Text,
    }

    #[test]
    fn scalars_keep_their_text() {
        let s: Sample =
            serde_json::from_str(r#"{"a":"x\u00e9","b":200.00,"c":true,"d":null,"f":""}"#).unwrap();
        assert_eq!(s.a.get(), Some("xé"));
        assert_eq!(s.b.get(), Some("200.00"));
        assert_eq!(s.c.get(), Some("true"));
        assert_eq!(s.d.get(), None);
        assert_eq!(s.e.get(), None);
        assert_eq!(s.f.get(), None);
    }
}
