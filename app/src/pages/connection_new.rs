//! Adding a connection (admin): the form with the fields its provider needs.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::{
    connection::{KeyField, SettingsFields},
    FlashMessages, PageHeading,
};
use crate::{
    domain::{ConnectionDraft, ProviderKind},
    keyring::uses_signing_key,
};

#[component]
pub fn NewConnectionPage() -> impl IntoView {
    let query = use_query_map().read_untracked().clone();
    let field = |name: &str| query.get(name).unwrap_or_default();
    let provider = field("provider")
        .parse::<ProviderKind>()
        .unwrap_or(ProviderKind::PingPong);
    // After a refused attempt the form comes back with what was typed.
    let draft = ConnectionDraft {
        provider: provider.as_str().to_owned(),
        slug: field("slug"),
        display_name: field("display_name"),
        account_id: field("account_id"),
        app_id: field("app_id"),
        timezone: query.get("timezone").unwrap_or_else(|| "UTC".into()),
        query_base_url: field("query_base_url"),
        source_allowlist: field("source_allowlist")
            .lines()
            .map(str::to_owned)
            .collect(),
        enabled: query.get("enabled").is_none_or(|e| e == "on"),
    };
    let (key_label, key_help) = match provider {
        ProviderKind::PingPong => (
            "Salt",
            "the signing salt from PingPong Checkout's merchant portal",
        ),
        _ => (
            "Provider's public key",
            "PEM or bare Base64 (DER), RSA of at least 2048 bits",
        ),
    };
    view! {
        <PageHeading title="Add a connection" />
        <FlashMessages />
        <form class="panel form" method="post" action="/api/connections/save">
            <input type="hidden" name="creating" value="yes" />
            <SettingsFields draft creating=true />
            <KeyField name="verification_key" label=key_label help=key_help required=true />
            {uses_signing_key(provider)
                .then(|| {
                    view! {
                        <KeyField
                            name="signing_key"
                            label="Your private key for status queries (optional)"
                            help="PKCS#8 or PKCS#1, PEM or bare Base64"
                            required=false
                        />
                    }
                })}
            <button type="submit">"Add connection"</button>
        </form>
    }
}
