//! What identifies a connection (one provider account) and who may send to it.

use std::{fmt, net::IpAddr, str::FromStr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::{time::ZoneName, Sender};

/// The connection's name in its intake URL, `/webhooks/{slug}`: lower-case
/// letters, digits and single hyphens, at most 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConnectionSlug(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a connection slug: use 1 to 64 lower-case letters, digits and single hyphens (e.g. pingpong-main)")]
pub struct SlugError(pub String);

impl ConnectionSlug {
    pub fn parse(text: &str) -> Result<Self, SlugError> {
        let valid = !text.is_empty()
            && text.len() <= 64
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !text.starts_with('-')
            && !text.ends_with('-')
            && !text.contains("--");
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(SlugError(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConnectionSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The providers Dispute Desk speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    PingPong,
    BotimMoney,
    PayerMax,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 3] = [
        ProviderKind::PingPong,
        ProviderKind::BotimMoney,
        ProviderKind::PayerMax,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::PingPong => "pingpong",
            ProviderKind::BotimMoney => "botim_money",
            ProviderKind::PayerMax => "payermax",
        }
    }

    pub fn display_name(self) -> &'static str {
        match self {
            ProviderKind::PingPong => "PingPong Checkout",
            ProviderKind::BotimMoney => "Botim Money",
            ProviderKind::PayerMax => "PayerMax",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown provider {0:?} (expected pingpong, botim_money or payermax)")]
pub struct UnknownProvider(pub String);

impl FromStr for ProviderKind {
    type Err = UnknownProvider;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        ProviderKind::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| UnknownProvider(text.to_owned()))
    }
}

/// The addresses a connection accepts notifications from. Empty means any.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceAllowlist(Vec<IpNet>);

/// A name an allowlist may hold in place of a provider's documented
/// sender addresses (`pingpong-production`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressPreset {
    pub name: &'static str,
    pub addresses: &'static [&'static str],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is neither an IP address, a CIDR range nor a preset name")]
pub struct AllowlistError(pub String);

impl SourceAllowlist {
    /// Parses addresses (`3.125.243.2`), ranges (`10.0.0.0/8`, `::1/128`)
    /// and the names of `presets`, which expand to their addresses.
    pub fn parse<S: AsRef<str>>(
        entries: &[S],
        presets: &[AddressPreset],
    ) -> Result<Self, AllowlistError> {
        let mut nets = Vec::new();
        for entry in entries {
            let text = entry.as_ref().trim();
            if let Some(preset) = presets.iter().find(|p| p.name == text) {
                nets.extend(Self::parse(preset.addresses, &[])?.0);
                continue;
            }
            let net = text
                .parse::<IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| AllowlistError(text.to_owned()))?;
            if !nets.contains(&net) {
                nets.push(net);
            }
        }
        Ok(Self(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// An empty list allows everyone; IPv4-mapped IPv6 senders are compared
    /// as IPv4.
    pub fn allows(&self, sender: IpAddr) -> bool {
        let sender = match sender {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(sender),
            v4 => v4,
        };
        self.0.is_empty() || self.0.iter().any(|net| net.contains(&sender))
    }

    /// Whether the list lets `sender` in: an unknown sender only when the
    /// list is empty (allowing everyone).
    pub fn admits(&self, sender: Sender) -> bool {
        match sender {
            Sender::Address(ip) => self.allows(ip),
            Sender::Unknown => self.is_empty(),
        }
    }

    pub fn entries(&self) -> Vec<String> {
        self.0.iter().map(|n| n.to_string()).collect()
    }
}

/// Everything about a connection but its keys, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionSettings {
    pub slug: ConnectionSlug,
    pub provider: ProviderKind,
    pub display_name: String,
    /// PingPong `accId`, Botim Money partner id, PayerMax `merchantNo`.
    pub account_id: Option<String>,
    /// PayerMax `appId`.
    pub app_id: Option<String>,
    pub timezone: ZoneName,
    pub query_base_url: Option<QueryBaseUrl>,
    pub source_allowlist: SourceAllowlist,
    pub enabled: bool,
    /// Minutes without a notification after which the connection counts as
    /// silent; `None`: the installation's default.
    pub silence_after_minutes: Option<u32>,
}

/// A connection as typed in a form or an import file, before validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionDraft {
    pub slug: String,
    pub provider: String,
    pub display_name: String,
    pub account_id: String,
    pub app_id: String,
    pub timezone: String,
    pub query_base_url: String,
    pub source_allowlist: Vec<String>,
    pub enabled: bool,
    /// Whole minutes, or empty for the installation's default.
    #[serde(default)]
    pub silence_after_minutes: String,
}

/// The longest silence threshold a connection may set: a year.
pub const MAX_SILENCE_MINUTES: u32 = 366 * 24 * 60;

impl ConnectionDraft {
    /// Checks every field; the error names the first that is wrong. An
    /// allowlist may name `presets`.
    pub fn validate(&self, presets: &[AddressPreset]) -> Result<ConnectionSettings, String> {
        let optional = |text: &str| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
        let plain = |field: &str, text: &str, max: usize| {
            if text.chars().count() > max {
                Err(format!("the {field} has more than {max} characters"))
            } else if text.chars().any(char::is_control) {
                Err(format!("the {field} contains control characters"))
            } else {
                Ok(())
            }
        };
        plain("display name", &self.display_name, 100)?;
        plain("account id", &self.account_id, 200)?;
        plain("app id", &self.app_id, 200)?;
        if self.source_allowlist.len() > 100 {
            return Err("the allowlist has more than 100 entries".into());
        }
        Ok(ConnectionSettings {
            slug: ConnectionSlug::parse(self.slug.trim()).map_err(|e| e.to_string())?,
            provider: self
                .provider
                .trim()
                .parse()
                .map_err(|e: UnknownProvider| e.to_string())?,
            display_name: self.display_name.trim().to_owned(),
            account_id: optional(&self.account_id),
            app_id: optional(&self.app_id),
            timezone: match optional(&self.timezone) {
                Some(zone) => ZoneName::parse(&zone).map_err(|e| e.to_string())?,
                None => ZoneName::default(),
            },
            query_base_url: optional(&self.query_base_url)
                .map(|u| QueryBaseUrl::parse(&u))
                .transpose()
                .map_err(|e| e.to_string())?,
            source_allowlist: SourceAllowlist::parse(
                &self
                    .source_allowlist
                    .iter()
                    .map(|e| e.trim())
                    .filter(|e| !e.is_empty())
                    .collect::<Vec<_>>(),
                presets,
            )
            .map_err(|e| e.to_string())?,
            enabled: self.enabled,
            silence_after_minutes: match optional(&self.silence_after_minutes) {
                None => None,
                Some(text) => Some(
                    text.parse::<u32>()
                        .ok()
                        .filter(|m| (1..=MAX_SILENCE_MINUTES).contains(m))
                        .ok_or_else(|| {
                            format!(
                                "the silence threshold {text:?} is not a number of minutes from 1 to {MAX_SILENCE_MINUTES}"
                            )
                        })?,
                ),
            },
        })
    }
}

impl ConnectionSettings {
    /// The settings as a form shows them.
    pub fn draft(&self) -> ConnectionDraft {
        ConnectionDraft {
            slug: self.slug.to_string(),
            provider: self.provider.as_str().to_owned(),
            display_name: self.display_name.clone(),
            account_id: self.account_id.clone().unwrap_or_default(),
            app_id: self.app_id.clone().unwrap_or_default(),
            timezone: self.timezone.as_str().to_owned(),
            query_base_url: self
                .query_base_url
                .as_ref()
                .map(|u| u.as_str().to_owned())
                .unwrap_or_default(),
            source_allowlist: self.source_allowlist.entries(),
            enabled: self.enabled,
            silence_after_minutes: self
                .silence_after_minutes
                .map(|m| m.to_string())
                .unwrap_or_default(),
        }
    }
}

/// Where a provider's status-query API lives: an `https://` (or, for a
/// simulator on this machine, `http://`) address without query or fragment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryBaseUrl(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a query API address (https://host[/path], no query string)")]
pub struct UrlError(pub String);

impl QueryBaseUrl {
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        let text = text.trim().trim_end_matches('/');
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"));
        let valid = rest.is_some_and(|r| {
            !r.is_empty()
                && !r.starts_with('/')
                && !r.contains(['?', '#', ' ', '\\'])
                && r.chars().all(|c| c.is_ascii_graphic())
        });
        if valid {
            Ok(Self(text.to_owned()))
        } else {
            Err(UrlError(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PingPong's documented senders, as its profile names them.
    const PRESETS: &[AddressPreset] = crate::providers::pingpong::PROFILE.sender_presets;

    #[test]
    fn slugs_are_lower_case_words_joined_by_single_hyphens() {
        for good in ["pingpong-main", "botim2", "a", &"a".repeat(64)] {
            assert!(ConnectionSlug::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "PingPong",
            "ping pong",
            "-main",
            "main-",
            "ping--pong",
            "ping_pong",
            "pïng",
            &"a".repeat(65),
        ] {
            assert!(ConnectionSlug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn query_addresses_are_http_urls_without_query_strings() {
        assert_eq!(
            QueryBaseUrl::parse("https://acquirer-payment.pingpongx.com/")
                .unwrap()
                .as_str(),
            "https://acquirer-payment.pingpongx.com"
        );
        assert!(QueryBaseUrl::parse("http://127.0.0.1:4000/api").is_ok());
        for bad in [
            "ftp://x",
            "https://",
            "https:///x",
            "https://x?a=1",
            "x.com",
            "https://a b",
        ] {
            assert!(QueryBaseUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_draft_validates_every_field_and_round_trips() {
        let draft = ConnectionDraft {
            slug: "pingpong-eu".into(),
            provider: "pingpong".into(),
            display_name: " PingPong EU ".into(),
            account_id: "2022102018024210348882".into(),
            app_id: " ".into(),
            timezone: "Asia/Shanghai".into(),
            query_base_url: "https://sandbox-acquirer-payment.pingpongx.com".into(),
            source_allowlist: vec!["pingpong-sandbox".into(), "".into()],
            enabled: true,
            silence_after_minutes: " 90 ".into(),
        };
        let settings = draft.validate(PRESETS).unwrap();
        assert_eq!(settings.display_name, "PingPong EU");
        assert_eq!(settings.app_id, None);
        assert_eq!(settings.source_allowlist.entries(), ["52.76.198.228/32"]);
        assert_eq!(settings.silence_after_minutes, Some(90));
        assert_eq!(settings.draft().validate(PRESETS).unwrap(), settings);

        let bad = |change: fn(&mut ConnectionDraft)| {
            let mut d = draft.clone();
            change(&mut d);
            d.validate(PRESETS).unwrap_err()
        };
        assert!(bad(|d| d.slug = "Bad Slug".into()).contains("connection slug"));
        assert!(bad(|d| d.provider = "stripe".into()).contains("unknown provider"));
        assert!(bad(|d| d.timezone = "Mars/Base".into()).contains("time zone"));
        assert!(bad(|d| d.query_base_url = "ftp://x".into()).contains("query API address"));
        assert!(bad(|d| d.source_allowlist = vec!["nowhere".into()]).contains("nowhere"));
        assert!(bad(|d| d.display_name = "a\u{0}b".into()).contains("control characters"));
        assert!(bad(|d| d.account_id = "1\n2".into()).contains("control characters"));
        assert!(bad(|d| d.app_id = "x".repeat(201)).contains("more than 200"));
        assert!(bad(|d| d.display_name = "x".repeat(101)).contains("more than 100"));
        assert!(bad(|d| d.source_allowlist = vec!["10.0.0.1".into(); 101]).contains("100 entries"));
        for silence in ["0", "-5", "1.5", "soon", "527041"] {
            let mut d = draft.clone();
            d.silence_after_minutes = silence.into();
            assert!(
                d.validate(PRESETS)
                    .unwrap_err()
                    .contains("silence threshold"),
                "{silence}"
            );
        }
        let mut longest = draft.clone();
        longest.silence_after_minutes = MAX_SILENCE_MINUTES.to_string();
        assert!(longest.validate(PRESETS).is_ok());
        longest.silence_after_minutes = String::new();
        assert_eq!(
            longest.validate(PRESETS).unwrap().silence_after_minutes,
            None
        );
        let mut markup = draft.clone();
        markup.display_name = "<b>PingPong</b> & co".into();
        assert_eq!(
            markup.validate(PRESETS).unwrap().display_name,
            "<b>PingPong</b> & co",
            "markup is text: escaped where shown, never refused"
        );
    }

    #[test]
    fn providers_round_trip_through_their_names() {
        assert_eq!(ProviderKind::PingPong.display_name(), "PingPong Checkout");
        assert_eq!(ProviderKind::BotimMoney.display_name(), "Botim Money");
        assert_eq!(ProviderKind::PayerMax.display_name(), "PayerMax");
    }

    #[test]
    fn a_slug_reads_back_as_written() {
        let slug = ConnectionSlug::parse("pingpong-main").unwrap();
        assert_eq!(
            (slug.as_str(), slug.to_string().as_str()),
            ("pingpong-main", "pingpong-main")
        );
    }

    #[test]
    fn an_allowlist_knows_when_it_is_empty() {
        assert!(SourceAllowlist::default().is_empty());
        assert!(!SourceAllowlist::parse(&["10.0.0.1"], &[])
            .unwrap()
            .is_empty());
    }

    #[test]
    fn the_limits_of_a_drafts_texts_are_inclusive() {
        let mut draft = ConnectionDraft {
            slug: "a".into(),
            provider: "pingpong".into(),
            display_name: "x".repeat(100),
            account_id: "1".repeat(200),
            source_allowlist: vec!["10.0.0.1".into(); 100],
            ..ConnectionDraft::default()
        };
        assert!(draft.validate(&[]).is_ok());
        draft.account_id.push('1');
        assert!(draft.validate(&[]).is_err());
        for p in ProviderKind::ALL {
            assert_eq!(p.as_str().parse::<ProviderKind>().unwrap(), p);
        }
        assert!("stripe".parse::<ProviderKind>().is_err());
    }

    #[test]
    fn an_allowlist_takes_addresses_and_ranges() {
        let list = SourceAllowlist::parse(&["3.125.243.2", "10.1.0.0/16", "::1"], &[]).unwrap();
        assert!(list.allows("3.125.243.2".parse().unwrap()));
        assert!(list.allows("10.1.200.7".parse().unwrap()));
        assert!(list.allows("::1".parse().unwrap()));
        assert!(!list.allows("10.2.0.1".parse().unwrap()));
        assert!(!list.allows("3.125.243.3".parse().unwrap()));
        assert_eq!(list.entries(), ["3.125.243.2/32", "10.1.0.0/16", "::1/128"]);
    }

    #[test]
    fn presets_expand_to_their_addresses() {
        let list = SourceAllowlist::parse(
            &["pingpong-production", "pingpong-sandbox", "3.125.243.2"],
            PRESETS,
        )
        .unwrap();
        assert_eq!(list.entries().len(), 5, "no address twice");
        for address in [
            "3.125.243.2",
            "3.126.196.22",
            "18.195.199.34",
            "188.239.12.25",
            "52.76.198.228",
        ] {
            assert!(list.allows(address.parse().unwrap()), "{address}");
        }
    }

    #[test]
    fn ipv4_mapped_senders_match_ipv4_entries() {
        let list = SourceAllowlist::parse(&["52.76.198.228"], &[]).unwrap();
        assert!(list.allows("::ffff:52.76.198.228".parse().unwrap()));
    }

    #[test]
    fn an_unknown_sender_is_admitted_only_where_everyone_is() {
        let list = SourceAllowlist::parse(&["0.0.0.0/0", "::/0"], &[]).unwrap();
        assert!(list.admits(Sender::Address("192.0.2.1".parse().unwrap())));
        assert!(!list.admits(Sender::Unknown));
        assert!(SourceAllowlist::default().admits(Sender::Unknown));
    }

    #[test]
    fn an_empty_allowlist_allows_everyone_and_garbage_is_refused() {
        assert!(SourceAllowlist::default().allows("192.0.2.1".parse().unwrap()));
        assert_eq!(
            SourceAllowlist::parse(&["10.0.0.0/33"], PRESETS),
            Err(AllowlistError("10.0.0.0/33".into()))
        );
        assert!(SourceAllowlist::parse(&["pingpong.com"], PRESETS).is_err());
        assert!(
            SourceAllowlist::parse(&["pingpong-sandbox"], &[]).is_err(),
            "a preset exists only where it is offered"
        );
    }
}
