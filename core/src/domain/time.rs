//! Reading the providers' times. Times without a zone are read in the
//! connection's time zone; a date-only deadline means the end of that day
//! there. Every time is kept to the microsecond, as the database keeps it,
//! so that a time read again equals the one stored (the provider's text
//! keeps any finer digits).

use jiff::{
    civil::{Date, DateTime},
    tz::TimeZone,
    Timestamp,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a {expected}")]
pub struct TimeError {
    pub text: String,
    pub expected: &'static str,
}

fn error(text: &str, expected: &'static str) -> TimeError {
    TimeError {
        text: text.to_owned(),
        expected,
    }
}

/// An IANA time zone name (`UTC`, `Asia/Dubai`) known to the time zone
/// database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ZoneName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a time zone name (e.g. UTC, Asia/Dubai)")]
pub struct ZoneError(pub String);

impl ZoneName {
    /// A zone name; UTC's other names (`Etc/UTC`, `Zulu`, as browsers
    /// may report it) read as `UTC`, so UTC is one zone.
    pub fn parse(text: &str) -> Result<Self, ZoneError> {
        let text = text.trim();
        if UTC_NAMES.contains(&text) {
            return Ok(Self::default());
        }
        TimeZone::get(text)
            .map(|_| Self(text.to_owned()))
            .map_err(|_| ZoneError(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn zone(&self) -> TimeZone {
        TimeZone::get(&self.0).unwrap_or(TimeZone::UTC)
    }
}

/// The time zone database's names for UTC.
const UTC_NAMES: [&str; 8] = [
    "UTC",
    "Etc/UTC",
    "Etc/UCT",
    "UCT",
    "Etc/Universal",
    "Universal",
    "Etc/Zulu",
    "Zulu",
];

impl Default for ZoneName {
    fn default() -> Self {
        Self("UTC".into())
    }
}

/// `2023-03-07 19:54:58` (also `2023/03/07 19:54:58`) in `zone`. A date
/// alone means 23:59:59 that day.
pub fn local_date_time(text: &str, zone: &TimeZone) -> Result<Timestamp, TimeError> {
    let normalized = text.trim().replace('/', "-");
    // jiff reads the date out of a date-time too, so tell them apart by shape.
    if !normalized.contains(' ') && !normalized.contains('T') {
        return end_of_local_day(&normalized, zone);
    }
    let civil: DateTime = normalized
        .parse()
        .map_err(|_| error(text, "date and time (yyyy-MM-dd HH:mm:ss)"))?;
    zone.to_ambiguous_timestamp(civil)
        .compatible()
        .map(to_microseconds)
        .map_err(|_| error(text, "time that exists in the connection's time zone"))
}

/// `2023-04-26` → 2023-04-26 23:59:59 in `zone`.
pub fn end_of_local_day(text: &str, zone: &TimeZone) -> Result<Timestamp, TimeError> {
    let date: Date = text
        .trim()
        .replace('/', "-")
        .parse()
        .map_err(|_| error(text, "date (yyyy-MM-dd)"))?;
    zone.to_ambiguous_timestamp(date.at(23, 59, 59, 0))
        .compatible()
        .map_err(|_| error(text, "date that exists in the connection's time zone"))
}

/// Milliseconds since the Unix epoch.
pub fn epoch_millis(millis: i64) -> Result<Timestamp, TimeError> {
    Timestamp::from_millisecond(millis)
        .map_err(|_| error(&millis.to_string(), "timestamp in milliseconds"))
}

/// RFC 3339 with an offset, e.g. `2023-05-01T01:01:01.000Z`.
pub fn rfc3339(text: &str) -> Result<Timestamp, TimeError> {
    text.trim()
        .parse()
        .map(to_microseconds)
        .map_err(|_| error(text, "RFC 3339 time with an offset"))
}

/// A day someone typed into a filter, `yyyy-mm-dd`, in years 1 to 9999
/// (jiff reads years back to 9999 BC, which no database column holds).
pub fn day(text: &str) -> Result<Date, TimeError> {
    text.trim()
        .parse::<Date>()
        .ok()
        .filter(|d| d.year() >= 1)
        .ok_or_else(|| error(text, "date (yyyy-mm-dd)"))
}

/// The start of year 1. PostgreSQL holds no time before 4713 BC (jiff
/// reaches 9999 BC) and nothing here happened before year 1.
const EARLIEST: Timestamp = Timestamp::constant(-62_135_596_800, 0);

/// `at`, or the start of year 1 if it is earlier: for times read from an
/// address (a list's position), which anyone can write.
pub fn storable(at: Timestamp) -> Timestamp {
    at.max(EARLIEST)
}

/// `at` without its digits below the microsecond.
fn to_microseconds(at: Timestamp) -> Timestamp {
    let whole = jiff::TimestampRound::new()
        .smallest(jiff::Unit::Microsecond)
        .mode(jiff::RoundMode::Trunc);
    at.round(whole).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utcs_other_names_read_as_utc() {
        for name in ["UTC", "Etc/UTC", " Zulu ", "Etc/Universal"] {
            assert_eq!(
                ZoneName::parse(name).unwrap(),
                ZoneName::default(),
                "{name}"
            );
        }
        assert_eq!(
            ZoneName::parse("Asia/Dubai").unwrap().as_str(),
            "Asia/Dubai"
        );
        assert!(ZoneName::parse("Mars/Olympus").is_err());
    }

    #[test]
    fn a_filters_day_is_in_years_one_to_9999() {
        assert_eq!(day(" 2026-12-02 ").unwrap(), jiff::civil::date(2026, 12, 2));
        assert_eq!(day("0001-01-01").unwrap(), jiff::civil::date(1, 1, 1));
        for bad in [
            "-004714-11-24",
            "-000001-01-01",
            "0000-12-31",
            "2026-13-01",
            "x",
        ] {
            assert!(day(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_time_before_year_one_is_read_as_its_start() {
        assert_eq!(storable(Timestamp::MIN), utc("0001-01-01T00:00:00Z"));
        let now = utc("2026-12-02T14:00:00Z");
        assert_eq!(storable(now), now);
    }

    #[test]
    fn digits_below_the_microsecond_are_dropped_as_the_database_would() {
        assert_eq!(
            rfc3339("2026-12-02T04:53:12.123456789Z").unwrap(),
            utc("2026-12-02T04:53:12.123456Z")
        );
        assert_eq!(
            local_date_time("2026-12-02 04:53:12.999999999", &TimeZone::UTC).unwrap(),
            utc("2026-12-02T04:53:12.999999Z")
        );
    }

    fn utc(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn a_local_time_is_read_in_the_connections_zone() {
        assert_eq!(
            local_date_time("2023-03-07 19:54:58", &TimeZone::UTC).unwrap(),
            utc("2023-03-07T19:54:58Z")
        );
        let shanghai = TimeZone::get("Asia/Shanghai").unwrap();
        assert_eq!(
            local_date_time("2023-03-07 19:54:58", &shanghai).unwrap(),
            utc("2023-03-07T11:54:58Z")
        );
    }

    #[test]
    fn slashes_and_date_only_deadlines_are_understood() {
        assert_eq!(
            local_date_time("2023/04/30", &TimeZone::UTC).unwrap(),
            utc("2023-04-30T23:59:59Z")
        );
        assert_eq!(
            local_date_time("2023/04/30 10:00:00", &TimeZone::UTC).unwrap(),
            utc("2023-04-30T10:00:00Z")
        );
    }

    #[test]
    fn a_date_ends_at_235959_in_the_zone() {
        assert_eq!(
            end_of_local_day("2023-04-26", &TimeZone::UTC).unwrap(),
            utc("2023-04-26T23:59:59Z")
        );
        let dubai = TimeZone::get("Asia/Dubai").unwrap();
        assert_eq!(
            end_of_local_day("2023-04-26", &dubai).unwrap(),
            utc("2023-04-26T19:59:59Z")
        );
    }

    #[test]
    fn a_time_skipped_by_daylight_saving_moves_forward() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(
            local_date_time("2023-03-26 02:30:00", &berlin).unwrap(),
            utc("2023-03-26T01:30:00Z")
        );
    }

    #[test]
    fn epoch_millis_and_rfc3339_are_read_exactly() {
        assert_eq!(
            epoch_millis(1678215600000).unwrap(),
            utc("2023-03-07T19:00:00Z")
        );
        assert_eq!(
            rfc3339("2023-05-01T01:01:01.000Z").unwrap(),
            utc("2023-05-01T01:01:01Z")
        );
        assert_eq!(
            rfc3339("2023-05-01T09:01:01+08:00").unwrap(),
            utc("2023-05-01T01:01:01Z")
        );
    }

    #[test]
    fn zone_names_are_checked_against_the_database() {
        assert_eq!(
            ZoneName::parse(" Asia/Dubai ").unwrap().as_str(),
            "Asia/Dubai"
        );
        assert_eq!(ZoneName::default().zone(), TimeZone::UTC);
        assert_eq!(
            ZoneName::parse("Mars/Olympus").unwrap_err().to_string(),
            "\"Mars/Olympus\" is not a time zone name (e.g. UTC, Asia/Dubai)"
        );
    }

    #[test]
    fn nonsense_is_an_error_that_quotes_it() {
        let err = local_date_time("yesterday", &TimeZone::UTC).unwrap_err();
        assert_eq!(err.text, "yesterday");
        assert!(rfc3339("2023-05-01 01:01:01").is_err(), "no offset");
        assert!(end_of_local_day("2023-02-30", &TimeZone::UTC).is_err());
        assert!(epoch_millis(i64::MAX).is_err());
    }
}
