//! Jobs, for ops: what the job system is doing and has done — each job's
//! kind, what it is about, where it is in its life, its attempts and its
//! last error; the periodic ones' single rows show their latest run.

use dispute_core::domain::JobState;
use leptos::prelude::*;
use leptos_meta::Meta;

use super::{list_or_empty, shown, when, DataTable, PageHeading};
use crate::error::AppError;
use dispute_store::JobRecord;

/// Jobs listed of each: waiting or running, and ended.
const SHOWN: i64 = 100;

pub async fn jobs() -> Result<Vec<JobRecord>, AppError> {
    crate::auth::require(dispute_core::domain::Permission::ReadDeliveries)?;
    let state = expect_context::<crate::state::AppState>();
    Ok(state.store.jobs(SHOWN).await?)
}

#[component]
pub fn JobsPage() -> impl IntoView {
    view! {
        <PageHeading title="Jobs" />
        <p>
            "What must happen once, whatever replica runs it: status queries, reconciliation, rebuilds, bulk replays, retention, the dashboard's figures and the sweep of expired sessions. A job whose runner stops is taken over after a minute; a failed attempt is tried again, later each time, until its attempts are used up."
        </p>
        <Suspense>
            {Suspend::new(async move {
                list_or_empty(jobs().await, "No job has been asked for yet.", |list| {
                    let busy = list.iter().any(|j| j.state == JobState::Running);
                    view! {
                        {busy.then(|| view! { <Meta http_equiv="refresh" content="5" /> })}
                        <DataTable>
                            <thead>
                                <tr>
                                    <th>"Job"</th>
                                    <th>"About"</th>
                                    <th>"State"</th>
                                    <th>"Attempts"</th>
                                    <th>"When"</th>
                                    <th>"Last error"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {list.into_iter().map(|job| view! { <JobRow job /> }).collect_view()}
                            </tbody>
                        </DataTable>
                    }
                })
            })}
        </Suspense>
    }
}

#[component]
fn JobRow(job: JobRecord) -> impl IntoView {
    let about = match (job.dispute_id, job.key.as_str()) {
        (Some(id), _) => {
            view! { <a href=crate::links::dispute(id)>{format!("dispute {id}")}</a> }.into_any()
        }
        (None, "periodic") => view! { "every period" }.into_any(),
        (None, key) => view! { <code>{shown(key)}</code> }.into_any(),
    };
    let when_text = match job.state {
        JobState::Waiting => format!("due {}", when(job.run_at)),
        JobState::Running => format!(
            "running; last heard {}",
            job.heartbeat.map_or_else(|| "—".to_owned(), when)
        ),
        JobState::Done | JobState::Failed => format!(
            "ended {}",
            job.finished_at.map_or_else(|| "—".to_owned(), when)
        ),
    };
    let class = match job.state {
        JobState::Failed => "badge warn",
        JobState::Done => "badge ok",
        JobState::Waiting | JobState::Running => "badge",
    };
    view! {
        <tr>
            <td>{job.kind.label()}</td>
            <td>{about}</td>
            <td><span class=class>{job.state.as_str()}</span></td>
            <td>{format!("{} of {}", job.attempts, job.max_attempts)} <br /> <small>{format!("{} runs in all", job.runs)}</small></td>
            <td>{when_text}</td>
            <td>{job.last_error.as_deref().map(shown)}</td>
        </tr>
    }
}
