//! The keys connections hold: PingPong salts, providers' RSA public keys
//! (to verify notifications) and merchants' RSA private keys (to sign status
//! queries). Parsed and validated once, when saved or loaded, never per
//! request; shown only as fingerprints.

use std::fmt;

use base64::{
    alphabet,
    engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig},
    Engine,
};
use rsa::{
    pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPublicKey},
    pkcs1v15,
    pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePublicKey},
    signature::{SignatureEncoding, Signer},
    traits::PublicKeyParts,
    RsaPrivateKey, RsaPublicKey,
};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// Standard Base64 that tolerates missing padding; whitespace is removed
/// before decoding.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes standard Base64, ignoring whitespace and line breaks in it.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64.decode(compact).ok()
}

pub fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A short, stable name for a key. Public keys: `sha256:` and the first
/// 16 hex digits of the SHA-256 of their SubjectPublicKeyInfo. Secrets:
/// `hmac:` and the first 16 hex digits of an HMAC-SHA256 under a key only
/// this installation holds, so a fingerprint shown to ops cannot be used to
/// test guesses of the secret.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Fingerprint(String);

/// The key secrets are fingerprinted under (derived from the master key).
#[derive(Clone)]
pub struct FingerprintKey([u8; 32]);

impl FingerprintKey {
    pub fn new(key: [u8; 32]) -> Self {
        Self(key)
    }
}

impl fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FingerprintKey([REDACTED])")
    }
}

impl Fingerprint {
    /// A public value's fingerprint.
    pub fn of(bytes: &[u8]) -> Self {
        Self(format!(
            "sha256:{}",
            &hex::encode(Sha256::digest(bytes))[..16]
        ))
    }

    /// A secret's fingerprint, keyed.
    pub fn of_secret(key: &FingerprintKey, secret: &[u8]) -> Self {
        use hmac::{Mac, SimpleHmac};
        let mut mac = <SimpleHmac<Sha256> as Mac>::new_from_slice(&key.0)
            .expect("HMAC takes a key of any length");
        mac.update(secret);
        Self(format!(
            "hmac:{}",
            &hex::encode(mac.finalize().into_bytes())[..16]
        ))
    }

    /// Whether this is a secret's fingerprint made before secrets were
    /// fingerprinted with a key (plain SHA-256 of the secret).
    pub fn is_unkeyed(&self) -> bool {
        self.0.starts_with("sha256:")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_stored(text: String) -> Self {
        Self(text)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the key is empty")]
    Empty,
    #[error("the key is neither PEM nor Base64-encoded DER")]
    Encoding,
    #[error("the key is not an RSA {0} key (expected SubjectPublicKeyInfo or PKCS#1 for public keys, PKCS#8 or PKCS#1 for private keys)")]
    NotRsa(&'static str),
    #[error("the RSA key has {0} bits; at least 2048 are required")]
    TooShort(usize),
    #[error("a PingPong salt must be at least 8 characters without spaces")]
    WeakSalt,
    #[error("this is a private key; paste the provider's public key here")]
    PrivateGivenForPublic,
    #[error("this provider's status queries take no merchant signing key")]
    NoSigningKeyTaken,
}

/// PEM (`-----BEGIN …-----`) or bare Base64 DER, as DER bytes plus the PEM
/// label when there was one.
fn der_of(text: &str) -> Result<(Option<String>, Vec<u8>), KeyError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(KeyError::Empty);
    }
    if let Some(rest) = text.strip_prefix("-----BEGIN ") {
        let (label, rest) = rest.split_once("-----").ok_or(KeyError::Encoding)?;
        let end = format!("-----END {label}-----");
        let body = rest.split(&end).next().filter(|_| rest.contains(&end));
        let der = body.and_then(decode_base64).ok_or(KeyError::Encoding)?;
        return Ok((Some(label.to_owned()), der));
    }
    decode_base64(text)
        .map(|der| (None, der))
        .ok_or(KeyError::Encoding)
}

fn check_size(bits: usize) -> Result<(), KeyError> {
    if bits < MIN_RSA_BITS {
        Err(KeyError::TooShort(bits))
    } else {
        Ok(())
    }
}

/// A provider's RSA public key: verifies RSASSA-PKCS1-v1_5 SHA-256 signatures
/// (with `ring`, several times faster than `rsa` here; `rsa` reads the key).
#[derive(Clone)]
pub struct VerificationKey {
    key: ring::signature::UnparsedPublicKey<Vec<u8>>,
    spki_der: Vec<u8>,
    fingerprint: Fingerprint,
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerificationKey({})", self.fingerprint)
    }
}

impl VerificationKey {
    /// SubjectPublicKeyInfo or PKCS#1, in PEM or bare Base64 DER.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let (label, der) = der_of(text)?;
        if label.as_deref().is_some_and(|l| l.contains("PRIVATE")) {
            return Err(KeyError::PrivateGivenForPublic);
        }
        let public = RsaPublicKey::from_public_key_der(&der)
            .or_else(|_| RsaPublicKey::from_pkcs1_der(&der))
            .map_err(|_| {
                if RsaPrivateKey::from_pkcs8_der(&der).is_ok()
                    || RsaPrivateKey::from_pkcs1_der(&der).is_ok()
                {
                    KeyError::PrivateGivenForPublic
                } else {
                    KeyError::NotRsa("public")
                }
            })?;
        Self::from_public(public)
    }

    /// A key as stored: SubjectPublicKeyInfo DER.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        Self::from_public(
            RsaPublicKey::from_public_key_der(der).map_err(|_| KeyError::NotRsa("public"))?,
        )
    }

    fn from_public(public: RsaPublicKey) -> Result<Self, KeyError> {
        check_size(public.n().bits())?;
        let spki_der = public
            .to_public_key_der()
            .map_err(|_| KeyError::NotRsa("public"))?
            .into_vec();
        Ok(Self {
            fingerprint: Fingerprint::of(&spki_der),
            key: ring::signature::UnparsedPublicKey::new(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                public
                    .to_pkcs1_der()
                    .map_err(|_| KeyError::NotRsa("public"))?
                    .into_vec(),
            ),
            spki_der,
        })
    }

    /// The key as stored: SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }

    /// The key as a PEM block, for display and export.
    pub fn to_pem(&self) -> String {
        let body = encode_base64(&self.spki_der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        )
    }

    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// True when `signature` signs exactly `message` with this key.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        self.key.verify(message, signature).is_ok()
    }
}

/// An RSA private key that signs the way Botim Money and PayerMax do
/// (RSASSA-PKCS1-v1_5 with SHA-256, Base64): the merchant's, for status
/// queries; a provider's, where the simulator and the tests play the
/// provider. Its `Debug` shows only the fingerprint of its public half.
#[derive(Clone)]
pub struct SigningKey {
    key: RsaPrivateKey,
    signer: pkcs1v15::SigningKey<Sha256>,
    fingerprint: Fingerprint,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({})", self.fingerprint)
    }
}

impl SigningKey {
    /// PKCS#8 or PKCS#1, in PEM or bare Base64 DER.
    pub fn parse(text: &SecretString) -> Result<Self, KeyError> {
        let (_, der) = der_of(text.expose_secret())?;
        let key = RsaPrivateKey::from_pkcs8_der(&der)
            .or_else(|_| RsaPrivateKey::from_pkcs1_der(&der))
            .map_err(|_| KeyError::NotRsa("private"))?;
        check_size(key.n().bits())?;
        let spki = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|_| KeyError::NotRsa("private"))?;
        Ok(Self {
            fingerprint: Fingerprint::of(spki.as_bytes()),
            signer: pkcs1v15::SigningKey::new(key.clone()),
            key,
        })
    }

    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The Base64 signature of exactly `message`, as the `sign` header
    /// carries it.
    pub fn sign(&self, message: &[u8]) -> String {
        encode_base64(&self.signer.sign(message).to_bytes())
    }

    /// The public half, as the other side verifies with it.
    pub fn verification_key(&self) -> VerificationKey {
        VerificationKey::from_public(self.key.to_public_key())
            .expect("a key that parsed as at least 2048 bits stays so")
    }
}

/// A PingPong salt: the shared secret of its salted-digest signatures.
#[derive(Clone)]
pub struct Salt {
    secret: SecretString,
    fingerprint: Fingerprint,
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Salt({})", self.fingerprint)
    }
}

impl Salt {
    /// Surrounding whitespace (a key file's newline) is not part of the salt.
    pub fn parse(text: &SecretString, fingerprints: &FingerprintKey) -> Result<Self, KeyError> {
        let salt = text.expose_secret().trim();
        if salt.len() < 8 || salt.chars().any(char::is_whitespace) {
            return Err(KeyError::WeakSalt);
        }
        Ok(Self {
            fingerprint: Fingerprint::of_secret(fingerprints, salt.as_bytes()),
            secret: SecretString::from(salt.to_owned()),
        })
    }

    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    pub fn expose(&self) -> &str {
        self.secret.expose_secret()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const BOTIM_PUBLIC_PEM: &str =
        include_str!("../../tests/fixtures/providers/keys/botim-money-public.pem");
    pub const PAYERMAX_PUBLIC_B64: &str =
        include_str!("../../tests/fixtures/providers/keys/payermax-public.b64");
    pub const BOTIM_MERCHANT_PRIVATE_PEM: &str =
        include_str!("../../tests/fixtures/providers/keys/botim-money-merchant-private.pem");
    pub const PAYERMAX_MERCHANT_PRIVATE_B64: &str =
        include_str!("../../tests/fixtures/providers/keys/payermax-merchant-private.b64");
    pub const UNRELATED_PRIVATE_PEM: &str =
        include_str!("../../tests/fixtures/providers/keys/provider-side/unrelated-private.pem");

    #[test]
    fn public_keys_are_read_from_pem_and_from_bare_der_alike() {
        let from_pem = VerificationKey::parse(BOTIM_PUBLIC_PEM).unwrap();
        let bare = VerificationKey::parse(&encode_base64(from_pem.spki_der())).unwrap();
        assert_eq!(from_pem.fingerprint(), bare.fingerprint());
        assert_eq!(
            VerificationKey::parse(&from_pem.to_pem())
                .unwrap()
                .fingerprint(),
            from_pem.fingerprint()
        );

        let payermax = VerificationKey::parse(PAYERMAX_PUBLIC_B64).unwrap();
        assert_ne!(payermax.fingerprint(), from_pem.fingerprint());
        assert!(payermax.fingerprint().as_str().starts_with("sha256:"));
        assert_eq!(payermax.fingerprint().as_str().len(), 23);
    }

    #[test]
    fn bad_public_keys_say_what_is_wrong() {
        assert_eq!(VerificationKey::parse("  ").unwrap_err(), KeyError::Empty);
        assert_eq!(
            VerificationKey::parse("not a key!").unwrap_err(),
            KeyError::Encoding
        );
        assert_eq!(
            VerificationKey::parse("aGVsbG8gd29ybGQ=").unwrap_err(),
            KeyError::NotRsa("public")
        );
        assert_eq!(
            VerificationKey::parse(UNRELATED_PRIVATE_PEM).unwrap_err(),
            KeyError::PrivateGivenForPublic
        );
        assert_eq!(
            VerificationKey::parse(PAYERMAX_MERCHANT_PRIVATE_B64).unwrap_err(),
            KeyError::PrivateGivenForPublic
        );
        let truncated = &BOTIM_PUBLIC_PEM[..BOTIM_PUBLIC_PEM.len() - 30];
        assert_eq!(
            VerificationKey::parse(truncated).unwrap_err(),
            KeyError::Encoding
        );
    }

    #[test]
    fn keys_shorter_than_2048_bits_are_refused() {
        let mut rng = rsa::rand_core::OsRng;
        let small = RsaPrivateKey::new(&mut rng, 1024).unwrap();
        let der = small.to_public_key().to_public_key_der().unwrap();
        assert_eq!(
            VerificationKey::parse(&encode_base64(der.as_bytes())).unwrap_err(),
            KeyError::TooShort(1024)
        );
    }

    #[test]
    fn merchant_keys_are_read_from_pkcs8_pem_and_bare_der() {
        let pem = SigningKey::parse(&SecretString::from(BOTIM_MERCHANT_PRIVATE_PEM)).unwrap();
        let b64 = SigningKey::parse(&SecretString::from(PAYERMAX_MERCHANT_PRIVATE_B64)).unwrap();
        assert_ne!(pem.fingerprint(), b64.fingerprint());
        assert!(!format!("{pem:?}").contains("MII"));
        assert_eq!(
            SigningKey::parse(&SecretString::from(BOTIM_PUBLIC_PEM)).unwrap_err(),
            KeyError::NotRsa("private")
        );
    }

    pub fn test_fingerprints() -> FingerprintKey {
        FingerprintKey::new([7; 32])
    }

    #[test]
    fn a_signing_key_signs_what_its_public_half_verifies_and_nothing_else() {
        let merchant = SigningKey::parse(&SecretString::from(BOTIM_MERCHANT_PRIVATE_PEM)).unwrap();
        let public = merchant.verification_key();
        assert_eq!(public.fingerprint(), merchant.fingerprint());
        let signature = decode_base64(&merchant.sign(b"{\"amount\":200.00}")).unwrap();
        assert_eq!(signature.len(), 256);
        assert!(public.verifies(b"{\"amount\":200.00}", &signature));
        assert!(!public.verifies(b"{\"amount\":200.0}", &signature));
        let other = SigningKey::parse(&SecretString::from(UNRELATED_PRIVATE_PEM)).unwrap();
        assert!(!other
            .verification_key()
            .verifies(b"{\"amount\":200.00}", &signature));
        assert!(!format!("{merchant:?}").contains("MII"));
        assert_eq!(
            format!("{merchant:?}"),
            format!("SigningKey({})", merchant.fingerprint())
        );
        assert_eq!(
            format!("{public:?}"),
            format!("VerificationKey({})", public.fingerprint())
        );
    }

    #[test]
    fn salts_are_trimmed_and_never_shown() {
        let salt = Salt::parse(
            &SecretString::from("4283FEFC63F0CD0E873A0000\n"),
            &test_fingerprints(),
        )
        .unwrap();
        assert_eq!(salt.expose(), "4283FEFC63F0CD0E873A0000");
        assert!(!format!("{salt:?}").contains("4283"));
        assert_eq!(format!("{salt:?}"), format!("Salt({})", salt.fingerprint()));
        assert_eq!(
            Salt::parse(&SecretString::from("short"), &test_fingerprints()).unwrap_err(),
            KeyError::WeakSalt
        );
    }

    #[test]
    fn a_salts_fingerprint_is_keyed_and_tells_nothing_without_the_key() {
        let text = SecretString::from("4283FEFC63F0CD0E873A0000");
        let salt = Salt::parse(&text, &test_fingerprints()).unwrap();
        let elsewhere = Salt::parse(&text, &FingerprintKey::new([8; 32])).unwrap();
        let unkeyed = Fingerprint::of(b"4283FEFC63F0CD0E873A0000");
        assert!(salt.fingerprint().as_str().starts_with("hmac:"));
        assert_eq!(salt.fingerprint().as_str().len(), 21);
        assert_ne!(salt.fingerprint(), elsewhere.fingerprint());
        assert_ne!(salt.fingerprint().as_str()[5..], unkeyed.as_str()[7..]);
        assert!(!salt.fingerprint().is_unkeyed() && unkeyed.is_unkeyed());
        // Known answer: HMAC-SHA256 with key 0x07 × 32 over the salt.
        assert_eq!(
            Fingerprint::of_secret(&test_fingerprints(), b"4283FEFC63F0CD0E873A0000").as_str(),
            "hmac:1619cb4b95d5f88e",
            "computed with Python's hmac module"
        );
        assert_eq!(
            format!("{:?}", test_fingerprints()),
            "FingerprintKey([REDACTED])"
        );
    }

    #[test]
    fn base64_may_carry_line_breaks_and_lack_padding() {
        assert_eq!(decode_base64("aGVs\r\nbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8").unwrap(), b"hello");
        assert_eq!(decode_base64("%%%not-base64%%%"), None);
    }
}
