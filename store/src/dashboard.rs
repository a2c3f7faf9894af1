//! The dashboard's figures: open disputes by stage and status, the amount
//! at risk per currency, what is due within a week, outcomes over 90 days
//! by provider and by reason code, and disputes opened per week.

use dispute_core::domain::{Money, ProviderKind, Stage, Status};
use jiff_sqlx::ToSqlx;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Named, Store, StoreError};

/// Won, lost and expired disputes of one provider or reason code.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcomes {
    pub won: i64,
    pub lost: i64,
    pub expired: i64,
}

impl Outcomes {
    /// Won of those decided, in percent; `None` before anything is decided.
    pub fn win_rate(&self) -> Option<u8> {
        let decided = self.won + self.lost + self.expired;
        (decided > 0).then(|| ((self.won * 100 + decided / 2) / decided) as u8)
    }

    fn add(&mut self, status: Status, n: i64) {
        match status {
            Status::Won => self.won += n,
            Status::Lost => self.lost += n,
            Status::Expired => self.expired += n,
            _ => {}
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dashboard {
    /// Open (needs a response, under review, responded to) by stage and status.
    pub open: Vec<(Option<Stage>, Status, i64)>,
    pub at_risk: Vec<Money>,
    pub due_within_7_days: i64,
    pub by_provider: Vec<(ProviderKind, Outcomes)>,
    /// `None`: disputes whose provider gave no reason code.
    pub by_reason_code: Vec<(Option<String>, Outcomes)>,
    /// The Monday (UTC) each week starts, and how many disputes opened.
    pub opened_per_week: Vec<(jiff::civil::Date, i64)>,
    /// Up to which event this was computed (the cache's key).
    pub last_event_id: i64,
}

/// Decided disputes of one provider, reason code and status.
type OutcomeRow = (Named<ProviderKind>, Option<String>, Named<Status>, i64);

const OPEN: &str = "d.status in ('needs_response', 'under_review', 'responded')";
const DECIDED: &str = "d.status in ('won', 'lost', 'expired')";

impl Store {
    /// The figures last computed, and when; `None` before the first.
    pub async fn stored_dashboard(
        &self,
    ) -> Result<Option<(Dashboard, jiff::Timestamp)>, StoreError> {
        let row: Option<(sqlx::types::Json<Dashboard>, jiff_sqlx::Timestamp)> =
            sqlx::query_as("select figures, computed_at from dashboard_figures")
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(figures, at)| (figures.0, at.to_jiff())))
    }

    /// Keeps `figures`, computed at `at`, for every replica to show.
    pub async fn store_dashboard(
        &self,
        figures: &Dashboard,
        at: jiff::Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into dashboard_figures (figures, computed_at) values ($1, $2)
             on conflict (one) do update set figures = excluded.figures,
                 computed_at = excluded.computed_at",
        )
        .bind(sqlx::types::Json(figures))
        .bind(at.to_sqlx())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The id of the newest event: a dashboard computed at this id is
    /// still true of every event since (there are none).
    pub async fn last_event_id(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("select coalesce(max(id), 0) from dispute_events")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Every figure of the dashboard as of `now`, for the 12 weeks before it.
    pub async fn dashboard(&self, now: jiff::Timestamp) -> Result<Dashboard, StoreError> {
        let last_event_id = self.last_event_id().await?;
        let open: Vec<(Option<Named<Stage>>, Named<Status>, i64)> = sqlx::query_as(&format!(
            "select d.stage, d.status, count(*) from disputes d where {OPEN}
             group by 1, 2 order by 1, 2"
        ))
        .fetch_all(&self.pool)
        .await?;
        let at_risk: Vec<(String, Decimal)> = sqlx::query_as(&format!(
            "select d.currency, sum(d.amount) from disputes d
             where {OPEN} and d.currency is not null and d.amount is not null
             group by 1 order by 1"
        ))
        .fetch_all(&self.pool)
        .await?;
        let due_within_7_days: i64 = sqlx::query_scalar(
            "select count(*) from disputes d where d.status = 'needs_response'
             and coalesce(d.deadline, 'infinity'::timestamptz) >= $1
             and coalesce(d.deadline, 'infinity'::timestamptz) < $2",
        )
        .bind(now.to_sqlx())
        .bind((now + jiff::SignedDuration::from_hours(7 * 24)).to_sqlx())
        .fetch_one(&self.pool)
        .await?;
        let outcomes: Vec<OutcomeRow> = sqlx::query_as(&format!(
            "select c.provider, d.reason_code, d.status, count(*)
                 from disputes d join connections c on c.id = d.connection_id
                 where {DECIDED} and d.last_event_at >= $1
                 group by 1, 2, 3"
        ))
        .bind((now - jiff::SignedDuration::from_hours(90 * 24)).to_sqlx())
        .fetch_all(&self.pool)
        .await?;
        // Twelve whole weeks (Monday to Monday, UTC), the current one last,
        // a week without disputes counted as none.
        let weeks: Vec<(jiff_sqlx::Timestamp, i64)> = sqlx::query_as(
            "select w.start at time zone 'UTC', count(d.id)
             from generate_series(date_trunc('week', $1 at time zone 'UTC') - interval '11 weeks',
                                  date_trunc('week', $1 at time zone 'UTC'),
                                  interval '1 week') as w(start)
             left join disputes d on d.opened_at >= w.start at time zone 'UTC'
                 and d.opened_at < (w.start + interval '1 week') at time zone 'UTC'
             group by w.start order by w.start",
        )
        .bind(now.to_sqlx())
        .fetch_all(&self.pool)
        .await?;

        let mut by_provider: Vec<(ProviderKind, Outcomes)> = Vec::new();
        let mut by_reason_code: Vec<(Option<String>, Outcomes)> = Vec::new();
        for (Named(provider), code, Named(status), n) in outcomes {
            tally(&mut by_provider, provider, status, n);
            tally(&mut by_reason_code, code, status, n);
        }
        by_provider.sort_by_key(|(p, _)| ProviderKind::ALL.iter().position(|x| x == p));
        by_reason_code.sort_by(|(a, _), (b, _)| a.cmp(b));
        Ok(Dashboard {
            open: open
                .into_iter()
                .map(|(stage, status, n)| (stage.map(|s| s.0), status.0, n))
                .collect(),
            at_risk: at_risk
                .into_iter()
                .map(|(currency, sum)| Money::parse(&sum.to_string(), &currency))
                .collect::<Result<_, _>>()
                .map_err(StoreError::corrupt)?,
            due_within_7_days,
            by_provider,
            by_reason_code,
            opened_per_week: weeks
                .into_iter()
                .map(|(week, n)| (week.to_jiff().to_zoned(jiff::tz::TimeZone::UTC).date(), n))
                .collect(),
            last_event_id,
        })
    }
}

/// Adds `n` disputes of `status` to the outcomes of `key`.
fn tally<K: PartialEq>(outcomes: &mut Vec<(K, Outcomes)>, key: K, status: Status, n: i64) {
    match outcomes.iter_mut().find(|(k, _)| *k == key) {
        Some((_, o)) => o.add(status, n),
        None => {
            let mut o = Outcomes::default();
            o.add(status, n);
            outcomes.push((key, o));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_win_rate_is_won_of_decided_rounded() {
        assert_eq!(Outcomes::default().win_rate(), None);
        let o = Outcomes {
            won: 2,
            lost: 1,
            expired: 0,
        };
        assert_eq!(o.win_rate(), Some(67));
        let o = Outcomes {
            won: 1,
            lost: 1,
            expired: 1,
        };
        assert_eq!(o.win_rate(), Some(33));
        let mut o = Outcomes::default();
        o.add(Status::Won, 3);
        o.add(Status::NeedsResponse, 5);
        o.add(Status::Expired, 1);
        assert_eq!(
            (o.won, o.lost, o.expired, o.win_rate()),
            (3, 0, 1, Some(75))
        );
    }
}
