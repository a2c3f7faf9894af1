//! The deadlines board: what needs a response, in columns by how soon it is
//! due — overdue, due today (in the viewer's time zone), in the next 3 and
//! the next 7 days, later — and a column for what needs a response although the
//! provider gives no deadline; each with its count and the amount at risk
//! per currency.

use leptos::prelude::*;

use super::{countdown, money, shown, when_in, PageHeading};
use crate::error::{AppError, InternalErrorPage};
use dispute_core::domain::ZoneName;
use dispute_store::{BoardBounds, BoardColumn, Column};

/// Disputes listed per column (the count and the amounts cover them all).
const SHOWN: i64 = 50;

/// The board's bounds for a viewer in `zone` at `now`: each column ends at
/// a local midnight.
pub fn bounds(now: jiff::Timestamp, zone: &ZoneName) -> BoardBounds {
    let tz = zone.zone();
    let today = now.to_zoned(tz.clone()).date();
    let midnight_after = |days: i64| {
        today
            .checked_add(jiff::Span::new().days(days))
            .ok()
            .and_then(|day| day.to_zoned(tz.clone()).ok())
            .map_or(jiff::Timestamp::MAX, |z| z.timestamp())
    };
    BoardBounds {
        now,
        end_of_today: midnight_after(1),
        end_of_3_days: midnight_after(4),
        end_of_7_days: midnight_after(8),
    }
}

pub async fn board() -> Result<(Vec<BoardColumn>, ZoneName), AppError> {
    let viewer = crate::auth::require(dispute_core::domain::Permission::ReadDisputes)?;
    let state = expect_context::<crate::state::AppState>();
    let bounds = bounds(jiff::Timestamp::now(), &viewer.timezone);
    Ok((
        state.store.deadline_board(bounds, SHOWN).await?,
        viewer.timezone,
    ))
}

fn title(column: Column) -> (&'static str, &'static str) {
    match column {
        Column::Overdue => ("Overdue", "warn"),
        Column::DueToday => ("Due today", "warn"),
        Column::Next3Days => ("Next 3 days", "soon"),
        Column::Next7Days => ("Next 7 days", ""),
        Column::Later => ("Later", ""),
        Column::NoDeadline => ("Needs a response, no deadline given", "warn"),
    }
}

#[component]
pub fn DeadlinesPage() -> impl IntoView {
    view! {
        <PageHeading title="Deadlines" />
        <Suspense>
            {Suspend::new(async move {
                match board().await {
                    Ok((columns, zone)) => view! {
                        <div class="board">
                            {columns
                                .into_iter()
                                .map(|c| view! { <BoardCard column=c zone=zone.clone() /> })
                                .collect_view()}
                        </div>
                    }
                    .into_any(),
                    Err(_) => view! { <InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn BoardCard(column: BoardColumn, zone: ZoneName) -> impl IntoView {
    let (name, urgency) = title(column.column);
    let now = jiff::Timestamp::now();
    let at_risk = match column.at_risk.is_empty() {
        true => "nothing at risk".to_owned(),
        false => column
            .at_risk
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" · "),
    };
    let more = column.count - column.disputes.len() as i64;
    view! {
        <section class=format!("panel column {urgency}") aria-label=name>
            <h2>{name} " " <span class="count">{column.count}</span></h2>
            <p class="at-risk">{at_risk}</p>
            <ul>
                {column
                    .disputes
                    .into_iter()
                    .map(|d| {
                        let link = crate::links::dispute(d.id);
                        let due = d.deadline.map(|at| {
                            let (text, urgency) = countdown(at, now);
                            view! {
                                <span class=format!("badge {urgency}")>{text}</span>
                                " "
                                <small>{when_in(at, &zone)}</small>
                            }
                        });
                        view! {
                            <li>
                                <a href=link><code>{shown(&d.dispute_ref)}</code></a>
                                " "
                                <span class="amount">{money(d.amount.as_ref())}</span>
                                <br />
                                <small>{d.connection_slug}</small>
                                " "
                                {due}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            {(more > 0).then(|| view! { <p><small>{format!("and {more} more")}</small></p> })}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_columns_end_at_the_viewers_midnights() {
        let now: jiff::Timestamp = "2026-03-10T22:30:00Z".parse().unwrap();
        let utc = bounds(now, &ZoneName::default());
        assert_eq!(utc.end_of_today.to_string(), "2026-03-11T00:00:00Z");
        assert_eq!(utc.end_of_3_days.to_string(), "2026-03-14T00:00:00Z");
        assert_eq!(utc.end_of_7_days.to_string(), "2026-03-18T00:00:00Z");
        // In Dubai (UTC+4) it is already the 11th.
        let dubai = bounds(now, &ZoneName::parse("Asia/Dubai").unwrap());
        assert_eq!(dubai.end_of_today.to_string(), "2026-03-11T20:00:00Z");
        assert_eq!(dubai.now, now);
    }
}
