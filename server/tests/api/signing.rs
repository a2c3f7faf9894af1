//! The providers' side of a signature, for tests that need requests the
//! fixtures do not have: RSA with the providers' private keys (from the
//! fixtures), and PingPong's salted digest.

use std::collections::BTreeMap;

use base64::{engine::general_purpose::STANDARD, Engine};
use dispute_core::providers::pingpong::{digest_hex, signed_content, SignType};
use rsa::{
    pkcs1v15::SigningKey,
    pkcs8::{DecodePrivateKey, EncodePublicKey},
    signature::{SignatureEncoding, Signer},
    RsaPrivateKey,
};
use serde_json::value::RawValue;

use crate::helpers::fixtures;

/// A provider's private key from the fixtures: PEM, or bare Base64 DER
/// (PayerMax's).
pub fn provider_private_key(name: &str) -> RsaPrivateKey {
    let text = std::fs::read_to_string(fixtures().join("keys/provider-side").join(name)).unwrap();
    if text.starts_with("-----BEGIN") {
        RsaPrivateKey::from_pkcs8_pem(&text).unwrap()
    } else {
        let der = STANDARD
            .decode(text.split_whitespace().collect::<String>())
            .unwrap();
        RsaPrivateKey::from_pkcs8_der(&der).unwrap()
    }
}

/// The `sign` header value for `body`.
pub fn rsa_sign(key: &RsaPrivateKey, body: &[u8]) -> String {
    let signer = SigningKey::<sha2::Sha256>::new(key.clone());
    STANDARD.encode(signer.sign(body).to_bytes())
}

pub fn public_pem(key: &RsaPrivateKey) -> String {
    key.to_public_key()
        .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap()
}

/// Adds a PingPong `sign` (SHA-256, upper-case hex) to a JSON object.
pub fn pingpong_signed(salt: &str, body: &serde_json::Value) -> Vec<u8> {
    let mut fields: BTreeMap<String, Box<RawValue>> = serde_json::from_value(body.clone()).unwrap();
    let sign = digest_hex(SignType::Sha256, salt, &signed_content(&fields));
    fields.insert(
        "sign".into(),
        RawValue::from_string(format!("\"{sign}\"")).unwrap(),
    );
    serde_json::to_vec(&fields).unwrap()
}

pub fn fixture_salt() -> String {
    std::fs::read_to_string(fixtures().join("keys/pingpong-salt.txt"))
        .unwrap()
        .trim()
        .to_owned()
}

/// The `sign` header OpenSSL made for a fixture case.
pub fn fixture_sign(case_id: &str) -> String {
    let cases: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(fixtures().join("cases.json")).unwrap()).unwrap();
    let case = cases
        .iter()
        .find(|c| c["id"] == case_id)
        .expect("a fixture case");
    case["request"]["headers"]["sign"]
        .as_str()
        .expect("a signed case")
        .to_owned()
}
