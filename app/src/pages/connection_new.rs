//! Adding a connection (admin): the form with the fields its provider needs.

use leptos::{prelude::*, server_fn::ServerFn};

use super::{
    connection::{KeyField, SettingsFields},
    PageHeading,
};
use dispute_core::{
    domain::{ConnectionDraft, ProviderKind},
    providers::profile,
};

#[component]
pub fn NewConnectionPage() -> impl IntoView {
    let provider = super::query_params()
        .get("provider")
        .and_then(|p| p.parse::<ProviderKind>().ok())
        .unwrap_or(ProviderKind::PingPong);
    // After a refused attempt the form comes back with what was typed.
    let draft = crate::flash::current()
        .and_then(|flash| flash.form::<ConnectionDraft>())
        .filter(|draft| draft.provider == provider.as_str())
        .unwrap_or_else(|| ConnectionDraft {
            provider: provider.as_str().to_owned(),
            timezone: "UTC".into(),
            enabled: true,
            ..ConnectionDraft::default()
        });
    let profile = profile(provider);
    let key = profile.verification_key;
    view! {
        <PageHeading title="Add a connection" />
        <form class="panel form" method="post" action=super::connection::SaveConnection::PATH>
            <input type="hidden" name="creating" value="yes" />
            <SettingsFields provider draft creating=true />
            <KeyField name="verification_key" label=key.label help=key.help required=true />
            {profile
                .signs_queries
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
