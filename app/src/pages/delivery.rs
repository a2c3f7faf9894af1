//! One delivery as it arrived (ops and admins): when and from where, every
//! header, the raw body, the verdict with its reason and the key that
//! matched, which earlier delivery it duplicates, and the exact answer
//! sent. The timeline of a dispute links here for each notification.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::{shown, shown_lines, when, PageHeading};
use crate::{error::AppError, store::StoredNotification};

pub async fn delivery(id: String) -> Result<Option<StoredNotification>, AppError> {
    crate::auth::require(dispute_core::domain::Permission::ReadDeliveries)?;
    let Ok(id) = id.parse::<i64>() else {
        return Ok(None);
    };
    let state = expect_context::<crate::state::AppState>();
    Ok(state.store.notification(id).await?)
}

/// The address of a delivery's page.
pub fn href(id: i64) -> String {
    format!("/deliveries/{id}")
}

#[component]
pub fn DeliveryPage() -> impl IntoView {
    let id = use_params_map().with_untracked(|p| p.get("id").unwrap_or_default());
    view! {
        <Suspense>
            {Suspend::new(async move {
                match delivery(id).await {
                    Ok(Some(n)) => view! { <Delivery n /> }.into_any(),
                    Ok(None) => view! { <crate::pages::not_found::NotFound /> }.into_any(),
                    Err(_) => view! { <crate::error::InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Delivery(n: StoredNotification) -> impl IntoView {
    let body = String::from_utf8_lossy(&n.body).into_owned();
    let kept = match n.body.len() as i64 == n.body_length {
        true => format!("{} bytes, kept whole", n.body_length),
        false => format!(
            "{} bytes arrived; the first {} are kept",
            n.body_length,
            n.body.len()
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
            <dd>{when(n.received_at)}</dd>
            <dt>"Intake address"</dt>
            <dd><code>{format!("/webhooks/{}", shown(&n.slug))}</code></dd>
            <dt>"From"</dt>
            <dd><code>{shown(&n.remote_addr)}</code></dd>
            <dt>"Verdict"</dt>
            <dd>
                <span class="badge">{n.verdict.as_str()}</span>
                {n.reason.as_deref().map(|r| view! { " " {shown(r)} })}
            </dd>
            <dt>"Key that matched"</dt>
            <dd><code>{n.key_fingerprint.as_deref().map_or("—".to_owned(), shown)}</code></dd>
            <dt>"Duplicate of"</dt>
            <dd>
                {match n.duplicate_of {
                    Some(original) => view! { <a href=href(original)>{format!("delivery {original}")}</a> }.into_any(),
                    None => view! { "—" }.into_any(),
                }}
            </dd>
            <dt>"Answered"</dt>
            <dd><code>{answer}</code></dd>
            <dt>"Took"</dt>
            <dd>{n.latency_us.map_or("—".to_owned(), |us| format!("{:.1} ms", us as f64 / 1000.0))}</dd>
            <dt>"Body"</dt>
            <dd>{kept} " · SHA-256 " <code>{hex::encode(&n.body_sha256)}</code></dd>
        </dl>
        <h2>"Headers"</h2>
        <div class="scroll">
            <table class="data">
                <tbody>
                    {n.headers
                        .into_iter()
                        .map(|(name, value)| view! {
                            <tr><th>{shown(&name)}</th><td><code>{shown(&masked(&name, &value))}</code></td></tr>
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        <h2>"Body as received"</h2>
        <pre class="panel raw">{shown_lines(&body)}</pre>
    }
}

/// A header as ops read it: a credential (a proxy's or a client's) shows
/// only that it was there; providers' signatures are not secrets.
fn masked(name: &str, value: &str) -> String {
    let credential = [
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-api-key",
    ]
    .iter()
    .any(|c| name.eq_ignore_ascii_case(c));
    match credential {
        true => format!("[{} characters, not shown]", value.chars().count()),
        false => value.to_owned(),
    }
}

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
    }
}
