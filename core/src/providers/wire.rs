//! Reading providers' JSON without losing what they wrote: scalars are kept
//! as their text (`200.00` stays `200.00`), empty strings count as absent.
//! Every text is bounded and free of NUL characters, which the database
//! refuses: a notification that breaks either rule is malformed, refused at
//! once with the field named, rather than failing when it is recorded.

use serde::{de::Error as _, Deserialize, Deserializer};
use serde_json::value::RawValue;

/// The longest text a field may hold when its provider documents no maximum.
pub const TEXT_LIMIT: usize = 1024;

/// A JSON scalar as text: a string's content, or a number's or boolean's
/// JSON text. `null` and `""` are `None`. At most `MAX` characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Text<const MAX: usize = TEXT_LIMIT>(pub Option<String>);

impl<const MAX: usize> Text<MAX> {
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

impl<'de, const MAX: usize> Deserialize<'de> for Text<MAX> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let text = text_of(&raw);
        if let Some(text) = &text {
            if text.contains('\0') {
                return Err(D::Error::custom("contains a NUL character"));
            }
            if text.chars().count() > MAX {
                return Err(D::Error::custom(format!("is longer than {MAX} characters")));
            }
        }
        Ok(Text(text))
    }
}

/// An amount and its currency as the provider wrote them; `None` when
/// either is absent, malformed when they do not read as money.
pub fn money(
    amount: &Text,
    currency: &Text,
) -> Result<Option<crate::domain::Money>, super::Refusal> {
    match (amount.get(), currency.get()) {
        (Some(amount), Some(currency)) => crate::domain::Money::parse(amount, currency)
            .map(Some)
            .map_err(|e| super::Refusal::Malformed(e.to_string())),
        _ => Ok(None),
    }
}

/// Names the first required field that is absent, for the verdict's reason.
pub fn required<'a, const MAX: usize>(
    field: &str,
    value: &'a Text<MAX>,
) -> Result<&'a str, super::Refusal> {
    value
        .get()
        .ok_or_else(|| super::Refusal::Malformed(format!("required field {field} is missing")))
}

/// Parses JSON into a provider's typed notification; the reason names the
/// field that was wrong and how.
pub fn from_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, super::Refusal> {
    from_json_in("the body", body)
}

/// Like `from_json`, for JSON found inside a field (`what` names it).
pub fn from_json_in<'a, T: Deserialize<'a>>(
    what: &str,
    json: &'a [u8],
) -> Result<T, super::Refusal> {
    let deserializer = &mut serde_json::Deserializer::from_slice(json);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        super::Refusal::Malformed(if path == "." {
            format!("{what} is not the expected JSON: {}", e.inner())
        } else {
            format!("{what} is not the expected JSON: {path} {}", e.inner())
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
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

    #[derive(Debug, Deserialize)]
    struct Nested {
        outer: Inner,
    }

    #[derive(Debug, Deserialize)]
    struct Inner {
        short: Text<4>,
        #[serde(default)]
        long: Text,
    }

    fn reason(json: &str) -> String {
        from_json::<Nested>(json.as_bytes())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_nul_character_is_refused_naming_its_field() {
        let why = reason(r#"{"outer":{"short":"a\u0000b"}}"#);
        assert!(
            why.contains("outer.short contains a NUL character"),
            "{why}"
        );
    }

    #[test]
    fn a_text_over_its_limit_is_refused_naming_its_field() {
        let fits: Nested =
            from_json(r#"{"outer":{"short":"abcd","long":"é"}}"#.as_bytes()).unwrap();
        assert_eq!(
            (fits.outer.short.get(), fits.outer.long.get()),
            (Some("abcd"), Some("é"))
        );
        let why = reason(r#"{"outer":{"short":"abcde"}}"#);
        assert!(
            why.contains("outer.short is longer than 4 characters"),
            "{why}"
        );
        let long = format!(
            r#"{{"outer":{{"short":"a","long":"{}"}}}}"#,
            "é".repeat(1025)
        );
        assert!(reason(&long).contains("outer.long is longer than 1024"));
        let number = format!(r#"{{"outer":{{"short":"a","long":{}}}}}"#, "9".repeat(1025));
        assert!(
            reason(&number).contains("is longer than 1024"),
            "numbers too"
        );
    }

    #[test]
    fn broken_json_says_so_without_a_path() {
        let why = reason(r#"{"outer": "#);
        assert!(
            why.starts_with("the body is not the expected JSON: "),
            "{why}"
        );
    }
}
