//! One module per provider behind one small interface: verify a request over
//! its exact bytes, parse it once into the provider's typed notification and
//! normalize it, and name the exact acknowledgement the provider expects.
//! No database, no HTTP framework: headers and bytes in, values out.
//!
//! Dispatch is an enum with exhaustive `match`es, so a new provider is one
//! compile error per place that must learn it.

pub mod botim_money;
pub mod judge;
pub mod keys;
pub mod payermax;
pub mod pingpong;
pub mod profile;
pub mod query;
pub mod submission;
mod wire;

use http::HeaderMap;
use jiff::tz::TimeZone;

use crate::domain::{NormalizedEvent, PaymentEvent, ProviderKind, Verdict};
use keys::{Fingerprint, Salt, VerificationKey};
use query::{Answer, QueryContext, QueryRequest, QueryTarget, QueryUnavailable};

pub use profile::Profile;

/// The profile of `provider`.
pub fn profile(provider: ProviderKind) -> &'static Profile {
    match provider {
        ProviderKind::PingPong => &pingpong::PROFILE,
        ProviderKind::BotimMoney => &botim_money::PROFILE,
        ProviderKind::PayerMax => &payermax::PROFILE,
    }
}

/// Every provider's sender presets, for allowlists.
pub fn sender_presets() -> Vec<crate::domain::AddressPreset> {
    ProviderKind::ALL
        .iter()
        .flat_map(|p| profile(*p).sender_presets.iter().copied())
        .collect()
}

/// Proof that a request's signature was checked. Only this module's
/// verifiers can make one, and parsing accepts nothing else.
#[derive(Debug)]
pub struct Verified<'a> {
    body: &'a [u8],
    key: Fingerprint,
}

impl<'a> Verified<'a> {
    fn new(body: &'a [u8], key: &Fingerprint) -> Self {
        Self {
            body,
            key: key.clone(),
        }
    }

    /// The key whose signature matched.
    pub fn key(&self) -> &Fingerprint {
        &self.key
    }
}

/// Why a provider's verifier or parser refuses a request, with the reason
/// in words for ops.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    MissingSignature(String),
    #[error("{0}")]
    BadSignature(String),
    #[error("{0}")]
    Malformed(String),
}

impl Refusal {
    pub fn verdict(&self) -> Verdict {
        match self {
            Refusal::MissingSignature(_) => Verdict::MissingSignature,
            Refusal::BadSignature(_) => Verdict::BadSignature,
            Refusal::Malformed(_) => Verdict::Malformed,
        }
    }

    fn tried(keys: &[&Fingerprint]) -> Refusal {
        let names: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
        Refusal::BadSignature(if names.is_empty() {
            "the connection has no verification key configured".into()
        } else {
            format!("the signature does not match key {}", names.join(" or "))
        })
    }
}

/// The acknowledgement the provider expects, byte for byte (always HTTP 200).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    pub content_type: Option<&'static str>,
    pub body: &'static str,
}

/// What a notification is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    Dispute(NormalizedEvent),
    Payment(PaymentEvent),
}

/// A verified, parsed notification and the answer it deserves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub notification: Notification,
    pub ack: Ack,
}

/// What parsing needs to know about the connection.
#[derive(Debug, Clone)]
pub struct ParseContext {
    /// Provider times without a zone are read in this one.
    pub zone: TimeZone,
    /// The provider's id for the account (PingPong `accId`, Botim Money
    /// partner id, PayerMax `merchantNo`); a notification naming another
    /// account is refused.
    pub account_id: Option<String>,
}

impl ParseContext {
    fn check_account(&self, field: &str, named: Option<&str>) -> Result<(), Refusal> {
        match (self.account_id.as_deref(), named) {
            (Some(expected), Some(named)) if !named.is_empty() && named != expected => {
                Err(Refusal::Malformed(format!(
                    "{field} {named:?} is not this connection's account ({expected:?})"
                )))
            }
            _ => Ok(()),
        }
    }
}

/// A connection's provider with its verification keys, parsed once.
#[derive(Debug, Clone)]
pub enum Connector {
    PingPong(pingpong::PingPong),
    BotimMoney(botim_money::BotimMoney),
    PayerMax(payermax::PayerMax),
}

impl Connector {
    /// The provider with the keys it verifies with: salts for PingPong, RSA
    /// public keys for the others. Up to two of each (current and next) so a
    /// key can be rotated without rejecting anything. With none, every
    /// request is rejected: there is no default secret.
    pub fn new(
        provider: ProviderKind,
        salts: Vec<Salt>,
        public_keys: Vec<VerificationKey>,
    ) -> Self {
        match provider {
            ProviderKind::PingPong => Connector::PingPong(pingpong::PingPong::new(salts)),
            ProviderKind::BotimMoney => {
                Connector::BotimMoney(botim_money::BotimMoney::new(public_keys))
            }
            ProviderKind::PayerMax => Connector::PayerMax(payermax::PayerMax::new(public_keys)),
        }
    }

    pub fn provider(&self) -> ProviderKind {
        match self {
            Connector::PingPong(_) => ProviderKind::PingPong,
            Connector::BotimMoney(_) => ProviderKind::BotimMoney,
            Connector::PayerMax(_) => ProviderKind::PayerMax,
        }
    }

    pub fn verify<'a>(&self, headers: &HeaderMap, body: &'a [u8]) -> Result<Verified<'a>, Refusal> {
        match self {
            Connector::PingPong(p) => p.verify(body),
            Connector::BotimMoney(p) => p.verify(headers, body),
            Connector::PayerMax(p) => p.verify(headers, body),
        }
    }

    pub fn parse(&self, verified: &Verified<'_>, ctx: &ParseContext) -> Result<Parsed, Refusal> {
        parse_as(self.provider(), verified.body, ctx)
    }

    /// The signed status-query requests for `target`, to send in order
    /// until one answers other than "not found".
    pub fn query_requests(
        &self,
        ctx: &QueryContext<'_>,
        target: &QueryTarget<'_>,
        now: jiff::Timestamp,
    ) -> Result<Vec<QueryRequest>, QueryUnavailable> {
        match self {
            Connector::PingPong(p) => p
                .query_requests(ctx, target, now)
                .ok_or(QueryUnavailable::Missing("salt", "PingPong")),
            Connector::BotimMoney(p) => p.query_requests(ctx, target, now),
            Connector::PayerMax(p) => p.query_requests(ctx, target, now),
        }
    }

    /// The request asking what a dispute's response needs, where the
    /// provider can say (PingPong); `None` otherwise, or without a key.
    pub fn checklist_request(
        &self,
        ctx: &QueryContext<'_>,
        reference: &str,
    ) -> Option<QueryRequest> {
        match self {
            Connector::PingPong(p) => p.checklist_request(ctx, reference),
            Connector::BotimMoney(_) | Connector::PayerMax(_) => None,
        }
    }

    /// Verifies the answer to `checklist_request` (fail closed), then reads
    /// it.
    pub fn read_checklist(&self, body: &[u8]) -> Result<query::ChecklistAnswer, Refusal> {
        match self {
            Connector::PingPong(p) => p.read_checklist(body),
            Connector::BotimMoney(_) | Connector::PayerMax(_) => Err(Refusal::Malformed(
                "this provider does not say what a response needs".into(),
            )),
        }
    }

    /// The signed request for one step of a submission for dispute
    /// `reference` at the connection's base address `base`.
    pub fn step_request(
        &self,
        ctx: &QueryContext<'_>,
        reference: &str,
        base: &str,
        step: crate::domain::submission::Step,
        input: &submission::StepInput<'_>,
    ) -> Result<QueryRequest, submission::Unsendable> {
        match self {
            Connector::PingPong(p) => p.step_request(
                ctx,
                reference,
                pingpong::respond::Documented::of(base),
                step,
                input.documents,
            ),
            Connector::PayerMax(p) => p.step_request(ctx, reference, step, input),
            Connector::BotimMoney(_) => Err(submission::Unsendable::NotThisProvider("Botim Money")),
        }
    }

    /// Verifies the answer to a step for dispute `reference` (fail
    /// closed), then reads it.
    pub fn read_step_answer(
        &self,
        step: crate::domain::submission::Step,
        headers: &HeaderMap,
        body: &[u8],
        reference: &str,
    ) -> Result<submission::StepAnswer, Refusal> {
        match self {
            Connector::PingPong(p) => p.read_step_answer(step, body),
            Connector::PayerMax(p) => p.read_step_answer(headers, body, reference),
            Connector::BotimMoney(_) => Err(Refusal::Malformed(
                "Botim Money takes no response calls".into(),
            )),
        }
    }

    /// Verifies the answer to `request` with the provider's keys (fail
    /// closed), then reads it.
    pub fn read_answer(
        &self,
        request: &QueryRequest,
        headers: &HeaderMap,
        body: &[u8],
        target: &QueryTarget<'_>,
        ctx: &QueryContext<'_>,
    ) -> Result<Answer, Refusal> {
        match self {
            Connector::PingPong(p) => p.read_answer(request, body, target, ctx),
            Connector::BotimMoney(p) => p.read_answer(headers, body, target),
            Connector::PayerMax(p) => p.read_answer(headers, body, target, ctx),
        }
    }
}

/// Reads again, with the mapping as it is now, a body that was verified
/// when it arrived (its event was recorded): what a rebuild does after a
/// provider's mapping changes. The signature is not checked again, since the
/// keys it was checked with may since have been rotated away; nothing that
/// just arrived may come this way.
pub fn reread(provider: ProviderKind, body: &[u8], ctx: &ParseContext) -> Result<Parsed, Refusal> {
    parse_as(provider, body, ctx)
}

fn parse_as(provider: ProviderKind, body: &[u8], ctx: &ParseContext) -> Result<Parsed, Refusal> {
    match provider {
        ProviderKind::PingPong => pingpong::parse(body, ctx),
        ProviderKind::BotimMoney => botim_money::parse(body, ctx),
        ProviderKind::PayerMax => payermax::parse(body, ctx),
    }
}

/// The `sign` header shared by the RSA providers: the Base64 signature bytes,
/// or why there are none.
fn rsa_signature_header(headers: &HeaderMap) -> Result<Vec<u8>, Refusal> {
    let value = headers
        .get("sign")
        .map(|v| v.to_str().unwrap_or_default().trim())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Refusal::MissingSignature("the request has no sign header".into()))?;
    keys::decode_base64(value)
        .ok_or_else(|| Refusal::BadSignature("the sign header is not Base64".into()))
}

/// RSASSA-PKCS1-v1_5 SHA-256 over the exact body, by any of the keys.
fn verify_rsa<'a>(
    keys: &[VerificationKey],
    headers: &HeaderMap,
    body: &'a [u8],
) -> Result<Verified<'a>, Refusal> {
    let signature = rsa_signature_header(headers)?;
    keys.iter()
        .find(|k| k.verifies(body, &signature))
        .map(|k| Verified::new(body, k.fingerprint()))
        .ok_or_else(|| Refusal::tried(&keys.iter().map(|k| k.fingerprint()).collect::<Vec<_>>()))
}

#[cfg(test)]
pub(crate) mod test_support {
    //! The fixtures made with OpenSSL, for the verifiers' tests.
    use std::path::PathBuf;

    use http::{HeaderMap, HeaderName, HeaderValue};
    use serde_json::Value;

    pub fn fixtures() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/providers")
    }

    /// The body bytes and headers of a case in `cases.json`.
    pub fn case(id: &str) -> (Vec<u8>, HeaderMap) {
        let cases: Vec<Value> =
            serde_json::from_slice(&std::fs::read(fixtures().join("cases.json")).unwrap()).unwrap();
        let case = cases.iter().find(|c| c["id"] == id).expect("case exists");
        let request = &case["request"];
        let body = std::fs::read(fixtures().join(request["body_file"].as_str().unwrap())).unwrap();
        let mut headers = HeaderMap::new();
        for (name, value) in request["headers"].as_object().unwrap() {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value.as_str().unwrap()).unwrap(),
            );
        }
        (body, headers)
    }

    pub fn key_file(name: &str) -> String {
        std::fs::read_to_string(fixtures().join("keys").join(name)).unwrap()
    }

    /// The fixtures' PingPong salt.
    pub fn pingpong_salt() -> String {
        key_file("pingpong-salt.txt").trim().to_owned()
    }

    /// PingPong verifying with the fixtures' salt.
    pub fn pingpong() -> crate::providers::pingpong::PingPong {
        let salt = crate::providers::keys::Salt::parse(
            &secrecy::SecretString::from(pingpong_salt()),
            &crate::providers::keys::tests::test_fingerprints(),
        )
        .unwrap();
        crate::providers::pingpong::PingPong::new(vec![salt])
    }

    /// A provider's public key from the fixtures.
    pub fn key(name: &str) -> crate::providers::keys::VerificationKey {
        crate::providers::keys::VerificationKey::parse(&key_file(name)).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::{profile::KeyKind, *};

    #[test]
    fn each_provider_has_its_own_profile() {
        for kind in ProviderKind::ALL {
            assert_eq!(profile(kind).kind, kind);
        }
        let names: Vec<&str> = ProviderKind::ALL
            .iter()
            .map(|p| profile(*p).account.import_name)
            .collect();
        assert_eq!(names, ["acc_id", "partner_id", "merchant_no"]);
    }

    #[test]
    fn only_the_rsa_providers_sign_queries_with_a_merchant_key() {
        assert!(!profile(ProviderKind::PingPong).signs_queries);
        assert!(profile(ProviderKind::BotimMoney).signs_queries);
        assert!(profile(ProviderKind::PayerMax).signs_queries);
        assert_eq!(
            profile(ProviderKind::PingPong).verification_key.kind,
            KeyKind::Salt
        );
        assert_eq!(
            profile(ProviderKind::PayerMax).verification_key.kind,
            KeyKind::RsaPublicKey
        );
        assert!(profile(ProviderKind::PayerMax).app_id.is_some());
        assert!(profile(ProviderKind::BotimMoney).app_id.is_none());
    }

    #[test]
    fn the_sender_presets_are_pingpongs_documented_servers() {
        let names: Vec<&str> = sender_presets().iter().map(|p| p.name).collect();
        assert_eq!(names, ["pingpong-production", "pingpong-sandbox"]);
        assert_eq!(sender_presets()[0].addresses.len(), 4);
    }
}
