//! The delivery history's question: which requests to the webhook URLs ops
//! is looking for, read from the address's parameters and written back, and
//! where a page of them ends.

use std::collections::BTreeMap;

use jiff::{civil::Date, Timestamp};

use super::{ProviderKind, Verdict};

/// The longest text searched for in bodies, or slug asked for.
const MAX_TEXT: usize = 200;

/// Days of bodies a search reads when no start date is given: every body
/// of a million deliveries takes seconds to read, a week's milliseconds.
pub const BODY_SEARCH_DAYS: i16 = 7;

/// Which deliveries, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    /// The slug asked for: a connection's, or one no connection has.
    pub slug: Option<String>,
    pub provider: Option<ProviderKind>,
    pub verdict: Option<Verdict>,
    /// The HTTP status answered.
    pub status: Option<u16>,
    /// Received on these days (UTC), both included.
    pub from: Option<Date>,
    pub to: Option<Date>,
    /// Bytes the body contains.
    pub text: Option<String>,
    /// Only those refused (any verdict but valid and duplicate).
    pub refused_only: bool,
}

/// A parameter the history cannot read, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeliveryFilterError(pub String);

/// Where a page ended: the last delivery shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryCursor {
    pub received_at: Timestamp,
    pub id: i64,
}

impl DeliveryCursor {
    /// `received_at` in microseconds, a dot, the id.
    pub fn to_param(self) -> String {
        format!("{}.{}", self.received_at.as_microsecond(), self.id)
    }

    pub fn from_param(text: &str) -> Option<Self> {
        let (micros, id) = text.split_once('.')?;
        Some(Self {
            received_at: super::time::storable(
                Timestamp::from_microsecond(micros.parse().ok()?).ok()?,
            ),
            id: id.parse().ok()?,
        })
    }
}

impl DeliveryFilter {
    /// Empty values mean "not set"; unknown names (the cursor) are ignored.
    pub fn from_params(params: &BTreeMap<String, String>) -> Result<Self, DeliveryFilterError> {
        let get = |name: &str| params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let bad = |name: &str, value: &str, expected: &str| {
            DeliveryFilterError(format!("{name} {value:?} is not {expected}"))
        };
        let text = |name: &str| match get(name) {
            Some(v) if v.chars().count() > MAX_TEXT || v.chars().any(char::is_control) => {
                Err(DeliveryFilterError(format!(
                    "{name} must be at most {MAX_TEXT} characters, without control characters"
                )))
            }
            v => Ok(v.map(str::to_owned)),
        };
        let date = |name: &str| {
            get(name)
                .map(|v| super::time::day(v).map_err(|_| bad(name, v, "a date (yyyy-mm-dd)")))
                .transpose()
        };
        Ok(Self {
            slug: text("connection")?,
            provider: get("provider")
                .map(|v| v.parse().map_err(|_| bad("provider", v, "a provider")))
                .transpose()?,
            verdict: get("verdict")
                .map(|v| v.parse().map_err(|_| bad("verdict", v, "a verdict")))
                .transpose()?,
            status: get("status")
                .map(|v| {
                    v.parse::<u16>()
                        .ok()
                        .filter(|s| (100..600).contains(s))
                        .ok_or_else(|| bad("status", v, "an HTTP status"))
                })
                .transpose()?,
            from: date("from")?,
            to: date("to")?,
            text: text("q")?,
            refused_only: match get("refused") {
                None => false,
                Some("yes") => true,
                Some(v) => return Err(bad("refused", v, "yes")),
            },
        })
    }

    /// The parameters that read back as this filter.
    pub fn to_params(&self) -> Vec<(&'static str, String)> {
        [
            ("connection", self.slug.clone()),
            ("provider", self.provider.map(|p| p.as_str().to_owned())),
            ("verdict", self.verdict.map(|v| v.as_str().to_owned())),
            ("status", self.status.map(|s| s.to_string())),
            ("from", self.from.map(|d| d.to_string())),
            ("to", self.to.map(|d| d.to_string())),
            ("q", self.text.clone()),
            ("refused", self.refused_only.then(|| "yes".to_owned())),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.map(|v| (name, v)))
        .collect()
    }

    /// The parameters as an address's query string (`a=1&b=2`, encoded).
    pub fn query_string(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(self.to_params())
            .finish()
    }

    /// The filter as the history runs it on `today` (UTC): a search in
    /// bodies without a start date reads `BODY_SEARCH_DAYS` days, up to
    /// its end date (or today) included, and says so in its address.
    pub fn bounded(&self, today: Date) -> Self {
        match (&self.text, self.from) {
            (Some(_), None) => Self {
                from: self
                    .to
                    .map_or(today, |to| to.min(today))
                    .checked_sub(jiff::Span::new().days(BODY_SEARCH_DAYS - 1))
                    .ok(),
                ..self.clone()
            },
            _ => self.clone(),
        }
    }

    /// The received-at range as instants: from the start of `from` (UTC)
    /// to the start of the day after `to`.
    pub fn received_range(&self) -> (Option<Timestamp>, Option<Timestamp>) {
        let start = |d: Date| {
            d.to_zoned(jiff::tz::TimeZone::UTC)
                .ok()
                .map(|z| z.timestamp())
        };
        (
            self.from.and_then(start),
            self.to.and_then(|d| d.tomorrow().ok()).and_then(start),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_search_without_a_start_reads_the_last_week_and_nothing_else_is_bounded() {
        let today = jiff::civil::date(2026, 12, 1);
        let searching = DeliveryFilter {
            text: Some("PP-1".into()),
            ..DeliveryFilter::default()
        };
        assert_eq!(
            searching.bounded(today).from,
            Some(jiff::civil::date(2026, 11, 25))
        );
        let since = DeliveryFilter {
            from: Some(jiff::civil::date(2025, 1, 1)),
            ..searching.clone()
        };
        assert_eq!(since.bounded(today), since);
        let plain = DeliveryFilter {
            verdict: Some(Verdict::Malformed),
            ..DeliveryFilter::default()
        };
        assert_eq!(plain.bounded(today), plain);
        let until = DeliveryFilter {
            to: Some(jiff::civil::date(2026, 3, 10)),
            ..searching.clone()
        };
        assert_eq!(
            until.bounded(today).from,
            Some(jiff::civil::date(2026, 3, 4)),
            "the week up to its end date"
        );
        let future = DeliveryFilter {
            to: Some(jiff::civil::date(2027, 1, 1)),
            ..searching
        };
        assert_eq!(
            future.bounded(today).from,
            Some(jiff::civil::date(2026, 11, 25))
        );
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<DeliveryFilter, DeliveryFilterError> {
        DeliveryFilter::from_params(
            &pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn every_parameter_reads_and_writes_back() {
        let all = [
            ("connection", "pingpong-main"),
            ("provider", "payermax"),
            ("verdict", "bad_signature"),
            ("status", "401"),
            ("from", "2026-11-01"),
            ("to", "2026-11-30"),
            ("q", "caseId <x>"),
            ("refused", "yes"),
        ];
        let filter = parse(&all).unwrap();
        assert_eq!(filter.verdict, Some(Verdict::BadSignature));
        assert_eq!(filter.status, Some(401));
        assert_eq!(
            filter.to_params(),
            all.iter()
                .map(|(k, v)| (*k, v.to_string()))
                .collect::<Vec<_>>()
        );
        assert_eq!(parse(&[]).unwrap(), DeliveryFilter::default());
        assert!(parse(&[("connection", " "), ("after", "x")])
            .unwrap()
            .slug
            .is_none());
    }

    #[test]
    fn the_query_string_is_encoded() {
        let filter = parse(&[("connection", "a b"), ("q", "x&y")]).unwrap();
        assert_eq!(filter.query_string(), "connection=a+b&q=x%26y");
        assert_eq!(DeliveryFilter::default().query_string(), "");
    }

    #[test]
    fn what_cannot_be_read_is_refused_in_words() {
        for (name, value) in [
            ("provider", "stripe"),
            ("verdict", "fine"),
            ("status", "99"),
            ("status", "600"),
            ("status", "abc"),
            ("from", "yesterday"),
            ("q", "a\u{0}b"),
            ("refused", "no"),
        ] {
            let error = parse(&[(name, value)]).unwrap_err();
            assert!(error.0.contains(name), "{error}");
        }
        assert!(parse(&[("q", &"x".repeat(201))]).is_err());
        assert!(parse(&[("q", &"x".repeat(200))]).is_ok());
    }

    #[test]
    fn days_cover_whole_utc_days_and_cursors_round_trip() {
        let filter = parse(&[("from", "2026-11-01"), ("to", "2026-11-30")]).unwrap();
        let (from, to) = filter.received_range();
        assert_eq!(from, Some("2026-11-01T00:00:00Z".parse().unwrap()));
        assert_eq!(to, Some("2026-12-01T00:00:00Z".parse().unwrap()));
        let cursor = DeliveryCursor {
            received_at: "2026-11-05T10:00:00.123456Z".parse().unwrap(),
            id: 42,
        };
        assert_eq!(DeliveryCursor::from_param(&cursor.to_param()), Some(cursor));
        for bad in ["", "1", "x.1", "1.x", "99999999999999999999.1"] {
            assert_eq!(DeliveryCursor::from_param(bad), None, "{bad}");
        }
        let ancient = DeliveryCursor::from_param("-377705000000000000.1").unwrap();
        assert_eq!(ancient.received_at, "0001-01-01T00:00:00Z".parse().unwrap());
    }
}
