//! The cover letters responses start from, one per kind of dispute, kept
//! as data and changed by admins: a new response's letter is its kind's
//! template with the placeholders filled from what the desk knows.

use dispute_core::domain::evidence::{default_template, Defence, LetterTemplate, PLACEHOLDERS};
use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

use super::{PageHeading, TextArea};
use crate::{error::AppError, flash::Flash};

fn page(defence: Defence) -> String {
    format!("/letters?kind={}", defence.as_str())
}

/// What the form sent, kept for the page when it is refused.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct TemplateForm {
    body: String,
}

#[server(endpoint = "letters/save")]
pub async fn save_template(kind: String, body: String) -> Result<(), AppError> {
    let admin = crate::auth::require(dispute_core::domain::Permission::ManageLetters)?;
    let Ok(defence) = kind.parse::<Defence>() else {
        return crate::flash::redirect(
            "/letters",
            Flash::error("There is no such kind of dispute"),
        )
        .await;
    };
    let template = match LetterTemplate::parse(&body) {
        Ok(template) => template,
        Err(e) => {
            let form = TemplateForm { body };
            return crate::flash::redirect(&page(defence), Flash::error(e.0).with_form(&form))
                .await;
        }
    };
    let state = expect_context::<crate::state::AppState>();
    state
        .store
        .save_letter_template(defence, &template, &crate::auth::actor(Some(&admin)))
        .await?;
    crate::flash::redirect(
        &page(defence),
        Flash::notice(format!(
            "Saved: new responses to {} disputes start from this letter",
            defence.label().to_lowercase()
        )),
    )
    .await
}

async fn current(defence: Defence) -> Result<String, AppError> {
    crate::auth::require(dispute_core::domain::Permission::ManageLetters)?;
    let state = expect_context::<crate::state::AppState>();
    Ok(
        dispute_workflows::responses::template(&state.store, defence)
            .await?
            .as_str()
            .to_owned(),
    )
}

#[component]
pub fn LettersPage() -> impl IntoView {
    let defence = use_query_map()
        .with_untracked(|q| q.get("kind").and_then(|k| k.parse::<Defence>().ok()))
        .unwrap_or(Defence::Fraud);
    view! {
        <PageHeading title="Cover letters" />
        <p>
            "A new response's letter starts from the template for its kind of dispute, with each placeholder filled from what the desk knows; the analyst then edits it."
        </p>
        <nav class="tabs" aria-label="Kinds of dispute">
            {Defence::ALL
                .iter()
                .map(|d| {
                    let current = (*d == defence).then_some("page");
                    view! { <a href=page(*d) aria-current=current>{d.label()}</a> }
                })
                .collect_view()}
        </nav>
        <Suspense>
            {Suspend::new(async move {
                let typed = crate::flash::current().and_then(|f| f.form::<TemplateForm>());
                let body = match (typed, current(defence).await) {
                    (Some(typed), _) => typed.body,
                    (None, Ok(body)) => body,
                    (None, Err(_)) => {
                        return view! { <crate::error::InternalErrorPage /> }.into_any();
                    }
                };
                view! {
                    <form method="post" action=SaveTemplate::PATH class="form letter-form">
                        <input type="hidden" name="kind" value=defence.as_str() />
                        <label>
                            {format!("The letter for {} disputes", defence.label().to_lowercase())}
                            <TextArea name="body" value=body required=true />
                        </label>
                        <button type="submit">"Save template"</button>
                    </form>
                    <h2>"Placeholders"</h2>
                    <dl class="facts">
                        {PLACEHOLDERS
                            .iter()
                            .map(|(name, what)| view! {
                                <dt><code>{format!("{{{{{name}}}}}")}</code></dt>
                                <dd>{*what}</dd>
                            })
                            .collect_view()}
                    </dl>
                    <details>
                        <summary>"The desk's own letter for this kind"</summary>
                        <pre class="letter">{default_template(defence).as_str().to_owned()}</pre>
                    </details>
                }
                .into_any()
            })}
        </Suspense>
    }
}
