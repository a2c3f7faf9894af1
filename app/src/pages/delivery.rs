//! One delivery as it arrived (ops and admins): when and from where, every
//! header, the raw body, the verdict with its reason and the key that
//! matched, which earlier delivery it duplicates, and the exact answer
//! sent; every later replay of it, and for ops what replaying it now would
//! do, with the button that does it. The timeline of a dispute links here
//! for each notification.

use dispute_core::{
    domain::Permission,
    providers::judge::{Judgement, MAX_BODY},
};
use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_params_map;

use super::{label, shown, shown_lines, DataTable, PageHeading, Time};
use crate::{error::AppError, flash::Flash};
use dispute_store::{ReplayRecord, StoredNotification, TimelineEntry};
use dispute_workflows::replay::Preview;

/// A delivery, its replays, and (for those who may replay) what a replay
/// now would do.
pub struct DeliveryView {
    pub n: StoredNotification,
    /// The event it produced (for a duplicate, the original's).
    pub event: Option<TimelineEntry>,
    pub replays: Vec<ReplayRecord>,
    pub preview: Option<Preview>,
}

pub async fn delivery(id: String) -> Result<Option<DeliveryView>, AppError> {
    let viewer = crate::auth::require(Permission::ReadDeliveries)?;
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    let state = expect_context::<crate::state::AppState>();
    let Some(n) = state.store.notification(id).await? else {
        return Ok(None);
    };
    let preview = match viewer.role.may(Permission::Replay) {
        true => Some(dispute_workflows::replay::preview(&state.store, &state.vault, &n).await?),
        false => None,
    };
    Ok(Some(DeliveryView {
        event: state
            .store
            .event_of_notification(n.duplicate_of.unwrap_or(n.id))
            .await?,
        replays: state.store.replays(n.id).await?,
        preview,
        n,
    }))
}

/// Replays the delivery with its connection as it is now.
#[server(endpoint = "deliveries/replay")]
pub async fn replay_delivery(id: i64) -> Result<(), AppError> {
    let ops = crate::auth::require(Permission::Replay)?;
    let state = expect_context::<crate::state::AppState>();
    let Some(original) = state.store.notification(id).await? else {
        return crate::flash::redirect("/deliveries", Flash::error("There is no such delivery"))
            .await;
    };
    let actor = crate::auth::actor(Some(&ops));
    let replay = dispute_workflows::replay::run(
        &state.store,
        &state.vault,
        &state.metrics,
        &original,
        &actor,
        None,
    )
    .await?;
    let flash = match replay.outcome {
        dispute_store::ReplayOutcome::Refused => Flash::error(format!(
            "Replayed: still refused ({}{})",
            replay.verdict.label(),
            replay.reason.map(|r| format!(": {r}")).unwrap_or_default()
        )),
        outcome => Flash::notice(format!("Replayed: {}", outcome.label())),
    };
    crate::flash::redirect(&crate::links::delivery(id), flash).await
}

#[component]
pub fn DeliveryPage() -> impl IntoView {
    let id = use_params_map().with_untracked(|p| p.get("id").unwrap_or_default());
    view! {
        <Suspense>
            {Suspend::new(async move {
                match delivery(id).await {
                    Ok(Some(found)) => view! { <Delivery found /> }.into_any(),
                    Ok(None) => view! { <crate::pages::not_found::NotFound /> }.into_any(),
                    Err(_) => view! { <crate::error::InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Delivery(found: DeliveryView) -> impl IntoView {
    let DeliveryView {
        n,
        event,
        replays,
        preview,
    } = found;
    let laid_out = std::str::from_utf8(&n.body)
        .ok()
        .filter(|text| text.len() <= LAID_OUT_LIMIT)
        .and_then(|text| dispute_core::domain::text::indent_json(text, LAID_OUT_MAX));
    let produced = event.map(|e| {
        let (stage, status) = label(e.stage, e.status);
        view! {
            <a href=crate::links::dispute(e.dispute_id)><code>{shown(&e.dispute_ref)}</code></a>
            " · " <code>{shown(&e.kind)}</code> " · " {stage} " · " {status}
            {(!e.recognized).then_some(" (changed nothing)")}
        }
    });
    let id = n.id;
    let body = String::from_utf8_lossy(&n.body).into_owned();
    // Intake stops reading a body past the limit: its length is then what
    // its sender declared, and its digest covers what was read.
    let (kept, digest_of) = match (
        n.body.len() as i64 == n.body_length,
        n.body_length > MAX_BODY as i64,
    ) {
        (true, _) => (format!("{} bytes, kept whole", n.body_length), "SHA-256"),
        (false, false) => (
            format!(
                "{} bytes arrived; the first {} are kept",
                n.body_length,
                n.body.len()
            ),
            "SHA-256",
        ),
        (false, true) => (
            format!(
                "{} bytes declared, over the limit; the first {} are kept",
                n.body_length,
                n.body.len()
            ),
            "SHA-256 of what was read before reading stopped",
        ),
    };
    let answer = match (n.response_status, &n.response_body) {
        (Some(status), Some(body)) => format!("{status} {}", shown(body)),
        (Some(status), None) => status.to_string(),
        _ => "no answer recorded".to_owned(),
    };
    view! {
        <PageHeading title=format!("Delivery {}", n.id) />
        <dl class="facts">
            <dt>"Received"</dt>
            <dd><Time at=n.received_at /></dd>
            <dt>"Intake address"</dt>
            <dd><code>{format!("/webhooks/{}", shown(&n.slug))}</code></dd>
            <dt>"From"</dt>
            <dd><code>{shown(&n.remote_addr)}</code></dd>
            <dt>"Verdict"</dt>
            <dd>
                <super::VerdictBadge verdict=n.verdict />
                {n.reason.as_deref().map(|r| view! { " " {shown(r)} })}
            </dd>
            <dt>"Key that matched"</dt>
            <dd><code>{n.key_fingerprint.as_deref().map_or("—".to_owned(), shown)}</code></dd>
            <dt>"Duplicate of"</dt>
            <dd>
                {match n.duplicate_of {
                    Some(original) => view! { <a href=crate::links::delivery(original)>{format!("delivery {original}")}</a> }.into_any(),
                    None => view! { "—" }.into_any(),
                }}
            </dd>
            <dt>"Event produced"</dt>
            <dd>{produced.map_or_else(|| view! { "none" }.into_any(), |p| p.into_any())}</dd>
            <dt>"Answered"</dt>
            <dd><code>{answer}</code></dd>
            <dt>"Took"</dt>
            <dd>{n.latency_us.map_or("—".to_owned(), |us| format!("{:.1} ms", us as f64 / 1000.0))}</dd>
            <dt>"Body"</dt>
            <dd>
                {kept} " · " {digest_of} " " <code>{hex::encode(&n.body_sha256)}</code> " · "
                <a href=format!("/deliveries/{id}/raw") download="">"download the bytes"</a>
            </dd>
        </dl>
        <h2>"Headers"</h2>
        <DataTable>
            <tbody>
                {n.headers
                    .into_iter()
                    .map(|(name, value)| view! {
                        <tr><th>{shown(&name)}</th><td><code>{shown(&masked(&name, &value))}</code></td></tr>
                    })
                    .collect_view()}
            </tbody>
        </DataTable>
        {laid_out.map(|json| view! {
            <h2>"Body, laid out"</h2>
            <p><small>"Only the whitespace between its tokens differs from what arrived."</small></p>
            <pre class="panel raw">{shown_lines(&json)}</pre>
        })}
        <h2>"Body as received"</h2>
        <pre class="panel raw">{shown_lines(&body)}</pre>
        <h2>"Replays"</h2>
        {preview.map(|p| view! { <ReplayPreview id preview=p /> })}
        <Replays replays />
    }
}

/// What a replay now would do, and the button that does it.
#[component]
fn ReplayPreview(id: i64, preview: Preview) -> impl IntoView {
    let verdict = match &preview.judgement {
        Judgement::Accepted { key, .. } => format!("valid (key {key})"),
        Judgement::Refused(refused) => {
            format!("{}: {}", refused.verdict.label(), shown(&refused.reason))
        }
    };
    let effect = match (&preview.event, preview.already_recorded) {
        (Some(_), true) => "its event is recorded already: nothing would change".to_owned(),
        (Some((kind, stage, status)), false) => {
            let (stage, status) = label(*stage, *status);
            format!(
                "it would record {} ({stage} · {status}): {}",
                shown(kind),
                change(&preview)
            )
        }
        (None, _) => "nothing would be recorded".to_owned(),
    };
    view! {
        <div class="panel">
            <p>"Replayed now, with the connection's current keys and settings:"</p>
            <dl class="facts">
                <dt>"Verdict"</dt>
                <dd>{verdict}</dd>
                <dt>"Effect"</dt>
                <dd>{effect}</dd>
            </dl>
            <form class="inline" method="post" action=ReplayDelivery::PATH>
                <input type="hidden" name="id" value=id.to_string() />
                <button type="submit">"Replay now"</button>
                " "
                <small>"The original's verdict stays; the replay is recorded beside it."</small>
            </form>
        </div>
    }
}

/// What the replay would do to its dispute, in words.
pub fn change(preview: &Preview) -> String {
    let state = |(stage, status)| {
        let (stage, status) = label(stage, status);
        format!("{stage} · {status}")
    };
    let after = preview.after.map(state).unwrap_or_default();
    match &preview.dispute {
        None => format!("a new dispute at {after}"),
        Some(d) => {
            let before = state((d.stage, d.status));
            match before == after {
                true => format!("dispute {} stays at {before}", shown(&d.dispute_ref)),
                false => format!(
                    "dispute {} goes from {before} to {after}",
                    shown(&d.dispute_ref)
                ),
            }
        }
    }
}

#[component]
fn Replays(replays: Vec<ReplayRecord>) -> impl IntoView {
    if replays.is_empty() {
        return view! { <p>"Not replayed."</p> }.into_any();
    }
    view! {
        <DataTable>
            <thead>
                <tr><th>"When"</th><th>"By"</th><th>"Verdict"</th><th>"Outcome"</th></tr>
            </thead>
            <tbody>
                {replays
                    .into_iter()
                    .map(|r| view! {
                        <tr>
                            <td><Time at=r.replayed_at /></td>
                            <td>{r.replayed_by.as_deref().map_or_else(|| "—".to_owned(), shown)}</td>
                            <td>
                                <super::VerdictBadge verdict=r.verdict />
                                {r.reason.as_deref().map(|reason| view! { " " {shown(reason)} })}
                            </td>
                            <td>{r.outcome.label()}</td>
                        </tr>
                    })
                    .collect_view()}
            </tbody>
        </DataTable>
    }
    .into_any()
}

/// A header as ops read it: a credential (a proxy's or a client's) shows
/// only that it was there; a provider's signature, no secret but long, is
/// shortened.
fn masked(name: &str, value: &str) -> String {
    let credential = [
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
    ]
    .iter()
    .any(|c| name.eq_ignore_ascii_case(c));
    let signature = ["sign", "signature", "x-signature"]
        .iter()
        .any(|s| name.eq_ignore_ascii_case(s));
    match (credential, signature) {
        (true, _) => format!("[{} characters, not shown]", value.chars().count()),
        (false, true) if value.chars().count() > SIGNATURE_SHOWN => format!(
            "{}… ({} characters)",
            value.chars().take(SIGNATURE_SHOWN).collect::<String>(),
            value.chars().count()
        ),
        (false, _) => value.to_owned(),
    }
}

/// The largest body also shown laid out.
const LAID_OUT_LIMIT: usize = 64 * 1024;
/// The longest laid-out text shown: indentation grows with depth, so a
/// deeply nested body would lay out many times its size.
const LAID_OUT_MAX: usize = 256 * 1024;

/// How much of a signature header is shown.
const SIGNATURE_SHOWN: usize = 24;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_headers_are_not_shown_but_signatures_are() {
        assert_eq!(
            masked("Authorization", "Bearer abc"),
            "[10 characters, not shown]"
        );
        assert_eq!(masked("cookie", "a=b"), "[3 characters, not shown]");
        assert_eq!(masked("sign", "MEUCIQ"), "MEUCIQ");
        let long = "A".repeat(344);
        assert_eq!(
            masked("Sign", &long),
            format!("{}… (344 characters)", "A".repeat(24))
        );
    }
}
