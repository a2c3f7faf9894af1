//! One module per page: the component and the server functions it calls.

pub mod account;
pub mod audit;
pub mod connection;
pub mod connection_new;
pub mod connections;
pub mod dashboard;
pub mod deadlines;
pub mod decide;
pub mod deliveries;
pub mod delivery;
pub mod dispute;
pub mod disputes;
pub mod forbidden;
pub mod jobs;
pub mod letters;
pub mod login;
pub mod not_found;
pub mod providers;
pub mod queries;
pub mod rebuilds;
pub mod replays;
pub mod response;
pub mod setup;
pub mod users;

use leptos::prelude::*;
use leptos_meta::Title;

use crate::flash::FlashKind;
use dispute_core::domain::display_time;

/// The title and heading every page starts with. `<title>` is raw text
/// to the browser up to `</title>`, and Leptos writes it unescaped, so the
/// title is escaped here (a dispute reference or a name can be in it);
/// control characters show as their escapes.
#[component]
pub fn PageHeading(#[prop(into)] title: String) -> impl IntoView {
    let title = shown(&title);
    let escaped = html_escape::encode_text(&title).into_owned();
    view! {
        <Title text=format!("{escaped} · Dispute Desk") />
        <h1>{title}</h1>
    }
}

/// The outcome of the last form, which the guard took from the session for
/// this page (see `crate::flash`).
#[component]
pub fn FlashMessages() -> impl IntoView {
    crate::flash::current().map(|flash| match flash.kind {
        FlashKind::Notice => {
            view! { <p class="flash notice" role="status">{flash.message}</p> }.into_any()
        }
        FlashKind::Error => {
            view! { <p class="flash error" role="alert">{flash.message}</p> }.into_any()
        }
    })
}

/// A `<textarea>` holding `value`. The only way pages render one: the
/// browser reads a textarea's content as raw text up to `</textarea>`, and
/// Leptos writes it unescaped, so the value is escaped here.
#[component]
pub fn TextArea(
    name: &'static str,
    #[prop(into, optional)] value: String,
    #[prop(optional)] required: bool,
    /// For secrets: no autofill, no spell checking.
    #[prop(optional)]
    secret: bool,
) -> impl IntoView {
    let escaped = html_escape::encode_text(&value).into_owned();
    let autocomplete = secret.then_some("off");
    let spellcheck = secret.then_some("false");
    view! {
        <textarea
            name=name
            required=required
            autocomplete=autocomplete
            spellcheck=spellcheck
            inner_html=escaped
        ></textarea>
    }
}

/// Connections that usually hear from their provider and have heard nothing
/// for longer than their threshold; reconciliation asks about all their open
/// disputes meanwhile.
#[component]
pub fn SilenceWarning(silent: Vec<(String, jiff::Timestamp)>) -> impl IntoView {
    (!silent.is_empty()).then(|| {
        view! {
            <div class="panel conflict" role="alert">
                <p>
                    <span class="badge warn">"silent"</span>
                    " No notification has arrived lately from: "
                    {silent
                        .into_iter()
                        .map(|(slug, heard)| view! {
                            <code>{shown(&slug)}</code> {format!(" (last {}) ", when(heard))}
                        })
                        .collect_view()}
                    "Notifications may be getting lost. Where a connection has a status-query address, reconciliation asks its provider about all its open disputes."
                </p>
            </div>
        }
    })
}

/// What a page says while the capability behind it has nothing to show.
#[component]
pub fn Empty(children: Children) -> impl IntoView {
    view! { <p class="panel empty">{children()}</p> }
}

/// A table of records in a box of its own: a table wider than the screen
/// scrolls inside the box instead of widening the page, and the box takes
/// keyboard focus so it can be scrolled without a mouse.
#[component]
pub fn DataTable(#[prop(optional)] class: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="table-wrap" tabindex="0">
            <table class=format!("data {class}")>{children()}</table>
        </div>
    }
}

/// A list a server function returned: its table, a sentence when it is
/// empty, or the error page.
pub fn list_or_empty<T, V: IntoView + 'static>(
    result: Result<Vec<T>, crate::error::AppError>,
    empty: &'static str,
    table: impl FnOnce(Vec<T>) -> V,
) -> AnyView {
    match result {
        Ok(list) if list.is_empty() => view! { <Empty>{empty}</Empty> }.into_any(),
        Ok(list) => table(list).into_any(),
        Err(_) => view! { <crate::error::InternalErrorPage /> }.into_any(),
    }
}

/// The page address's query parameters (the last value of each name),
/// decoded once. (Leptos' own query map decodes its values a second time,
/// so a search for `%2F` would read `/`.)
pub fn query_params() -> std::collections::BTreeMap<String, String> {
    let search = leptos_router::hooks::use_location().search.get_untracked();
    form_urlencoded::parse(search.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// A list position as it travels in a link: opaque to people, read back
/// only as the type that wrote it.
pub fn cursor_text<T: serde::Serialize>(position: &T) -> String {
    use base64::Engine;
    let json = serde_json::to_vec(position).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

/// The position `cursor_text` wrote; `None` for anything else.
pub fn cursor_from<T: for<'de> serde::Deserialize<'de>>(text: &str) -> Option<T> {
    use base64::Engine;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()?;
    serde_json::from_slice(&json).ok()
}

/// The zone the signed-in person reads times in, found once per page (see
/// `App`), since every time on it asks.
#[derive(Clone)]
pub struct ViewerZone(pub jiff::tz::TimeZone);

/// The zone the signed-in person reads times in (UTC before sign-in).
pub fn viewer_zone() -> jiff::tz::TimeZone {
    use_context::<ViewerZone>().map_or(jiff::tz::TimeZone::UTC, |z| z.0)
}

/// A time as the viewer reads it, in their zone: `Tue 16 Dec, 09:23`.
pub fn when(at: jiff::Timestamp) -> String {
    display_time::local(at, &viewer_zone(), jiff::Timestamp::now())
}

/// A moment people in different zones must agree on (a deadline), in the
/// viewer's zone with UTC beside it: `Tue 16 Dec, 09:23 (2026-12-16 05:23
/// UTC)`.
pub fn when_in(at: jiff::Timestamp, zone: &dispute_core::domain::ZoneName) -> String {
    display_time::local_and_utc(at, &zone.zone(), jiff::Timestamp::now())
}

/// A time in a table or a sentence: in the viewer's zone, with UTC on
/// hover and the exact moment for machines.
#[component]
pub fn Time(at: jiff::Timestamp) -> impl IntoView {
    view! {
        <time datetime=at.to_string() title=display_time::utc(at)>
            {when(at)}
        </time>
    }
}

/// A day in a crowded table: the day in the viewer's zone, with the clock
/// time and UTC on hover.
#[component]
pub fn Day(at: jiff::Timestamp) -> impl IntoView {
    let title = format!("{} ({})", when(at), display_time::utc(at));
    view! {
        <time datetime=at.to_string() title=title>
            {display_time::day(at, &viewer_zone(), jiff::Timestamp::now())}
        </time>
    }
}

/// A verdict as a badge, the same everywhere: green when the provider got
/// its acknowledgement, red when it did not.
#[component]
pub fn VerdictBadge(verdict: dispute_core::domain::Verdict) -> impl IntoView {
    let class = match verdict.is_accepted() {
        true => "badge ok",
        false => "badge warn",
    };
    view! { <span class=class>{verdict.label()}</span> }
}

/// An amount as the tables show it: its currency's minor units, e.g.
/// `129.90 USD`; empty when there is none.
pub fn money(amount: Option<&dispute_core::domain::Money>) -> String {
    amount.map(ToString::to_string).unwrap_or_default()
}

/// How long until `deadline` (or how long past it), in words, with its
/// urgency class: `warn` when past or within a day, `soon` within three days.
pub fn countdown(deadline: jiff::Timestamp, now: jiff::Timestamp) -> (String, &'static str) {
    let left = deadline.duration_since(now);
    let minutes = left.as_secs().unsigned_abs() / 60;
    let (days, hours, minutes) = (minutes / (24 * 60), minutes / 60 % 24, minutes % 60);
    // The finer unit only while it matters: minutes within a day, hours
    // within three days.
    let span = match (days, hours) {
        (0, 0) => format!("{minutes} min"),
        (0, _) => format!("{hours} h {minutes} min"),
        (1..=2, _) => format!("{days} d {hours} h"),
        _ => format!("{days} d"),
    };
    let hours_left = left.as_secs() / 3600;
    if left.is_negative() {
        (format!("overdue by {span}"), "warn")
    } else if hours_left < 24 {
        (format!("due in {span}"), "warn")
    } else if hours_left < 72 {
        (format!("due in {span}"), "soon")
    } else {
        (format!("due in {span}"), "")
    }
}

/// A provider's text as a page shows it: a control character, which HTML
/// cannot carry, is written as its escape (`\u{7}`) so it stays visible.
pub fn shown(text: &str) -> String {
    text.chars()
        .map(|c| match c.is_control() {
            true => c.escape_unicode().to_string(),
            false => c.to_string(),
        })
        .collect()
}

/// A multi-line text as shown (a note, a raw body): line breaks and tabs
/// kept, any other control character written as its escape.
pub fn shown_lines(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => c.to_string(),
            c if c.is_control() => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// A stage or status as analysts read it.
pub fn label(
    stage: Option<dispute_core::domain::Stage>,
    status: Option<dispute_core::domain::Status>,
) -> (&'static str, &'static str) {
    (
        stage.map_or("—", |s| s.label()),
        status.map_or("—", |s| s.label()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::{SignedDuration, Timestamp};

    #[test]
    fn a_deadline_is_shown_in_the_viewers_zone_with_utc_beside_it() {
        use dispute_core::domain::ZoneName;
        let at: Timestamp = "2023-04-05T23:59:59Z".parse().unwrap();
        assert_eq!(
            when_in(at, &ZoneName::default()),
            "Wed 5 Apr 2023, 23:59 UTC"
        );
        assert_eq!(
            when_in(at, &ZoneName::parse("Asia/Dubai").unwrap()),
            "Thu 6 Apr 2023, 03:59 (2023-04-05 23:59 UTC)"
        );
    }

    #[test]
    fn control_characters_are_shown_as_their_escapes_and_the_rest_as_it_is() {
        assert_eq!(shown("a\u{7}b\nc"), "a\\u{7}b\\u{a}c");
        assert_eq!(shown("20,000.00 PHP <b>é</b>"), "20,000.00 PHP <b>é</b>");
    }

    #[test]
    fn multi_line_text_keeps_its_lines_and_shows_other_control_characters_escaped() {
        assert_eq!(
            shown_lines("{\n\t\"a\": 1\u{0}\r}"),
            "{\n\t\"a\": 1\\u{0}\\u{d}}"
        );
    }

    #[test]
    fn a_countdown_says_how_long_is_left_and_how_urgent_it_is() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let at = |minutes: i64| now + SignedDuration::from_mins(minutes);
        assert_eq!(
            countdown(at(-90), now),
            ("overdue by 1 h 30 min".into(), "warn")
        );
        assert_eq!(countdown(at(0), now), ("due in 0 min".into(), "warn"));
        assert_eq!(countdown(at(59), now), ("due in 59 min".into(), "warn"));
        assert_eq!(
            countdown(at(23 * 60 + 59), now),
            ("due in 23 h 59 min".into(), "warn")
        );
        assert_eq!(
            countdown(at(24 * 60), now),
            ("due in 1 d 0 h".into(), "soon")
        );
        assert_eq!(
            countdown(at(72 * 60 - 1), now),
            ("due in 2 d 23 h".into(), "soon")
        );
        assert_eq!(countdown(at(72 * 60), now), ("due in 3 d".into(), ""));
        assert_eq!(
            countdown(at(9 * 24 * 60 + 21 * 60), now),
            ("due in 9 d".into(), "")
        );
        assert_eq!(
            countdown(at(-(2 * 24 * 60 + 5 * 60)), now),
            ("overdue by 2 d 5 h".into(), "warn")
        );
        assert_eq!(
            countdown(at(-3 * 24 * 60), now),
            ("overdue by 3 d".into(), "warn")
        );
    }
}
