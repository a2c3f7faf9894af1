//! How a time reads to a person: in their own zone first, as a weekday, a
//! day and a clock time (`Tue 16 Dec, 09:23`), the year only when it is not
//! this year; UTC second, where two people in different zones must agree on
//! a moment (a deadline).

use jiff::{tz::TimeZone, Timestamp};

/// `at` in `zone`: `Tue 16 Dec, 09:23`, or `Tue 16 Dec 2025, 09:23` when it
/// falls in another year than `now` does there.
pub fn local(at: Timestamp, zone: &TimeZone, now: Timestamp) -> String {
    let there = at.to_zoned(zone.clone());
    let this_year = now.to_zoned(zone.clone()).year();
    match there.year() == this_year {
        true => there.strftime("%a %-d %b, %H:%M").to_string(),
        false => there.strftime("%a %-d %b %Y, %H:%M").to_string(),
    }
}

/// The day of `at` in `zone`, for a column where the clock time can wait
/// for a hover: `Tue 16 Dec`, or `16 Dec 2025` in another year (where the
/// weekday no longer helps anyone plan).
pub fn day(at: Timestamp, zone: &TimeZone, now: Timestamp) -> String {
    let there = at.to_zoned(zone.clone());
    let this_year = now.to_zoned(zone.clone()).year();
    match there.year() == this_year {
        true => there.strftime("%a %-d %b").to_string(),
        false => there.strftime("%-d %b %Y").to_string(),
    }
}

/// `at` in UTC, as a log or a provider's page would give it:
/// `2026-12-16 05:23 UTC`.
pub fn utc(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// `at` in `zone` with UTC beside it: `Tue 16 Dec, 09:23 (2026-12-16 05:23
/// UTC)`; for someone who reads UTC, once: `Tue 16 Dec, 05:23 UTC`.
pub fn local_and_utc(at: Timestamp, zone: &TimeZone, now: Timestamp) -> String {
    match zone.iana_name() == Some("UTC") {
        true => format!("{} UTC", local(at, zone, now)),
        false => format!("{} ({})", local(at, zone, now), utc(at)),
    }
}

/// How `zone` is named to its reader: `Asia/Dubai (UTC+04)`, `Asia/Kolkata
/// (UTC+05:30)`.
pub fn zone_label(zone: &TimeZone, now: Timestamp) -> String {
    let name = zone.iana_name().unwrap_or("UTC");
    let offset = zone.to_offset(now);
    match offset.seconds() {
        0 => name.to_owned(),
        _ => format!("{name} (UTC{offset})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap()
    }

    const NOW: &str = "2026-12-02T10:00:00Z";

    #[test]
    fn a_time_this_year_reads_as_weekday_day_month_and_clock() {
        let now = at(NOW);
        assert_eq!(
            local(at("2026-12-16T05:23:00Z"), &TimeZone::UTC, now),
            "Wed 16 Dec, 05:23"
        );
        assert_eq!(
            local(at("2026-12-16T05:23:00Z"), &zone("Asia/Dubai"), now),
            "Wed 16 Dec, 09:23"
        );
        assert_eq!(
            local(at("2026-03-01T00:05:59Z"), &TimeZone::UTC, now),
            "Sun 1 Mar, 00:05"
        );
    }

    #[test]
    fn the_year_shows_only_when_it_is_not_this_year_in_the_readers_zone() {
        let now = at(NOW);
        assert_eq!(
            local(at("2023-04-05T23:59:00Z"), &TimeZone::UTC, now),
            "Wed 5 Apr 2023, 23:59"
        );
        // 22:00 UTC on New Year's Eve is already 2027 in Dubai.
        let eve = at("2026-12-31T22:00:00Z");
        assert_eq!(local(eve, &TimeZone::UTC, now), "Thu 31 Dec, 22:00");
        assert_eq!(
            local(eve, &zone("Asia/Dubai"), now),
            "Fri 1 Jan 2027, 02:00"
        );
        // Once it is 2027 in Dubai, that time is this year there.
        let new_year = at("2026-12-31T21:00:00Z");
        assert_eq!(
            local(eve, &zone("Asia/Dubai"), new_year),
            "Fri 1 Jan, 02:00"
        );
    }

    #[test]
    fn a_day_is_the_day_in_the_readers_zone_not_in_utc() {
        let late = at("2026-12-15T22:30:00Z");
        assert_eq!(day(late, &zone("UTC"), at(NOW)), "Tue 15 Dec");
        assert_eq!(day(late, &zone("Asia/Dubai"), at(NOW)), "Wed 16 Dec");
        assert_eq!(day(late, &zone("America/New_York"), at(NOW)), "Tue 15 Dec");
        assert_eq!(
            day(at("2025-12-31T23:00:00Z"), &zone("UTC"), at(NOW)),
            "31 Dec 2025"
        );
        assert_eq!(
            day(at("2025-12-31T23:00:00Z"), &zone("Asia/Dubai"), at(NOW)),
            "Thu 1 Jan"
        );
    }

    #[test]
    fn daylight_saving_moves_the_clock_but_not_the_moment() {
        let now = at(NOW);
        let new_york = zone("America/New_York");
        // Clocks went from 02:00 EST to 03:00 EDT on 8 March 2026.
        assert_eq!(
            local(at("2026-03-08T06:30:00Z"), &new_york, now),
            "Sun 8 Mar, 01:30"
        );
        assert_eq!(
            local(at("2026-03-08T07:30:00Z"), &new_york, now),
            "Sun 8 Mar, 03:30"
        );
        // And back from 02:00 EDT to 01:00 EST on 1 November: 01:30 twice.
        assert_eq!(
            local(at("2026-11-01T05:30:00Z"), &new_york, now),
            "Sun 1 Nov, 01:30"
        );
        assert_eq!(
            local(at("2026-11-01T06:30:00Z"), &new_york, now),
            "Sun 1 Nov, 01:30"
        );
        let london = zone("Europe/London");
        assert_eq!(
            local(at("2026-07-01T12:00:00Z"), &london, now),
            "Wed 1 Jul, 13:00"
        );
        assert_eq!(
            local(at("2026-12-01T12:00:00Z"), &london, now),
            "Tue 1 Dec, 12:00"
        );
    }

    #[test]
    fn utc_is_written_second_unless_it_is_the_readers_zone() {
        let now = at(NOW);
        let deadline = at("2026-12-16T05:23:00Z");
        assert_eq!(utc(deadline), "2026-12-16 05:23 UTC");
        assert_eq!(
            local_and_utc(deadline, &zone("Asia/Dubai"), now),
            "Wed 16 Dec, 09:23 (2026-12-16 05:23 UTC)"
        );
        assert_eq!(
            local_and_utc(deadline, &TimeZone::UTC, now),
            "Wed 16 Dec, 05:23 UTC"
        );
    }

    #[test]
    fn a_zone_is_named_with_its_offset_now() {
        assert_eq!(
            zone_label(&zone("Asia/Dubai"), at(NOW)),
            "Asia/Dubai (UTC+04)"
        );
        assert_eq!(zone_label(&TimeZone::UTC, at(NOW)), "UTC");
        let new_york = zone("America/New_York");
        assert_eq!(zone_label(&new_york, at(NOW)), "America/New_York (UTC-05)");
        assert_eq!(
            zone_label(&new_york, at("2026-07-01T00:00:00Z")),
            "America/New_York (UTC-04)"
        );
        assert_eq!(
            zone_label(&zone("Asia/Kolkata"), at(NOW)),
            "Asia/Kolkata (UTC+05:30)"
        );
    }
}
