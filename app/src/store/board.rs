//! The deadlines board: what needs a response, in columns by how soon it
//! is due, each with its disputes (soonest first) and the amount at risk
//! per currency — read from the index of disputes that need a response.

use dispute_core::domain::{Money, Status};
use jiff_sqlx::ToSqlx;
use rust_decimal::Decimal;

use super::{
    disputes::{DisputeRow, DISPUTE_COLUMNS, DISPUTE_FROM},
    DisputeRecord, Store, StoreError,
};

/// The board's columns, most urgent first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Column {
    Overdue,
    DueToday,
    Next3Days,
    Next7Days,
    /// Needs a response, but the provider gives no deadline.
    NoDeadline,
}

impl Column {
    pub const ALL: [Column; 5] = [
        Column::Overdue,
        Column::DueToday,
        Column::Next3Days,
        Column::Next7Days,
        Column::NoDeadline,
    ];

    fn name(self) -> &'static str {
        match self {
            Column::Overdue => "overdue",
            Column::DueToday => "today",
            Column::Next3Days => "three",
            Column::Next7Days => "seven",
            Column::NoDeadline => "none",
        }
    }

    fn named(name: &str) -> Option<Column> {
        Column::ALL.into_iter().find(|c| c.name() == name)
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

/// The expression the due index is on.
const DUE: &str = "coalesce(d.deadline, 'infinity'::timestamptz)";

/// The column of a row, as SQL, for the bounds `$1`…`$4`.
fn column_case() -> String {
    format!(
        "case when {DUE} = 'infinity' then 'none' when {DUE} < $1 then 'overdue'
              when {DUE} < $2 then 'today' when {DUE} < $3 then 'three' else 'seven' end"
    )
}

impl Store {
    /// Every column of the board, with up to `shown` disputes each.
    pub async fn deadline_board(
        &self,
        bounds: BoardBounds,
        shown: i64,
    ) -> Result<Vec<BoardColumn>, StoreError> {
        let case = column_case();
        let needs = format!("d.status = '{}'", Status::NeedsResponse.as_str());
        let range = format!("({DUE} < $4 or {DUE} = 'infinity')");
        let totals_sql = format!(
            "select {case} as column, d.currency, count(*), sum(d.amount)
             from disputes d where {needs} and {range}
             group by 1, 2 order by 1, 2"
        );
        let totals: Vec<(String, Option<String>, i64, Option<Decimal>)> =
            sqlx::query_as(&totals_sql)
                .bind(bounds.now.to_sqlx())
                .bind(bounds.end_of_today.to_sqlx())
                .bind(bounds.end_of_3_days.to_sqlx())
                .bind(bounds.end_of_7_days.to_sqlx())
                .fetch_all(&self.pool)
                .await?;

        let rows: Vec<BoardRow> = sqlx::query_as(&format!(
            "select * from (
                 select {case} as board_column, {DISPUTE_COLUMNS},
                        row_number() over (partition by {case} order by {DUE}, d.id) as place
                 from {DISPUTE_FROM} where {needs} and {range}
             ) ranked where place <= $5 order by place"
        ))
        .bind(bounds.now.to_sqlx())
        .bind(bounds.end_of_today.to_sqlx())
        .bind(bounds.end_of_3_days.to_sqlx())
        .bind(bounds.end_of_7_days.to_sqlx())
        .bind(shown)
        .fetch_all(&self.pool)
        .await?;

        let mut columns: Vec<BoardColumn> = Column::ALL
            .into_iter()
            .map(|column| BoardColumn {
                column,
                count: 0,
                at_risk: Vec::new(),
                disputes: Vec::new(),
            })
            .collect();
        let of = |columns: &[BoardColumn], name: &str| -> Result<usize, StoreError> {
            let column = Column::named(name)
                .ok_or_else(|| StoreError::corrupt(format!("board column {name:?}")))?;
            Ok(columns.iter().position(|c| c.column == column).unwrap_or(0))
        };
        for (name, currency, count, sum) in totals {
            let i = of(&columns, &name)?;
            columns[i].count += count;
            if let (Some(currency), Some(sum)) = (currency, sum) {
                let money =
                    Money::parse(&sum.to_string(), &currency).map_err(StoreError::corrupt)?;
                columns[i].at_risk.push(money);
            }
        }
        for row in rows {
            let i = of(&columns, &row.board_column)?;
            columns[i].disputes.push(row.dispute.try_into()?);
        }
        Ok(columns)
    }
}

#[derive(sqlx::FromRow)]
struct BoardRow {
    board_column: String,
    #[sqlx(flatten)]
    dispute: DisputeRow,
}
