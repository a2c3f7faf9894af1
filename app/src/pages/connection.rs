//! One connection (admin): its settings, and its keys by fingerprint only —
//! with key rotation: add a next key, promote it, or discard it. Secrets
//! pasted here are never shown again.

use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::use_params_map;

use super::{PageHeading, TextArea};
use crate::{
    error::{AppError, InternalErrorPage},
    flash::Flash,
};
use dispute_core::{
    domain::{ConnectionDraft, ConnectionSlug, ProviderKind},
    providers::{profile, sender_presets},
};
use dispute_store::ConnectionDetail;

/// Sends the browser back to `page` saying what happened.
async fn back(page: &str, flash: Flash) -> Result<(), AppError> {
    crate::flash::redirect(page, flash).await
}

/// The connection an action is about, and the signed-in admin.
async fn target(
    slug: &str,
) -> Result<(crate::auth::CurrentUser, ConnectionDetail, ProviderKind), AppError> {
    let admin = crate::auth::require(dispute_core::domain::Permission::ManageConnections)?;
    let state = expect_context::<crate::state::AppState>();
    let missing = || AppError::BadRequest(format!("there is no connection {slug:?}"));
    let slug = ConnectionSlug::parse(slug).map_err(|_| missing())?;
    let detail = state
        .store
        .connection_detail(&slug)
        .await?
        .ok_or_else(missing)?;
    let provider = detail.provider;
    Ok((admin, detail, provider))
}

pub async fn get_connection(slug: String) -> Result<Option<ConnectionDetail>, AppError> {
    crate::auth::require(dispute_core::domain::Permission::ManageConnections)?;
    let state = expect_context::<crate::state::AppState>();
    let Ok(slug) = ConnectionSlug::parse(&slug) else {
        return Ok(None);
    };
    Ok(state.store.connection_detail(&slug).await?)
}

#[allow(clippy::too_many_arguments)]
#[server(endpoint = "connections/save")]
pub async fn save_connection(
    creating: Option<String>,
    slug: String,
    provider: String,
    display_name: String,
    account_id: String,
    app_id: Option<String>,
    timezone: String,
    query_preset: String,
    query_base_url: String,
    source_allowlist: String,
    enabled: Option<String>,
    silence_after_minutes: Option<String>,
    verification_key: Option<String>,
    signing_key: Option<String>,
) -> Result<(), AppError> {
    use crate::auth::{actor, require};
    use dispute_core::domain::Permission;
    use dispute_store::{KeySlot, SaveError, Saving};
    use dispute_workflows::keyring::{KeysToSave, SigningSecret, VerificationSecret};
    let admin = require(Permission::ManageConnections)?;
    let state = expect_context::<crate::state::AppState>();
    let creating = creating.is_some();
    let Ok(kind) = provider.parse::<ProviderKind>() else {
        return back("/connections", Flash::error("Unknown provider")).await;
    };
    let presets = profile(kind).query_api;
    let draft = ConnectionDraft {
        slug: slug.clone(),
        provider: provider.clone(),
        display_name,
        account_id,
        app_id: app_id.unwrap_or_default(),
        timezone,
        query_base_url: match query_preset.as_str() {
            "production" => presets.production.to_owned(),
            "sandbox" => presets.sandbox.to_owned(),
            _ => query_base_url,
        },
        source_allowlist: source_allowlist
            .split(['\n', ','])
            .map(|entry| entry.trim().to_owned())
            .filter(|entry| !entry.is_empty())
            .collect(),
        enabled: enabled.is_some(),
        silence_after_minutes: silence_after_minutes.unwrap_or_default(),
    };
    // A refused form comes back filled in with what was typed, keys
    // excepted (through the session, never the address).
    let form = if creating {
        format!("/connections/new?provider={}", kind.as_str())
    } else {
        format!("/connections/{}", urlencoding::encode(&slug))
    };
    let refuse = |message: String| back(&form, Flash::error(message).with_form(&draft));
    let settings = match draft.validate(&sender_presets()) {
        Ok(s) => s,
        Err(message) => return refuse(message).await,
    };
    let text = |t: Option<String>| t.filter(|t| !t.trim().is_empty());
    let mut keys = KeysToSave::default();
    match text(verification_key) {
        Some(key) => match VerificationSecret::parse(kind, &key, state.vault.fingerprint_key()) {
            Ok(secret) => keys.verification.push((KeySlot::Current, secret)),
            Err(e) => return refuse(format!("verification key: {e}")).await,
        },
        None if creating => return refuse("a verification key is required".into()).await,
        None => {}
    }
    if let Some(key) = text(signing_key) {
        match SigningSecret::parse(kind, &key) {
            Ok(secret) => keys.signing = Some(secret),
            Err(e) => return refuse(format!("signing key: {e}")).await,
        }
    }

    let saving = if creating {
        Saving::Create
    } else {
        Saving::Update
    };
    let saved = state
        .store
        .save_connection(
            &settings,
            saving,
            |id| keys.stored(&state.vault, id),
            &actor(Some(&admin)),
        )
        .await;
    match saved {
        Ok(_) => {
            back(
                &format!("/connections/{}", settings.slug),
                Flash::notice(match creating {
                    true => {
                        "Connection added. Next: give the provider its intake address, shown below."
                    }
                    false => "Settings saved.",
                }),
            )
            .await
        }
        Err(SaveError::NoSuchConnection(_)) => {
            back("/connections", Flash::error("No such connection")).await
        }
        Err(refused @ (SaveError::SlugTaken(_) | SaveError::ProviderDiffers)) => {
            refuse(refused.to_string()).await
        }
        Err(SaveError::Store(e)) => Err(e.into()),
    }
}

#[server(endpoint = "connections/add-key")]
pub async fn add_next_key(slug: String, key: String) -> Result<(), AppError> {
    use crate::auth::actor;
    use dispute_store::{KeyPurpose, KeySlot};
    use dispute_workflows::keyring::VerificationSecret;
    let (admin, detail, provider) = target(&slug).await?;
    let state = expect_context::<crate::state::AppState>();
    let page = format!("/connections/{slug}");
    let secret = match VerificationSecret::parse(provider, &key, state.vault.fingerprint_key()) {
        Ok(secret) => secret,
        Err(e) => return back(&page, Flash::error(format!("Next key: {e}"))).await,
    };
    if detail.verification.current.as_deref() == Some(secret.fingerprint().as_str()) {
        return back(&page, Flash::error("This is already the current key")).await;
    }
    // With no key at all, the first one becomes current straight away.
    let slot = if detail.verification.current.is_some() {
        KeySlot::Next
    } else {
        KeySlot::Current
    };
    let stored = secret.stored(&state.vault, detail.id);
    state
        .store
        .set_key(
            detail.id,
            KeyPurpose::Verify,
            slot,
            &stored,
            &actor(Some(&admin)),
        )
        .await?;
    back(
        &page,
        Flash::notice("Key added: notifications signed with either key are accepted"),
    )
    .await
}

#[server(endpoint = "connections/promote-key")]
pub async fn promote_next_key(slug: String) -> Result<(), AppError> {
    use crate::auth::actor;
    use dispute_store::KeyPurpose;
    let (admin, detail, _) = target(&slug).await?;
    let state = expect_context::<crate::state::AppState>();
    let page = format!("/connections/{slug}");
    if state
        .store
        .promote_next_key(detail.id, KeyPurpose::Verify, &actor(Some(&admin)))
        .await?
    {
        back(
            &page,
            Flash::notice("The next key is now the current one; the old key is retired"),
        )
        .await
    } else {
        back(&page, Flash::error("There is no next key to promote")).await
    }
}

#[server(endpoint = "connections/discard-key")]
pub async fn discard_next_key(slug: String) -> Result<(), AppError> {
    use crate::auth::actor;
    use dispute_store::KeyPurpose;
    let (admin, detail, _) = target(&slug).await?;
    let state = expect_context::<crate::state::AppState>();
    let page = format!("/connections/{slug}");
    if state
        .store
        .discard_next_key(detail.id, KeyPurpose::Verify, &actor(Some(&admin)))
        .await?
    {
        back(&page, Flash::notice("The next key was discarded")).await
    } else {
        back(&page, Flash::error("There is no next key to discard")).await
    }
}

#[server(endpoint = "connections/signing-key")]
pub async fn set_signing_key(slug: String, key: String) -> Result<(), AppError> {
    use crate::auth::actor;
    use dispute_store::{KeyPurpose, KeySlot};
    use dispute_workflows::keyring::SigningSecret;
    let (admin, detail, provider) = target(&slug).await?;
    let state = expect_context::<crate::state::AppState>();
    let page = format!("/connections/{slug}");
    let secret = match SigningSecret::parse(provider, &key) {
        Ok(secret) => secret,
        Err(e) => return back(&page, Flash::error(format!("Signing key: {e}"))).await,
    };
    let stored = secret.stored(&state.vault, detail.id);
    state
        .store
        .set_key(
            detail.id,
            KeyPurpose::Sign,
            KeySlot::Current,
            &stored,
            &actor(Some(&admin)),
        )
        .await?;
    back(&page, Flash::notice("Signing key saved")).await
}

#[component]
pub fn ConnectionPage() -> impl IntoView {
    let slug = use_params_map()
        .read_untracked()
        .get("slug")
        .unwrap_or_default();
    let this = slug.clone();
    view! {
        <Suspense>
            {Suspend::new(async move {
                super::connections::silent_connections().await.ok().map(|silent| {
                    let silent: Vec<_> = silent.into_iter().filter(|(s, _)| *s == this).collect();
                    view! { <super::SilenceWarning silent /> }
                })
            })}
        </Suspense>
        <Suspense>
            {Suspend::new(async move {
                match get_connection(slug).await {
                    Ok(Some(detail)) => view! { <ConnectionDetailView detail /> }.into_any(),
                    Ok(None) => view! { <super::not_found::NotFound /> }.into_any(),
                    Err(_) => view! { <InternalErrorPage /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ConnectionDetailView(detail: ConnectionDetail) -> impl IntoView {
    let slug = detail.settings.slug.clone();
    let provider = detail.provider;
    let title = format!("Connection {slug}");
    let next = detail.verification.next.clone();
    // A refused edit shows what was typed, for the same connection only.
    let typed = crate::flash::current()
        .and_then(|flash| flash.form::<ConnectionDraft>())
        .filter(|draft| draft.slug == slug && draft.provider == provider.as_str());
    let base = use_context::<crate::state::AppState>()
        .map(|state| state.public_url)
        .unwrap_or_default();
    let intake = format!("{base}/webhooks/{slug}");
    let mark = |done: bool| match done {
        true => view! { <span class="badge ok">"done"</span> },
        false => view! { <span class="badge warn">"to do"</span> },
    };
    let has_query_address = !detail.settings.query_base_url.trim().is_empty();
    view! {
        <PageHeading title=title />
        <section class="panel setup" aria-label="Getting notifications">
            <label>
                "Intake address: give it to " {provider.display_name()} " as the notification (webhook) URL"
                <input type="text" readonly value=intake.clone() class="intake-url" />
            </label>
            <ol class="checklist">
                <li>{mark(detail.verification.current.is_some())} " A verification key, so notifications signed by " {provider.display_name()} " are accepted."</li>
                <li>"Give " {provider.display_name()} " the intake address above, and ask for a test notification."</li>
                <li>
                    "See it arrive in "
                    <a href=format!("/deliveries?connection={slug}")>"Delivery history"</a>
                    " with the verdict “valid”."
                </li>
                <li>{mark(has_query_address && detail.signing.current.is_some())} " For status queries: a query address and your signing key (below)."</li>
            </ol>
        </section>
        <form class="panel form" method="post" action=SaveConnection::PATH>
            <SettingsFields
                provider=detail.provider
                draft=typed.unwrap_or_else(|| detail.settings.clone())
                creating=false
            />
            <button type="submit">"Save settings"</button>
        </form>

        <h2>"Verification keys"</h2>
        <div class="panel keys">
            <KeyState
                set_words=format!("Notifications signed by {} with this key are accepted.", provider.display_name())
                unset_words="No key yet: every notification is refused until you add one."
                fingerprint=detail.verification.current.clone()
            />
            {match next {
                Some(next) => {
                    view! {
                        <p>
                            "A next key is waiting: notifications signed with either key are accepted until you promote or discard it."
                            <br />
                            <span class="secondary-text">"Next key's fingerprint " <code class="fingerprint">{next}</code></span>
                        </p>
                        <div class="actions">
                            <form method="post" action=PromoteNextKey::PATH>
                                <input type="hidden" name="slug" value=slug.clone() />
                                <button type="submit" class="secondary">"Promote next key (retire the current one)"</button>
                            </form>
                            <form method="post" action=DiscardNextKey::PATH>
                                <input type="hidden" name="slug" value=slug.clone() />
                                <button type="submit" class="danger">"Discard next key"</button>
                            </form>
                        </div>
                    }
                        .into_any()
                }
                None => {
                    view! {
                        <form class="form" method="post" action=AddNextKey::PATH>
                            <input type="hidden" name="slug" value=slug.clone() />
                            <KeyField
                                name="key"
                                label="Add a next key (for rotation)"
                                help="accepted alongside the current key until promoted"
                                required=true
                            />
                            <button type="submit" class="secondary">"Add next key"</button>
                        </form>
                    }
                        .into_any()
                }
            }}
        </div>

        {profile(provider)
            .signs_queries
            .then(|| {
                view! {
                    <h2>"Signing key for status queries"</h2>
                    <div class="panel keys">
                        <KeyState
                            set_words="Status queries are signed with your key.".to_owned()
                            unset_words="No signing key yet: status queries cannot be sent."
                            fingerprint=detail.signing.current.clone()
                        />
                        <form class="form" method="post" action=SetSigningKey::PATH>
                            <input type="hidden" name="slug" value=slug.clone() />
                            <KeyField
                                name="key"
                                label="Replace the signing key"
                                help="your RSA private key: PKCS#8 or PKCS#1, PEM or bare Base64"
                                required=true
                            />
                            <button type="submit" class="secondary">"Save signing key"</button>
                        </form>
                    </div>
                }
            })}
    }
}

/// Whether a key is set, in words, with its fingerprint after them for
/// whoever compares keys with the provider.
#[component]
fn KeyState(
    fingerprint: Option<String>,
    set_words: String,
    unset_words: &'static str,
) -> impl IntoView {
    match fingerprint {
        Some(fingerprint) => view! {
            <p>
                <span class="badge ok">"set"</span>
                " "
                {set_words}
                <br />
                <span class="secondary-text">"Fingerprint " <code class="fingerprint">{fingerprint}</code></span>
            </p>
        }
        .into_any(),
        None => view! {
            <p>
                <span class="badge warn">"missing"</span>
                " "
                {unset_words}
            </p>
        }
        .into_any(),
    }
}

/// A textarea for a key; what is typed is sent once and never shown again.
#[component]
pub fn KeyField(
    name: &'static str,
    label: &'static str,
    help: &'static str,
    required: bool,
) -> impl IntoView {
    view! {
        <label>
            {label}
            <small>{help}</small>
            <TextArea name=name required=required secret=true />
        </label>
    }
}

/// The settings every connection has, with the account fields its
/// provider names and the query API presets it offers.
#[component]
pub fn SettingsFields(
    provider: ProviderKind,
    draft: ConnectionDraft,
    creating: bool,
) -> impl IntoView {
    let profile = profile(provider);
    let presets = profile.query_api;
    let preset = match draft.query_base_url.as_str() {
        "" => "production",
        url if url == presets.production => "production",
        url if url == presets.sandbox => "sandbox",
        _ => "custom",
    };
    let custom_url = (preset == "custom").then(|| draft.query_base_url.clone());
    let account_label = profile.account.label;
    let allowlist = draft.source_allowlist.join("\n");
    let presets_hint = sender_presets()
        .iter()
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ");
    view! {
        <p>"Provider: " <strong>{provider.display_name()}</strong></p>
        <input type="hidden" name="provider" value=provider.as_str() />
        {if creating {
            view! {
                <label>
                    "Slug (the intake URL is /webhooks/slug)"
                    <input type="text" name="slug" required pattern="[a-z0-9]+(-[a-z0-9]+)*" value=draft.slug.clone() />
                </label>
            }
                .into_any()
        } else {
            view! { <input type="hidden" name="slug" value=draft.slug.clone() /> }.into_any()
        }}
        <label>"Display name" <input type="text" name="display_name" value=draft.display_name /></label>
        <label>{account_label} <input type="text" name="account_id" value=draft.account_id /></label>
        {profile
            .app_id
            .map(|field| {
                view! {
                    <label>{field.label} <input type="text" name="app_id" value=draft.app_id.clone() /></label>
                }
            })}
        <label>
            "Time zone for the provider's times without a zone"
            <input type="text" name="timezone" value=draft.timezone />
        </label>
        <label>
            "Status-query API"
            <select name="query_preset">
                <option value="production" selected=preset == "production">
                    {format!("production ({})", presets.production)}
                </option>
                <option value="sandbox" selected=preset == "sandbox">
                    {format!("sandbox ({})", presets.sandbox)}
                </option>
                <option value="custom" selected=preset == "custom">
                    "another address (below)"
                </option>
            </select>
        </label>
        <label>"Other query API address" <input type="url" name="query_base_url" value=custom_url /></label>
        <label>
            "Accepted senders (one address, CIDR range or preset per line; empty accepts any)"
            <small>{format!("presets: {presets_hint}")}</small>
            <TextArea name="source_allowlist" value=allowlist />
        </label>
        <label>
            "Silent after (minutes without a notification; empty: the installation's default)"
            <input type="number" name="silence_after_minutes" min="1" value=draft.silence_after_minutes />
        </label>
        <label class="check">
            <input type="checkbox" name="enabled" value="on" checked=draft.enabled />
            " Enabled"
        </label>
    }
}
