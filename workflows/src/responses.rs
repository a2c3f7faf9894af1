//! Preparing a response: a draft for the dispute's stage with its letter
//! filled from what the desk knows, the checklist it is held to (the
//! provider's, when it said, else the desk's table for its kind of
//! dispute), making it ready, and its packet built from its files.

use std::collections::BTreeMap;

use dispute_core::{
    domain::evidence::{
        checklist, default_template, not_ready_because, usual_needs, ChecklistItem,
        ChecklistSource, Defence, Letter, LetterTemplate, Needed, ResponseState, Summary,
    },
    providers,
};
use dispute_store::{
    Actor, DisputeRecord, EvidenceFile, PaymentRecord, Prepared, ResponseRecord, ResponseRefusal,
    Store, StoreError,
};
use futures_util::TryStreamExt;

use crate::packet::{Cover, Exhibit, Packet, PacketRefusal, Packets};

/// The kind of dispute a response argues, from its reason.
pub fn defence(dispute: &DisputeRecord) -> Defence {
    Defence::of(dispute.reason_code.as_deref(), dispute.reason.as_deref())
}

/// The template for a kind of dispute: the admins' own, or the desk's.
pub async fn template(store: &Store, defence: Defence) -> Result<LetterTemplate, StoreError> {
    let own = store.letter_template(defence).await?;
    Ok(own
        .and_then(|text| LetterTemplate::parse(&text).ok())
        .unwrap_or_else(|| default_template(defence)))
}

/// What a letter's placeholders are filled with.
pub fn letter_facts(
    dispute: &DisputeRecord,
    payments: &[PaymentRecord],
    today: jiff::civil::Date,
) -> BTreeMap<&'static str, String> {
    let day = |at: jiff::Timestamp| at.strftime("%-d %B %Y").to_string();
    let reason = match (&dispute.reason, &dispute.reason_code) {
        (Some(reason), Some(code)) => format!("{reason} ({code})"),
        (Some(reason), None) => reason.clone(),
        (None, Some(code)) => code.clone(),
        (None, None) => String::new(),
    };
    let history = payments
        .iter()
        .map(|p| {
            let mut line = format!("- {} {}", p.kind, p.status);
            if let Some(amount) = &p.amount {
                line.push_str(&format!(", {amount}"));
            }
            line.push_str(&format!(", payment {}", p.payment_reference));
            if let Some(op) = &p.operation_reference {
                line.push_str(&format!(", operation {op}"));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n");
    BTreeMap::from([
        ("dispute_reference", dispute.dispute_ref.clone()),
        ("provider", dispute.provider.display_name().to_owned()),
        (
            "amount",
            dispute
                .amount
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        ),
        ("reason", reason),
        ("opened", day(dispute.opened_at)),
        ("respond_by", dispute.deadline.map(day).unwrap_or_default()),
        (
            "merchant_order",
            dispute.merchant_reference.clone().unwrap_or_default(),
        ),
        (
            "original_transaction",
            dispute.payment_reference.clone().unwrap_or_default(),
        ),
        ("payment_history", history),
        ("today", today.strftime("%-d %B %Y").to_string()),
    ])
}

/// The draft for the dispute's current stage, its letter filled from the
/// template for its kind; the existing one if the stage has one.
pub async fn prepare(
    store: &Store,
    dispute: &DisputeRecord,
    actor: &Actor,
    subject: &str,
) -> Result<Prepared, StoreError> {
    let payments = store.payments_of_dispute(dispute.id).await?;
    let template = template(store, defence(dispute)).await?;
    let today = jiff::Zoned::now().date();
    let filled = template.fill(&letter_facts(dispute, &payments, today));
    // A filled template can only pass its own bounds by a provider's long
    // values; the analyst then starts from an empty letter.
    let letter = Letter::parse(&filled).unwrap_or_default();
    store
        .prepare_response(dispute.id, &letter, actor, subject)
        .await
}

/// What a response needs, and where the list came from.
pub fn needs(response: &ResponseRecord, dispute: &DisputeRecord) -> (Vec<Needed>, ChecklistSource) {
    match &response.provider_checklist {
        Some((needs, at)) => (needs.clone(), ChecklistSource::Provider(*at)),
        None => {
            let defence = defence(dispute);
            (
                usual_needs(defence).to_vec(),
                ChecklistSource::Table(defence),
            )
        }
    }
}

/// The checklist against the files a response holds.
pub fn items(needs: &[Needed], files: &[EvidenceFile]) -> Vec<ChecklistItem> {
    let held: Vec<_> = files.iter().map(|f| f.document).collect();
    checklist(needs, &held)
}

/// Makes a draft ready, unless a mandatory document is missing, its letter
/// is empty, or its provider takes a summary and it has none.
pub async fn make_ready(
    store: &Store,
    response: &ResponseRecord,
    dispute: &DisputeRecord,
    actor: &Actor,
    subject: &str,
) -> Result<(), ResponseRefusal> {
    let (needs, _) = needs(response, dispute);
    let takes_summary = providers::profile(dispute.provider).takes_summary;
    store
        .move_response(
            response.id,
            ResponseState::Draft,
            ResponseState::Ready,
            |held, now| {
                let items = checklist(&needs, held);
                let letter = Letter::parse(&now.letter).unwrap_or_default();
                let summary = Summary::parse(&now.summary).unwrap_or_default();
                let why = not_ready_because(&items, &letter, &summary, takes_summary);
                (!why.is_empty()).then(|| {
                    let mut why = why.join("; ");
                    if let Some(first) = why.get_mut(..1) {
                        first.make_ascii_uppercase();
                    }
                    format!("Not ready: {why}.")
                })
            },
            actor,
            subject,
        )
        .await
}

/// Why a packet could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PacketError {
    #[error(transparent)]
    Refused(#[from] PacketRefusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The response's packet: its cover from the dispute and the letter, its
/// files that can be shown, in the order they were added.
pub async fn packet(
    store: &Store,
    packets: &Packets,
    response: &ResponseRecord,
    dispute: &DisputeRecord,
    limits: dispute_core::domain::evidence::EvidenceLimits,
) -> Result<Packet, PacketError> {
    let files: Vec<_> = store
        .evidence_files(response.id)
        .await?
        .into_iter()
        .filter(|f| f.format.goes_in_packet())
        .collect();
    // The exhibits' pages were counted when they arrived: a packet that
    // cannot fit is refused before any of them is read.
    let pages = 1 + files.iter().filter_map(|f| f.pages).sum::<u32>();
    if pages > limits.packet_pages {
        return Err(PacketRefusal::TooManyPages {
            pages,
            limit: limits.packet_pages,
            over: pages - limits.packet_pages,
        }
        .into());
    }
    let turn = packets.turn().await?;
    let mut exhibits = Vec::new();
    for file in &files {
        let bytes: Vec<Vec<u8>> = store.evidence_bytes(file.id).try_collect().await?;
        exhibits.push(Exhibit {
            title: file.document.label().to_owned(),
            name: file.name.clone(),
            format: file.format,
            bytes: bytes.concat(),
        });
    }
    let mut facts = vec![
        ("Dispute".to_owned(), dispute.dispute_ref.clone()),
        (
            "Provider".to_owned(),
            format!(
                "{} ({})",
                dispute.provider.display_name(),
                dispute.connection_slug
            ),
        ),
        ("Stage".to_owned(), response.stage.label().to_owned()),
    ];
    let optional = [
        ("Amount", dispute.amount.as_ref().map(ToString::to_string)),
        ("Reason", dispute.reason.clone()),
        ("Reason code", dispute.reason_code.clone()),
        ("Merchant order", dispute.merchant_reference.clone()),
        ("Original transaction", dispute.payment_reference.clone()),
    ];
    facts.extend(
        optional
            .into_iter()
            .filter_map(|(label, value)| Some((label.to_owned(), value?))),
    );
    if providers::profile(dispute.provider).takes_summary && !response.summary.is_empty() {
        facts.push(("Summary".to_owned(), response.summary.clone()));
    }
    let cover = Cover {
        title: format!("Response to dispute {}", dispute.dispute_ref),
        facts,
        letter: response.letter.clone(),
    };
    Ok(packets.build(turn, cover, exhibits, limits).await?)
}
