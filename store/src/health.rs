//! Provider health, per connection: when it last heard from its provider,
//! its deliveries by verdict over a day and a week, deliveries and refusals
//! per hour, and refused deliveries nobody has replayed yet.

use dispute_core::domain::{ProviderKind, Verdict};

use super::{Named, Store, StoreError};

/// One connection's health.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionHealth {
    pub slug: String,
    pub provider: ProviderKind,
    pub enabled: bool,
    pub last_received: Option<jiff::Timestamp>,
    pub last_accepted: Option<jiff::Timestamp>,
    /// Per verdict: (last 24 hours, last 7 days).
    pub verdicts: Vec<(Verdict, i64, i64)>,
    /// The last 24 hours, oldest first: (hour, deliveries, refused).
    pub hourly: Vec<(jiff::Timestamp, i64, i64)>,
    /// Refused deliveries no replay has made valid (or found recorded
    /// already): what a bulk replay of the connection would take.
    pub awaiting_replay: i64,
}

impl Store {
    pub async fn provider_health(&self) -> Result<Vec<ConnectionHealth>, StoreError> {
        let connections: Vec<(i64, String, Named<ProviderKind>, bool)> =
            sqlx::query_as("select id, slug, provider, enabled from connections order by slug")
                .fetch_all(&self.pool)
                .await?;
        let mut health = Vec::with_capacity(connections.len());
        for (id, slug, provider, enabled) in connections {
            let (last_received, last_accepted): (
                Option<jiff_sqlx::Timestamp>,
                Option<jiff_sqlx::Timestamp>,
            ) = sqlx::query_as(
                // Each the newest of its kind, read backwards along the
                // connection's index (an aggregate with a filter read all).
                "select (select received_at from notifications
                         where connection_id = $1 order by received_at desc limit 1),
                        (select received_at from notifications
                         where connection_id = $1 and verdict in ('valid', 'duplicate')
                         order by received_at desc limit 1)",
            )
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
            let verdicts: Vec<(Named<Verdict>, i64, i64)> = sqlx::query_as(
                "select verdict,
                        count(*) filter (where received_at > now() - interval '24 hours'),
                        count(*)
                 from notifications
                 where connection_id = $1 and received_at > now() - interval '7 days'
                 group by verdict order by count(*) desc, verdict",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
            let hourly: Vec<(jiff_sqlx::Timestamp, i64, i64)> = sqlx::query_as(
                "select hours.hour, count(n.id),
                        count(n.id) filter (where n.verdict not in ('valid', 'duplicate'))
                 from generate_series(date_trunc('hour', now(), 'UTC') - interval '23 hours',
                                      date_trunc('hour', now(), 'UTC'), interval '1 hour')
                          hours(hour)
                 left join notifications n on n.connection_id = $1
                     and n.received_at >= hours.hour
                     and n.received_at < hours.hour + interval '1 hour'
                 group by hours.hour order by hours.hour",
            )
            .bind(id)
            .fetch_all(&self.pool)
            .await?;
            let awaiting_replay: i64 = sqlx::query_scalar(
                "select count(*) from notifications n
                 where n.connection_id = $1 and n.verdict not in ('valid', 'duplicate')
                   and not exists (select from delivery_replays r
                                   where r.notification_id = n.id
                                     and r.outcome in ('new_event', 'already_recorded'))",
            )
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
            health.push(ConnectionHealth {
                slug,
                provider: provider.0,
                enabled,
                last_received: last_received.map(|t| t.to_jiff()),
                last_accepted: last_accepted.map(|t| t.to_jiff()),
                verdicts: verdicts
                    .into_iter()
                    .map(|(v, day, week)| (v.0, day, week))
                    .collect(),
                hourly: hourly
                    .into_iter()
                    .map(|(h, all, refused)| (h.to_jiff(), all, refused))
                    .collect(),
                awaiting_replay,
            });
        }
        Ok(health)
    }
}
