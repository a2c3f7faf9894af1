//! Sending a response through a provider, as data: which steps a decision
//! takes with each provider (and whether it reaches the provider at all),
//! the signed request for each step and what its verified answer says.
//! Each provider's own calls are in its module (`pingpong/respond.rs`).

use crate::domain::{
    evidence::{DocumentKind, FileKind},
    submission::{Channel, Decision, Step},
    ProviderKind,
};

/// One document to send.
#[derive(Debug, Clone, Copy)]
pub struct Supplied<'a> {
    pub document: DocumentKind,
    pub format: FileKind,
    pub bytes: &'a [u8],
}

/// What a step sends besides the dispute: a supply's documents, and a
/// reply's summary, the links the provider fetches the files from, the
/// merchant's id for the buyer, and the time it is sent.
#[derive(Debug, Clone, Copy)]
pub struct StepInput<'a> {
    pub documents: &'a [Supplied<'a>],
    pub summary: &'a str,
    pub links: &'a [String],
    pub customer: &'a str,
    pub now: jiff::Timestamp,
}

/// What a provider said to one step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepAnswer {
    Done,
    /// The provider has the dispute's decision already (PingPong's
    /// `DefendExist` to a defence or an acceptance): done, when an earlier
    /// attempt of this very step may have reached it unanswered; refused,
    /// in these words, otherwise.
    DecidedAlready(String),
    /// Refused, in words for an analyst; `retry` when trying again later
    /// can succeed (the provider's own failure), not when the provider will
    /// refuse the same again.
    Refused {
        code: String,
        words: String,
        retry: bool,
    },
}

/// Why a step's request could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsendable {
    #[error("the connection has no salt to sign with")]
    NoSalt,
    #[error("PingPong takes PDF, JPEG and TIFF documents, not {0}")]
    Format(&'static str),
    #[error("{0} has no such call")]
    NotThisProvider(&'static str),
    #[error("the connection has no {0}")]
    Missing(&'static str),
    #[error("{0}")]
    Files(String),
}

/// How `decision` reaches `provider`, and in which steps, for a response
/// holding files of `documents` (in the order they are uploaded); `None`
/// when the desk cannot send it (it can still be recorded as sent outside
/// the desk).
pub fn plan(
    provider: ProviderKind,
    decision: Decision,
    documents: &[DocumentKind],
) -> Option<(Channel, Vec<Step>)> {
    match (provider, decision) {
        // Upload each kind of document, make sure PingPong counts them
        // complete, then defend: PingPong's own order (RESPONDING.md).
        (ProviderKind::PingPong, Decision::Defend) => {
            let mut kinds = documents.to_vec();
            kinds.sort();
            kinds.dedup();
            let mut steps: Vec<Step> = kinds.into_iter().map(Step::Supply).collect();
            steps.extend([Step::Check, Step::Defend]);
            Some((Channel::Provider, steps))
        }
        (ProviderKind::PingPong, Decision::Accept) => Some((Channel::Provider, vec![Step::Accept])),
        // PayerMax has no accept call: a case left unanswered closes as
        // lost at its expiry. Botim Money has no response API at all.
        (ProviderKind::PayerMax | ProviderKind::BotimMoney, Decision::Accept) => {
            Some((Channel::Outside, Vec::new()))
        }
        // One `caseReplay`: the summary, and the files as links PayerMax
        // fetches.
        (ProviderKind::PayerMax, Decision::Defend) => Some((Channel::Provider, vec![Step::Replay])),
        // Botim Money's defences go through its merchant support.
        (ProviderKind::BotimMoney, Decision::Defend) => None,
    }
}

/// Why a defence to `provider` is not sent from the desk (`plan` gave
/// none).
pub fn not_sendable(provider: ProviderKind) -> String {
    let name = provider.display_name();
    format!(
        "Dispute Desk does not send defences to {name}: send the response through {name}'s own channel, then record it here as sent outside the desk."
    )
}

/// The formats `provider` takes a document in as it is; anything else is
/// converted (a PNG to JPEG) before it is sent.
pub fn sends_as(provider: ProviderKind) -> &'static [FileKind] {
    match provider {
        ProviderKind::PingPong => &[FileKind::Pdf, FileKind::Jpeg, FileKind::Tiff],
        ProviderKind::BotimMoney | ProviderKind::PayerMax => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pingpong_uploads_each_kind_once_then_checks_then_defends() {
        let (channel, steps) = plan(
            ProviderKind::PingPong,
            Decision::Defend,
            &[
                DocumentKind::Shipping,
                DocumentKind::Invoice,
                DocumentKind::Shipping,
            ],
        )
        .unwrap();
        assert_eq!(channel, Channel::Provider);
        assert_eq!(
            steps,
            [
                Step::Supply(DocumentKind::Invoice),
                Step::Supply(DocumentKind::Shipping),
                Step::Check,
                Step::Defend
            ]
        );
        assert_eq!(
            plan(
                ProviderKind::PingPong,
                Decision::Accept,
                &[DocumentKind::Invoice]
            ),
            Some((Channel::Provider, vec![Step::Accept]))
        );
    }

    #[test]
    fn payermax_replies_once_and_what_has_no_call_is_recorded() {
        for provider in [ProviderKind::BotimMoney, ProviderKind::PayerMax] {
            assert_eq!(
                plan(provider, Decision::Accept, &[]),
                Some((Channel::Outside, vec![]))
            );
        }
        assert_eq!(plan(ProviderKind::BotimMoney, Decision::Defend, &[]), None);
        assert_eq!(
            plan(
                ProviderKind::PayerMax,
                Decision::Defend,
                &[DocumentKind::Invoice, DocumentKind::Other]
            ),
            Some((Channel::Provider, vec![Step::Replay]))
        );
        assert!(sends_as(ProviderKind::PingPong).contains(&FileKind::Tiff));
        assert!(!sends_as(ProviderKind::PingPong).contains(&FileKind::Png));
    }
}
