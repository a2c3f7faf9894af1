//! What the rest of Dispute Desk needs to know about a provider besides its
//! messages: what its account id is called, which keys a connection holds,
//! which addresses it sends from, where its query API lives, and the field
//! names of `connections import`. The forms, the keyring, intake and the
//! import read these; none of them names a provider.

use crate::domain::{evidence::FileKind, AddressPreset, ProviderKind};

/// Everything about one provider that is not a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub kind: ProviderKind,
    /// The provider's id for the merchant's account; a notification naming
    /// another account is refused.
    pub account: Field,
    /// A second id its status queries need (PayerMax's `appId`).
    pub app_id: Option<Field>,
    /// What verifies its notifications.
    pub verification_key: KeySpec,
    /// Whether status queries are signed with the merchant's own private key.
    pub signs_queries: bool,
    /// Named lists of the addresses it sends from, for allowlists.
    pub sender_presets: &'static [AddressPreset],
    pub query_api: QueryApi,
    /// The evidence file formats a response to it may hold: the packet's
    /// (PDF pages and pictures) always, archives and Office files where the
    /// provider takes them as they are.
    pub evidence_types: &'static [FileKind],
    /// Whether it takes a short summary with a response (PayerMax's
    /// `responseContent`).
    pub takes_summary: bool,
    /// Whether it says what a dispute's response needs (PingPong's
    /// `getDefenseReasons`); otherwise the desk's table does.
    pub lists_needs: bool,
}

/// A connection setting as a form labels it and an import file names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub label: &'static str,
    pub import_name: &'static str,
}

/// The kind of key that verifies a provider's notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// A shared secret (PingPong's salt): sealed at rest, shown by a keyed
    /// fingerprint.
    Salt,
    /// The provider's RSA public key.
    RsaPublicKey,
}

/// A verification key as a connection holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    pub kind: KeyKind,
    pub label: &'static str,
    pub help: &'static str,
    /// The import file's fields for the current and the next key's file.
    pub import_file: &'static str,
    pub import_next_file: &'static str,
}

/// A provider's status-query API addresses, offered as presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryApi {
    pub production: &'static str,
    pub sandbox: &'static str,
}

/// The salt of PingPong-style providers.
pub const SALT: KeySpec = KeySpec {
    kind: KeyKind::Salt,
    label: "Salt",
    help: "the signing salt from the provider's merchant portal",
    import_file: "salt_file",
    import_next_file: "next_salt_file",
};

/// The RSA public key of Botim Money-style providers.
pub const RSA_PUBLIC_KEY: KeySpec = KeySpec {
    kind: KeyKind::RsaPublicKey,
    label: "Provider's public key",
    help: "PEM or bare Base64 (DER), RSA of at least 2048 bits",
    import_file: "provider_public_key_file",
    import_next_file: "next_provider_public_key_file",
};

/// The import file's field for the merchant's private key.
pub const MERCHANT_KEY_IMPORT_FILE: &str = "merchant_private_key_file";
