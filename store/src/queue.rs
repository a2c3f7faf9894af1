//! The work queue: disputes matching a `QueueFilter`, a keyset page at a
//! time in the filter's order, and how many there are per status (exact up
//! to a bound, estimated from a sample beyond it, so a million disputes
//! count as fast as a hundred).

use dispute_core::domain::{Assignee, QueueCursor, QueueFilter, Sort, SortValue, Stage, Status};
use jiff_sqlx::ToSqlx;
use sqlx::{Postgres, QueryBuilder};

use super::{
    disputes::{DisputeRow, DISPUTE_COLUMNS, DISPUTE_FROM},
    DisputeRecord, Named, Store, StoreError,
};

/// The deadline as the indexes hold it: a missing one sorts last.
pub(super) const DUE: &str = "coalesce(d.deadline, 'infinity'::timestamptz)";

/// Up to this many matching disputes are counted exactly.
const EXACT_COUNT_BOUND: i64 = 5_000;
/// Beyond it, about this many rows are sampled.
const SAMPLED_ROWS: f64 = 20_000.0;

/// How many disputes of the filter have each status, each marked when it
/// is an estimate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusCounts {
    /// `None`: disputes without a status yet (only unrecognized events).
    counts: Vec<(Option<Status>, i64, bool)>,
}

impl StatusCounts {
    pub fn of(&self, status: Status) -> i64 {
        self.count(Some(status)).0
    }

    /// How many have `status`, and whether that is an estimate.
    pub fn count(&self, status: Option<Status>) -> (i64, bool) {
        self.counts
            .iter()
            .find(|(s, ..)| *s == status)
            .map_or((0, false), |(_, n, estimated)| (*n, *estimated))
    }

    pub fn without_status(&self) -> i64 {
        self.count(None).0
    }

    pub fn total(&self) -> i64 {
        self.counts.iter().map(|(_, n, _)| n).sum()
    }

    /// Whether any figure (and so the total) is an estimate.
    pub fn estimated(&self) -> bool {
        self.counts.iter().any(|(.., estimated)| *estimated)
    }

    fn from_rows(rows: Vec<(Option<Named<Status>>, i64)>, estimated: bool, scale: f64) -> Self {
        Self {
            counts: rows
                .into_iter()
                .map(|(status, n)| (status.map(|s| s.0), scaled(n, scale), estimated))
                .collect(),
        }
    }
}

impl DisputeRecord {
    /// Where a page ending with this dispute ends, for `filter`'s order.
    pub fn cursor(&self, filter: &QueueFilter) -> QueueCursor {
        QueueCursor {
            sort: filter.sort,
            value: filter.sort_value(
                self.status == Some(Status::NeedsResponse),
                self.deadline,
                self.opened_at,
                self.last_event_at,
                self.amount.as_ref().map(|m| m.amount()),
            ),
            id: self.id,
        }
    }
}

/// A cursor that does not belong to the filter's order.
#[derive(Debug, thiserror::Error)]
#[error("that page of the list does not exist")]
pub struct CursorMismatch;

/// The `where` clause of a filter; every value from the address is bound.
fn push_filter(
    sql: &mut QueryBuilder<'_, Postgres>,
    filter: &QueueFilter,
    viewer: i64,
    now: jiff::Timestamp,
) {
    sql.push(" where true");
    if let Some(connection) = &filter.connection {
        sql.push(" and c.slug = ")
            .push_bind(connection.as_str().to_owned());
    }
    if let Some(provider) = filter.provider {
        sql.push(" and c.provider = ").push_bind(provider.as_str());
    }
    // Stage and status names are the enums' own constants, written as
    // literals so the planner can use the partial index of the default view.
    if let Some(stage) = filter.stage {
        sql.push(format_args!(" and d.stage = '{}'", Stage::as_str(stage)));
    }
    if let Some(status) = filter.status {
        sql.push(format_args!(" and d.status = '{}'", Status::as_str(status)));
    }
    // Only what needs a response has a deadline (the fold keeps none
    // otherwise): saying so, on the expression of the status-first index,
    // makes a window an index range, for the counts over any status too.
    if let Some(window) = filter.deadline {
        let (from, until) = window.range(now);
        sql.push(format_args!(
            " and d.deadline is not null and d.status = '{}'",
            Status::NeedsResponse.as_str()
        ));
        if let Some(from) = from {
            sql.push(format_args!(" and {DUE} >= "))
                .push_bind(from.to_sqlx());
        }
        if let Some(until) = until {
            sql.push(format_args!(" and {DUE} < "))
                .push_bind(until.to_sqlx());
        }
    }
    if let Some(currency) = &filter.currency {
        sql.push(" and d.currency = ").push_bind(currency.clone());
    }
    if let Some(min) = filter.amount_min {
        sql.push(" and d.amount >= ").push_bind(min);
    }
    if let Some(max) = filter.amount_max {
        sql.push(" and d.amount <= ").push_bind(max);
    }
    match filter.assignee {
        Assignee::Anyone => {}
        Assignee::Me => {
            sql.push(" and d.assignee_id = ").push_bind(viewer);
        }
        Assignee::Unassigned => {
            sql.push(" and d.assignee_id is null");
        }
    }
    if let Some(code) = &filter.reason_code {
        sql.push(" and d.reason_code = ").push_bind(code.clone());
    }
    if filter.disagreeing {
        // An outcome a query recovered, which the dispute now has, is news
        // rather than an alarm (see `QueryConflict::is_recovered_outcome`).
        let finals = Status::ALL
            .iter()
            .filter(|s| s.is_final())
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        sql.push(format_args!(
            " and d.query_conflict is not null and not coalesce(d.status in ({finals}) \
             and d.status = d.query_conflict->>'provider_status', false)"
        ));
    }
    let (opened_from, opened_until) = filter.opened_range();
    if let Some(from) = opened_from {
        sql.push(" and d.opened_at >= ").push_bind(from.to_sqlx());
    }
    if let Some(until) = opened_until {
        sql.push(" and d.opened_at < ").push_bind(until.to_sqlx());
    }
    if let Some(search) = &filter.search {
        let prefix = format!("{}%", escape_like(search));
        sql.push(" and (d.dispute_ref like ")
            .push_bind(prefix.clone())
            .push(" or d.payment_reference like ")
            .push_bind(prefix.clone())
            .push(" or d.merchant_reference like ")
            .push_bind(prefix)
            .push(")");
    }
}

/// `text` matched literally by `like` (its default escape is `\`).
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Whether a dispute is past needing a response: the deadline order over
/// any status puts those last (they have no deadline).
/// (`is distinct from`: a dispute without a status yet is never null here.)
const SETTLED: &str = "(d.status is distinct from 'needs_response')";

/// The sort expression (without the id that breaks ties), its direction
/// and the comparison that continues after a cursor; each matches an index
/// of `migrations/…_desk.sql` — under one status the deadline order is that
/// of the status-first index, over any status that of the settled-first one.
fn order(filter: &QueueFilter) -> (Vec<&'static str>, &'static str, &'static str) {
    let (expression, direction, comparison) = match filter.sort {
        Sort::Deadline if filter.status.is_none() => {
            return (vec![SETTLED, DUE], "asc", ">");
        }
        Sort::Deadline => (DUE, "asc", ">"),
        Sort::Opened => ("d.opened_at", "desc", "<"),
        Sort::OpenedOldest => ("d.opened_at", "asc", ">"),
        Sort::LastEvent => ("d.last_event_at", "desc", "<"),
        Sort::Amount => ("coalesce(d.amount, '-Infinity'::numeric)", "desc", "<"),
    };
    (vec![expression], direction, comparison)
}

fn push_after(
    sql: &mut QueryBuilder<'_, Postgres>,
    filter: &QueueFilter,
    after: &QueueCursor,
) -> Result<(), CursorMismatch> {
    let (expressions, _, comparison) = order(filter);
    let expression = expressions.join(", ");
    sql.push(format_args!(" and ({expression}, d.id) {comparison} ("));
    match (filter.sort, &after.value) {
        (Sort::Deadline, SortValue::Due { settled, at }) => {
            if filter.status.is_none() {
                sql.push_bind(*settled).push(", ");
            }
            sql.push("coalesce(")
                .push_bind(at.map(|t| t.to_sqlx()))
                .push("::timestamptz, 'infinity'::timestamptz)");
        }
        (Sort::Opened | Sort::OpenedOldest | Sort::LastEvent, SortValue::Time(Some(at))) => {
            sql.push_bind(at.to_sqlx());
        }
        (Sort::Amount, SortValue::Amount(amount)) => {
            sql.push("coalesce(")
                .push_bind(*amount)
                .push("::numeric, '-Infinity'::numeric)");
        }
        _ => return Err(CursorMismatch),
    }
    sql.push(", ").push_bind(after.id).push(")");
    Ok(())
}

impl Store {
    /// Up to `limit` disputes of `filter` after `after`, in the filter's
    /// order; `viewer` is who "me" is, `now` what deadline windows count from.
    pub async fn work_queue(
        &self,
        filter: &QueueFilter,
        viewer: i64,
        now: jiff::Timestamp,
        after: Option<&QueueCursor>,
        limit: i64,
    ) -> Result<Result<Vec<DisputeRecord>, CursorMismatch>, StoreError> {
        let mut sql = QueryBuilder::new(format!("select {} from {DISPUTE_FROM}", *DISPUTE_COLUMNS));
        push_filter(&mut sql, filter, viewer, now);
        if let Some(after) = after {
            if after.sort != filter.sort {
                return Ok(Err(CursorMismatch));
            }
            if let Err(e) = push_after(&mut sql, filter, after) {
                return Ok(Err(e));
            }
        }
        let (expressions, direction, _) = order(filter);
        let ordered = expressions
            .iter()
            .map(|part| format!("{part} {direction}"))
            .collect::<Vec<_>>()
            .join(", ");
        sql.push(format_args!(" order by {ordered}, d.id {direction} limit "))
            .push_bind(limit);
        let rows: Vec<DisputeRow> = sql.build_query_as().fetch_all(&self.pool).await?;
        let records = rows
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Ok(records))
    }

    /// How many disputes of `filter` (whatever its status) have each
    /// status: exact while at most `EXACT_COUNT_BOUND` match in all (one
    /// bounded read), otherwise all estimated from a sample of the table.
    /// (Counting each status exactly up to a bound cost a selective filter
    /// a scan of every status: 150 ms at a million disputes.)
    pub async fn status_counts(
        &self,
        filter: &QueueFilter,
        viewer: i64,
        now: jiff::Timestamp,
    ) -> Result<StatusCounts, StoreError> {
        let filter = filter.any_status();
        // Unfiltered counts skip the join: it costs a hash join over every
        // dispute counted.
        let join = match filter.connection.is_some() || filter.provider.is_some() {
            true => " join connections c on c.id = d.connection_id",
            false => "",
        };
        let mut sql = QueryBuilder::new(format!(
            "select status, count(*) as n from (select d.status from disputes d{join}"
        ));
        push_filter(&mut sql, &filter, viewer, now);
        sql.push(" limit ")
            .push_bind(EXACT_COUNT_BOUND + 1)
            .push(") s group by status");
        let exact: Vec<(Option<Named<Status>>, i64)> =
            sql.build_query_as().fetch_all(&self.pool).await?;
        if exact.iter().map(|(_, n)| n).sum::<i64>() <= EXACT_COUNT_BOUND {
            return Ok(StatusCounts::from_rows(exact, false, 1.0));
        }

        let rows: f32 = sqlx::query_scalar(
            "select greatest(reltuples, 1)::real from pg_class where oid = 'disputes'::regclass",
        )
        .fetch_one(&self.pool)
        .await?;
        let percent = (SAMPLED_ROWS * 100.0 / f64::from(rows)).clamp(0.01, 100.0);
        let mut sql = QueryBuilder::new(
            "select d.status, count(*) as n from disputes d tablesample system (",
        );
        sql.push_bind(percent as f32).push(")").push(join);
        push_filter(&mut sql, &filter, viewer, now);
        sql.push(" group by d.status");
        let sampled: Vec<(Option<Named<Status>>, i64)> =
            sql.build_query_as().fetch_all(&self.pool).await?;
        Ok(StatusCounts::from_rows(sampled, true, 100.0 / percent))
    }
}

fn scaled(n: i64, scale: f64) -> i64 {
    (n as f64 * scale).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_in_a_search_are_matched_literally() {
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(escape_like("O1001"), "O1001");
    }

    #[test]
    fn counts_say_which_figures_are_estimates_and_total_them() {
        let c = StatusCounts {
            counts: vec![
                (Some(Status::NeedsResponse), 3, false),
                (Some(Status::Won), 9000, true),
                (None, 1, false),
            ],
        };
        assert_eq!((c.of(Status::NeedsResponse), c.of(Status::Lost)), (3, 0));
        assert_eq!(c.count(Some(Status::Won)), (9000, true));
        assert_eq!((c.without_status(), c.total()), (1, 9004));
        assert!(c.estimated());
        assert_eq!(scaled(7, 12.5), 88);
    }
}
