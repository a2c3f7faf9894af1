//! The deadlines board: what needs a response, in columns by how soon it
//! is due, each with its disputes (soonest first) and the amount at risk
//! per currency — read from the index of disputes that need a response.

use dispute_core::domain::{Money, Status};
use jiff_sqlx::ToSqlx;
use rust_decimal::Decimal;

use super::{
    disputes::{DisputeRow, DISPUTE_COLUMNS, DISPUTE_FROM},
    queue::DUE,
    DisputeRecord, Store, StoreError,
};

/// The board's columns, most urgent first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Column {
    Overdue,
    DueToday,
    Next3Days,
    Next7Days,
    /// Due after the seventh day.
    Later,
    /// Needs a response, but the provider gives no deadline.
    NoDeadline,
}

impl Column {
    pub const ALL: [Column; 6] = [
        Column::Overdue,
        Column::DueToday,
        Column::Next3Days,
        Column::Next7Days,
        Column::Later,
        Column::NoDeadline,
    ];

    fn name(self) -> &'static str {
        match self {
            Column::Overdue => "overdue",
            Column::DueToday => "today",
            Column::Next3Days => "three",
            Column::Next7Days => "seven",
            Column::Later => "later",
            Column::NoDeadline => "none",
        }
    }
}

/// Where the columns end: now, the end of the viewer's today, and the ends
/// of the third and seventh day after today.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoardBounds {
    pub now: jiff::Timestamp,
    pub end_of_today: jiff::Timestamp,
    pub end_of_3_days: jiff::Timestamp,
    pub end_of_7_days: jiff::Timestamp,
}

/// One column: how many disputes, the amount at risk per currency, and
/// the soonest of its disputes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BoardColumn {
    pub column: Column,
    pub count: i64,
    pub at_risk: Vec<Money>,
    pub disputes: Vec<DisputeRecord>,
}

impl Column {
    /// Where the column's deadlines lie, on the due index's expression,
    /// with the bounds `$1`…`$4`.
    fn range(self) -> String {
        match self {
            Column::Overdue => format!("{DUE} < $1"),
            Column::DueToday => format!("{DUE} >= $1 and {DUE} < $2"),
            Column::Next3Days => format!("{DUE} >= $2 and {DUE} < $3"),
            Column::Next7Days => format!("{DUE} >= $3 and {DUE} < $4"),
            Column::Later => format!("{DUE} >= $4 and {DUE} < 'infinity'"),
            Column::NoDeadline => format!("{DUE} = 'infinity'"),
        }
    }
}

/// Disputes that need a response (a literal, for the due index).
fn needs() -> String {
    format!("d.status = '{}'", Status::NeedsResponse.as_str())
}

impl Store {
    /// Every column of the board, with up to `shown` disputes each; each
    /// column is a range of the due index, its totals read from the index
    /// alone.
    pub async fn deadline_board(
        &self,
        bounds: BoardBounds,
        shown: i64,
    ) -> Result<Vec<BoardColumn>, StoreError> {
        let needs = needs();
        let totals_sql = Column::ALL
            .iter()
            .map(|column| {
                format!(
                    "select '{}' as board_column, d.currency, count(*), sum(d.amount)
                     from disputes d where {needs} and {} group by d.currency",
                    column.name(),
                    column.range()
                )
            })
            .collect::<Vec<_>>()
            .join(" union all ");
        // One snapshot, so every count agrees with its list. The planner
        // underestimates the overdue range and would visit the table page
        // by page; the covering index answers the sums alone.
        let mut tx = self.pool.begin().await?;
        for setting in [
            "set transaction isolation level repeatable read",
            "set local enable_bitmapscan = off",
            "set local enable_seqscan = off",
            // Starting parallel workers costs more than the scans they share.
            "set local max_parallel_workers_per_gather = 0",
        ] {
            sqlx::query(setting).execute(&mut *tx).await?;
        }
        let totals: Vec<(String, Option<String>, i64, Option<Decimal>)> =
            sqlx::query_as(&totals_sql)
                .bind(bounds.now.to_sqlx())
                .bind(bounds.end_of_today.to_sqlx())
                .bind(bounds.end_of_3_days.to_sqlx())
                .bind(bounds.end_of_7_days.to_sqlx())
                .fetch_all(&mut *tx)
                .await?;

        let mut columns = Vec::with_capacity(Column::ALL.len());
        for column in Column::ALL {
            let rows: Vec<DisputeRow> = sqlx::query_as(&format!(
                "select {} from {DISPUTE_FROM}
                 where {needs} and {}
                 order by {DUE}, d.id limit $5",
                *DISPUTE_COLUMNS,
                column.range()
            ))
            .bind(bounds.now.to_sqlx())
            .bind(bounds.end_of_today.to_sqlx())
            .bind(bounds.end_of_3_days.to_sqlx())
            .bind(bounds.end_of_7_days.to_sqlx())
            .bind(shown)
            .fetch_all(&mut *tx)
            .await?;
            let mut board = BoardColumn {
                column,
                count: 0,
                at_risk: Vec::new(),
                disputes: rows
                    .into_iter()
                    .map(TryInto::try_into)
                    .collect::<Result<_, _>>()?,
            };
            for (_, currency, count, sum) in totals.iter().filter(|t| t.0 == column.name()) {
                board.count += count;
                if let (Some(currency), Some(sum)) = (currency, sum) {
                    let money =
                        Money::parse(&sum.to_string(), currency).map_err(StoreError::corrupt)?;
                    board.at_risk.push(money);
                }
            }
            board.at_risk.sort_by(|a, b| a.currency().cmp(b.currency()));
            columns.push(board);
        }
        tx.commit().await?;
        Ok(columns)
    }
}
