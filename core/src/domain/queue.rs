//! The work queue's question: which disputes, in which order. A filter is
//! read from the address's parameters (so a view can be bookmarked, shared
//! and saved), validated once, and written back to parameters for links,
//! saved views and the CSV export of the same list. Pure: "now" and "me"
//! are given by the caller.

use std::collections::BTreeMap;

use jiff::{civil::Date, tz::TimeZone, SignedDuration, Timestamp};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{ConnectionSlug, ProviderKind, Stage, Status};

/// The longest search text and reason code accepted.
const MAX_TEXT: usize = 200;

/// A deadline window, relative to now unless custom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeadlineWindow {
    Overdue,
    Within24Hours,
    Within72Hours,
    Within7Days,
    /// Due on these days (UTC), both included.
    Between(Option<Date>, Option<Date>),
}

impl DeadlineWindow {
    /// The deadlines inside the window as `[from, until)`; `None` is open.
    pub fn range(self, now: Timestamp) -> (Option<Timestamp>, Option<Timestamp>) {
        let ahead = |hours: i64| (Some(now), Some(now + SignedDuration::from_hours(hours)));
        match self {
            DeadlineWindow::Overdue => (None, Some(now)),
            DeadlineWindow::Within24Hours => ahead(24),
            DeadlineWindow::Within72Hours => ahead(72),
            DeadlineWindow::Within7Days => ahead(7 * 24),
            DeadlineWindow::Between(from, to) => (from.map(start_of), to.map(end_of)),
        }
    }

    fn name(self) -> &'static str {
        match self {
            DeadlineWindow::Overdue => "overdue",
            DeadlineWindow::Within24Hours => "24h",
            DeadlineWindow::Within72Hours => "72h",
            DeadlineWindow::Within7Days => "7d",
            DeadlineWindow::Between(..) => "custom",
        }
    }
}

/// The start of a UTC day.
fn start_of(day: Date) -> Timestamp {
    day.to_zoned(TimeZone::UTC)
        .map_or(Timestamp::MAX, |z| z.timestamp())
}

/// The start of the UTC day after.
fn end_of(day: Date) -> Timestamp {
    day.tomorrow().map_or(Timestamp::MAX, start_of)
}

/// Whose disputes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Assignee {
    #[default]
    Anyone,
    Me,
    Unassigned,
}

/// The orders the queue offers, each with its direction; missing values
/// (no deadline, no amount) always come last.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sort {
    /// Soonest deadline first; with any status, what needs a response
    /// comes before the rest (only it has deadlines).
    #[default]
    Deadline,
    /// Newest first.
    Opened,
    /// Oldest first.
    OpenedOldest,
    /// Most recently active first.
    LastEvent,
    /// Largest first (amounts of different currencies compare as numbers).
    Amount,
}

impl Sort {
    pub const ALL: [Sort; 5] = [
        Sort::Deadline,
        Sort::Opened,
        Sort::OpenedOldest,
        Sort::LastEvent,
        Sort::Amount,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Deadline => "deadline",
            Sort::Opened => "opened",
            Sort::OpenedOldest => "opened_oldest",
            Sort::LastEvent => "last_event",
            Sort::Amount => "amount",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Sort::Deadline => "deadline, soonest first",
            Sort::Opened => "opened, newest first",
            Sort::OpenedOldest => "opened, oldest first",
            Sort::LastEvent => "last event, newest first",
            Sort::Amount => "amount, largest first",
        }
    }

    fn parse(text: &str) -> Option<Sort> {
        Sort::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A sort key's value for one dispute: where a page ends, so the next one
/// starts right after it. `None` stands for a missing value (last).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortValue {
    Time(Option<Timestamp>),
    /// The deadline order: whether the dispute is past needing a response
    /// (those come last when any status is listed), and its deadline.
    Due {
        settled: bool,
        at: Option<Timestamp>,
    },
    Amount(Option<Decimal>),
}

/// Where a page of the queue ends: the sort it was made for, the last
/// row's sort value and id (which breaks ties, so equal values never lose
/// or repeat a row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCursor {
    pub sort: Sort,
    pub value: SortValue,
    pub id: i64,
}

impl QueueCursor {
    /// The position with its time as the database can hold it: a cursor
    /// comes from an address, which anyone can write.
    pub fn storable(self) -> Self {
        let time = |at: Option<Timestamp>| at.map(super::time::storable);
        let value = match self.value {
            SortValue::Time(at) => SortValue::Time(time(at)),
            SortValue::Due { settled, at } => SortValue::Due {
                settled,
                at: time(at),
            },
            amount @ SortValue::Amount(_) => amount,
        };
        Self { value, ..self }
    }
}

/// Which disputes the queue lists. Built by `from_params`; every field is
/// valid by then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueFilter {
    pub connection: Option<ConnectionSlug>,
    pub provider: Option<ProviderKind>,
    pub stage: Option<Stage>,
    /// `None`: any status. The default view asks for `NeedsResponse`.
    pub status: Option<Status>,
    pub deadline: Option<DeadlineWindow>,
    pub currency: Option<String>,
    pub amount_min: Option<Decimal>,
    pub amount_max: Option<Decimal>,
    pub assignee: Assignee,
    pub reason_code: Option<String>,
    /// Opened on these days (UTC), both included.
    pub opened_from: Option<Date>,
    pub opened_to: Option<Date>,
    /// A prefix of the dispute reference (PayerMax's case id, Botim
    /// Money's order), the merchant order or the original transaction.
    pub search: Option<String>,
    /// Only disputes whose provider's latest status-query answer disagrees
    /// with what the notifications said.
    pub disagreeing: bool,
    pub sort: Sort,
}

impl Default for QueueFilter {
    /// What needs a response, soonest deadline first.
    fn default() -> Self {
        Self {
            connection: None,
            provider: None,
            stage: None,
            status: Some(Status::NeedsResponse),
            deadline: None,
            currency: None,
            amount_min: None,
            amount_max: None,
            assignee: Assignee::Anyone,
            reason_code: None,
            opened_from: None,
            opened_to: None,
            search: None,
            disagreeing: false,
            sort: Sort::Deadline,
        }
    }
}

/// A parameter the queue cannot read: which (so the form can say it beside
/// its field), and why in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FilterError {
    pub field: String,
    pub message: String,
}

/// The parameter names, in the order links write them (each is a field
/// of the queue's filter form).
pub const NAMES: [&str; 17] = [
    "connection",
    "provider",
    "stage",
    "status",
    "deadline",
    "due_from",
    "due_to",
    "currency",
    "amount_min",
    "amount_max",
    "assignee",
    "reason_code",
    "opened_from",
    "opened_to",
    "q",
    "flag",
    "sort",
];

impl QueueFilter {
    /// Reads the address's parameters; empty values mean "not set", unknown
    /// names are ignored (the page's own, such as the cursor).
    pub fn from_params(params: &BTreeMap<String, String>) -> Result<Self, FilterError> {
        let get = |name: &str| params.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
        let bad = |name: &str, value: &str, expected: &str| FilterError {
            field: name.to_owned(),
            message: format!("{name} {value:?} is not {expected}"),
        };
        let date = |name: &str| -> Result<Option<Date>, FilterError> {
            get(name)
                .map(|v| super::time::day(v).map_err(|_| bad(name, v, "a date (yyyy-mm-dd)")))
                .transpose()
        };
        let amount = |name: &str| -> Result<Option<Decimal>, FilterError> {
            get(name)
                .map(|v| {
                    v.parse::<Decimal>()
                        .ok()
                        .filter(|d| !d.is_sign_negative())
                        .ok_or_else(|| bad(name, v, "an amount"))
                })
                .transpose()
        };
        let text = |name: &str| -> Result<Option<String>, FilterError> {
            match get(name) {
                Some(v) if v.chars().count() > MAX_TEXT || v.chars().any(char::is_control) => {
                    Err(FilterError {
                        field: name.to_owned(),
                        message: format!(
                            "{name} must be at most {MAX_TEXT} characters, without control characters"
                        ),
                    })
                }
                v => Ok(v.map(str::to_owned)),
            }
        };

        let deadline = match get("deadline") {
            None => None,
            Some("overdue") => Some(DeadlineWindow::Overdue),
            Some("24h") => Some(DeadlineWindow::Within24Hours),
            Some("72h") => Some(DeadlineWindow::Within72Hours),
            Some("7d") => Some(DeadlineWindow::Within7Days),
            Some("custom") => Some(DeadlineWindow::Between(date("due_from")?, date("due_to")?)),
            Some(v) => return Err(bad("deadline", v, "a deadline window")),
        };
        let status = match get("status") {
            None => Some(Status::NeedsResponse),
            Some("any") => None,
            Some(v) => Some(v.parse().map_err(|_| bad("status", v, "a status"))?),
        };
        let currency = match get("currency") {
            None => None,
            Some(v) if v.len() == 3 && v.chars().all(|c| c.is_ascii_alphabetic()) => {
                Some(v.to_ascii_uppercase())
            }
            Some(v) => return Err(bad("currency", v, "a three-letter currency code")),
        };
        let filter = Self {
            connection: get("connection")
                .map(|v| ConnectionSlug::parse(v).map_err(|_| bad("connection", v, "a connection")))
                .transpose()?,
            provider: get("provider")
                .map(|v| v.parse().map_err(|_| bad("provider", v, "a provider")))
                .transpose()?,
            stage: get("stage")
                .map(|v| v.parse().map_err(|_| bad("stage", v, "a stage")))
                .transpose()?,
            status,
            deadline,
            currency,
            amount_min: amount("amount_min")?,
            amount_max: amount("amount_max")?,
            assignee: match get("assignee") {
                None | Some("anyone") => Assignee::Anyone,
                Some("me") => Assignee::Me,
                Some("unassigned") => Assignee::Unassigned,
                Some(v) => return Err(bad("assignee", v, "me, unassigned or anyone")),
            },
            reason_code: text("reason_code")?,
            opened_from: date("opened_from")?,
            opened_to: date("opened_to")?,
            search: text("q")?,
            disagreeing: match get("flag") {
                None => false,
                Some("disagrees") => true,
                Some(v) => return Err(bad("flag", v, "disagrees")),
            },
            sort: match get("sort") {
                None => Sort::Deadline,
                Some(v) => Sort::parse(v).ok_or_else(|| bad("sort", v, "an order"))?,
            },
        };
        Ok(filter)
    }

    /// The parameters that read back as this filter (defaults left out).
    pub fn to_params(&self) -> Vec<(&'static str, String)> {
        let mut params: BTreeMap<&'static str, String> = BTreeMap::new();
        let mut put = |name: &'static str, value: Option<String>| {
            if let Some(value) = value {
                params.insert(name, value);
            }
        };
        put(
            "connection",
            self.connection.as_ref().map(|c| c.as_str().to_owned()),
        );
        put("provider", self.provider.map(|p| p.as_str().to_owned()));
        put("stage", self.stage.map(|s| s.as_str().to_owned()));
        put(
            "status",
            match self.status {
                Some(Status::NeedsResponse) => None,
                Some(status) => Some(status.as_str().to_owned()),
                None => Some("any".to_owned()),
            },
        );
        put("deadline", self.deadline.map(|w| w.name().to_owned()));
        if let Some(DeadlineWindow::Between(from, to)) = self.deadline {
            put("due_from", from.map(|d| d.to_string()));
            put("due_to", to.map(|d| d.to_string()));
        }
        put("currency", self.currency.clone());
        put("amount_min", self.amount_min.map(|a| a.to_string()));
        put("amount_max", self.amount_max.map(|a| a.to_string()));
        put(
            "assignee",
            match self.assignee {
                Assignee::Anyone => None,
                Assignee::Me => Some("me".to_owned()),
                Assignee::Unassigned => Some("unassigned".to_owned()),
            },
        );
        put("reason_code", self.reason_code.clone());
        put("opened_from", self.opened_from.map(|d| d.to_string()));
        put("opened_to", self.opened_to.map(|d| d.to_string()));
        put("q", self.search.clone());
        put("flag", self.disagreeing.then(|| "disagrees".to_owned()));
        put(
            "sort",
            (self.sort != Sort::Deadline).then(|| self.sort.as_str().to_owned()),
        );
        NAMES
            .iter()
            .filter_map(|name| params.remove_entry(name))
            .collect()
    }

    /// The parameters as an address's query string (`a=1&b=2`, encoded).
    pub fn query_string(&self) -> String {
        self.to_params()
            .iter()
            .map(|(name, value)| format!("{name}={}", encode(value)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The same filter for any status: what the counts per status are of.
    pub fn any_status(&self) -> Self {
        Self {
            status: None,
            ..self.clone()
        }
    }

    /// Opened times inside the filter as `[from, until)`.
    pub fn opened_range(&self) -> (Option<Timestamp>, Option<Timestamp>) {
        (self.opened_from.map(start_of), self.opened_to.map(end_of))
    }

    /// The sort value a dispute with these values has under this sort.
    pub fn sort_value(
        &self,
        needs_response: bool,
        deadline: Option<Timestamp>,
        opened_at: Timestamp,
        last_event_at: Timestamp,
        amount: Option<Decimal>,
    ) -> SortValue {
        match self.sort {
            Sort::Deadline => SortValue::Due {
                settled: !needs_response,
                at: deadline,
            },
            Sort::Opened | Sort::OpenedOldest => SortValue::Time(Some(opened_at)),
            Sort::LastEvent => SortValue::Time(Some(last_event_at)),
            Sort::Amount => SortValue::Amount(amount),
        }
    }
}

/// A query value as a form encodes it.
fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse(pairs: &[(&str, &str)]) -> Result<QueueFilter, FilterError> {
        QueueFilter::from_params(&params(pairs))
    }

    #[test]
    fn a_cursors_time_is_kept_within_what_the_database_holds() {
        let year_one: Timestamp = "0001-01-01T00:00:00Z".parse().unwrap();
        let now: Timestamp = "2026-12-02T14:00:00Z".parse().unwrap();
        let cursor = |value| QueueCursor {
            sort: Sort::Deadline,
            value,
            id: 7,
        };
        for (written, read) in [
            (
                SortValue::Time(Some(Timestamp::MIN)),
                SortValue::Time(Some(year_one)),
            ),
            (
                SortValue::Due {
                    settled: true,
                    at: Some(Timestamp::MIN),
                },
                SortValue::Due {
                    settled: true,
                    at: Some(year_one),
                },
            ),
            (SortValue::Time(Some(now)), SortValue::Time(Some(now))),
            (SortValue::Time(None), SortValue::Time(None)),
            (SortValue::Amount(None), SortValue::Amount(None)),
        ] {
            assert_eq!(cursor(written).storable(), cursor(read));
        }
    }

    #[test]
    fn no_parameters_ask_for_what_needs_a_response_soonest_first() {
        let filter = parse(&[]).unwrap();
        assert_eq!(filter, QueueFilter::default());
        assert_eq!(filter.status, Some(Status::NeedsResponse));
        assert_eq!(filter.sort, Sort::Deadline);
        assert!(filter.to_params().is_empty());
        assert_eq!(filter.query_string(), "");
    }

    #[test]
    fn every_parameter_is_read_and_written_back_the_same() {
        let all = [
            ("connection", "pingpong-main"),
            ("provider", "payermax"),
            ("stage", "pre_arbitration"),
            ("status", "won"),
            ("deadline", "custom"),
            ("due_from", "2026-01-02"),
            ("due_to", "2026-01-09"),
            ("currency", "PHP"),
            ("amount_min", "10.5"),
            ("amount_max", "20000"),
            ("assignee", "me"),
            ("reason_code", "13.1"),
            ("opened_from", "2025-12-01"),
            ("opened_to", "2025-12-31"),
            ("q", "O2023 &x"),
            ("flag", "disagrees"),
            ("sort", "amount"),
        ];
        let filter = parse(&all).unwrap();
        assert!(filter.disagreeing);
        assert_eq!(filter.provider, Some(ProviderKind::PayerMax));
        assert_eq!(filter.stage, Some(Stage::PreArbitration));
        assert_eq!(filter.status, Some(Status::Won));
        assert_eq!(filter.assignee, Assignee::Me);
        assert_eq!(filter.search.as_deref(), Some("O2023 &x"));
        assert_eq!(filter.sort, Sort::Amount);
        let written: Vec<(&str, String)> = filter.to_params();
        assert_eq!(
            written,
            all.iter()
                .map(|(k, v)| (*k, v.to_string()))
                .collect::<Vec<_>>()
        );
        assert!(filter.query_string().contains("q=O2023+%26x"));
    }

    #[test]
    fn any_status_and_the_relative_windows_round_trip() {
        for (status, window) in [
            ("any", "overdue"),
            ("under_review", "24h"),
            ("lost", "72h"),
            ("any", "7d"),
        ] {
            let filter = parse(&[("status", status), ("deadline", window)]).unwrap();
            let again = QueueFilter::from_params(
                &filter
                    .to_params()
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
            )
            .unwrap();
            assert_eq!(again, filter);
        }
        assert_eq!(parse(&[("status", "any")]).unwrap().status, None);
        assert_eq!(
            parse(&[("assignee", "unassigned")]).unwrap().assignee,
            Assignee::Unassigned
        );
    }

    #[test]
    fn empty_values_are_not_set_and_unknown_names_are_ignored() {
        let filter = parse(&[("provider", " "), ("after", "cursor"), ("currency", "")]).unwrap();
        assert_eq!(filter, QueueFilter::default());
        assert_eq!(
            parse(&[("currency", "php")]).unwrap().currency.as_deref(),
            Some("PHP")
        );
    }

    #[test]
    fn a_value_that_does_not_fit_is_refused_in_words() {
        for (pairs, message) in [
            (
                vec![("provider", "stripe")],
                "provider \"stripe\" is not a provider",
            ),
            (vec![("stage", "x")], "stage \"x\" is not a stage"),
            (vec![("status", "open")], "status \"open\" is not a status"),
            (
                vec![("deadline", "soon")],
                "deadline \"soon\" is not a deadline window",
            ),
            (
                vec![("deadline", "custom"), ("due_from", "tomorrow")],
                "due_from \"tomorrow\" is not a date (yyyy-mm-dd)",
            ),
            (
                vec![("currency", "US")],
                "currency \"US\" is not a three-letter currency code",
            ),
            (
                vec![("amount_min", "-1")],
                "amount_min \"-1\" is not an amount",
            ),
            (
                vec![("amount_max", "ten")],
                "amount_max \"ten\" is not an amount",
            ),
            (
                vec![("assignee", "bob")],
                "assignee \"bob\" is not me, unassigned or anyone",
            ),
            (
                vec![("opened_to", "2025-13-01")],
                "opened_to \"2025-13-01\" is not a date (yyyy-mm-dd)",
            ),
            (vec![("sort", "random")], "sort \"random\" is not an order"),
            (
                vec![("connection", "Not A Slug")],
                "connection \"Not A Slug\" is not a connection",
            ),
        ] {
            let refused = parse(&pairs).unwrap_err();
            assert_eq!(refused.message, message, "{pairs:?}");
            let field = pairs.last().unwrap().0;
            assert_eq!(refused.field, field, "said beside its own field");
        }
    }

    #[test]
    fn search_text_is_bounded_and_has_no_control_characters() {
        let long = "x".repeat(MAX_TEXT + 1);
        assert!(parse(&[("q", &long)]).is_err());
        assert!(parse(&[("q", &"x".repeat(MAX_TEXT))]).is_ok());
        assert!(parse(&[("q", "a\u{0}b")]).is_err());
        assert!(parse(&[("reason_code", "1\n2")]).is_err());
        assert!(parse(&[("flag", "agrees")]).is_err());
        assert_eq!(
            parse(&[("q", "  O1001  ")]).unwrap().search.as_deref(),
            Some("O1001")
        );
    }

    #[test]
    fn deadline_windows_are_ranges_from_now_and_custom_days_are_whole_utc_days() {
        let now: Timestamp = "2026-03-10T12:00:00Z".parse().unwrap();
        let t = |s: &str| Some(s.parse::<Timestamp>().unwrap());
        assert_eq!(DeadlineWindow::Overdue.range(now), (None, Some(now)));
        assert_eq!(
            DeadlineWindow::Within24Hours.range(now),
            (Some(now), t("2026-03-11T12:00:00Z"))
        );
        assert_eq!(
            DeadlineWindow::Within72Hours.range(now),
            (Some(now), t("2026-03-13T12:00:00Z"))
        );
        assert_eq!(
            DeadlineWindow::Within7Days.range(now),
            (Some(now), t("2026-03-17T12:00:00Z"))
        );
        let day = |s: &str| s.parse::<Date>().unwrap();
        assert_eq!(
            DeadlineWindow::Between(Some(day("2026-03-01")), Some(day("2026-03-02"))).range(now),
            (t("2026-03-01T00:00:00Z"), t("2026-03-03T00:00:00Z"))
        );
        assert_eq!(
            DeadlineWindow::Between(None, Some(day("2026-03-02"))).range(now),
            (None, t("2026-03-03T00:00:00Z"))
        );
        let opened = parse(&[("opened_from", "2026-02-01"), ("opened_to", "2026-02-28")]).unwrap();
        assert_eq!(
            opened.opened_range(),
            (t("2026-02-01T00:00:00Z"), t("2026-03-01T00:00:00Z"))
        );
    }

    #[test]
    fn each_sort_keys_on_its_own_value() {
        let deadline = "2026-03-10T12:00:00Z".parse().ok();
        let opened: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
        let last: Timestamp = "2026-03-05T00:00:00Z".parse().unwrap();
        let amount = Some(Decimal::new(12990, 2));
        let value = |sort: Sort| {
            QueueFilter {
                sort,
                ..QueueFilter::default()
            }
            .sort_value(true, deadline, opened, last, amount)
        };
        assert_eq!(
            value(Sort::Deadline),
            SortValue::Due {
                settled: false,
                at: deadline
            }
        );
        let settled = QueueFilter::default().sort_value(false, None, opened, last, amount);
        assert_eq!(
            settled,
            SortValue::Due {
                settled: true,
                at: None
            }
        );
        assert_eq!(value(Sort::Opened), SortValue::Time(Some(opened)));
        assert_eq!(value(Sort::OpenedOldest), SortValue::Time(Some(opened)));
        assert_eq!(value(Sort::LastEvent), SortValue::Time(Some(last)));
        assert_eq!(value(Sort::Amount), SortValue::Amount(amount));
        for sort in Sort::ALL {
            assert_eq!(Sort::parse(sort.as_str()), Some(sort));
        }
        assert_eq!(
            Sort::ALL.map(Sort::label),
            [
                "deadline, soonest first",
                "opened, newest first",
                "opened, oldest first",
                "last event, newest first",
                "amount, largest first",
            ]
        );
    }

    #[test]
    fn counts_are_of_the_same_filter_for_any_status() {
        let filter = parse(&[("provider", "pingpong"), ("status", "won")]).unwrap();
        let any = filter.any_status();
        assert_eq!(any.status, None);
        assert_eq!(any.provider, Some(ProviderKind::PingPong));
    }
}
