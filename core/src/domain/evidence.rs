//! Evidence for a response, pure: the one vocabulary of documents (each
//! provider's module maps it to its codes), what a file is by its content,
//! the names a file is shown and sent by, what a dispute usually needs by
//! its kind (`core/data/evidence-checklist.csv`, kept with its sources), and
//! the limits a response and its packet are held to.

use std::{collections::BTreeMap, fmt, str::FromStr, sync::LazyLock};

use serde::{Deserialize, Serialize};

use super::{dispute::text_enum, dispute::UnknownName, reasons, Stage, Status};

/// What a document is to the dispute (not what format its file is in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Invoice,
    Shipping,
    ProductDescription,
    DeliveryPhoto,
    CardholderLetter,
    CustomerCommunication,
    RefundPolicy,
    Other,
}

text_enum!(DocumentKind, "kind of document", {
    DocumentKind::Invoice => "invoice",
    DocumentKind::Shipping => "shipping",
    DocumentKind::ProductDescription => "product_description",
    DocumentKind::DeliveryPhoto => "delivery_photo",
    DocumentKind::CardholderLetter => "cardholder_letter",
    DocumentKind::CustomerCommunication => "customer_communication",
    DocumentKind::RefundPolicy => "refund_policy",
    DocumentKind::Other => "other",
});

impl DocumentKind {
    /// The name analysts read.
    pub fn label(self) -> &'static str {
        match self {
            DocumentKind::Invoice => "Invoice or transaction record",
            DocumentKind::Shipping => "Shipping and tracking",
            DocumentKind::ProductDescription => "Product description",
            DocumentKind::DeliveryPhoto => "Photo of the goods delivered",
            DocumentKind::CardholderLetter => "Cardholder's signed letter",
            DocumentKind::CustomerCommunication => "Messages with the customer",
            DocumentKind::RefundPolicy => "Cancellation and refund policy",
            DocumentKind::Other => "Other evidence",
        }
    }
}

/// A file's format, decided by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileKind {
    Pdf,
    Jpeg,
    Png,
    Tiff,
    Zip,
    /// A Word 97–2003 or Excel 97–2003 file: both are OLE compound files,
    /// the same first bytes.
    Office97,
}

text_enum!(FileKind, "file format", {
    FileKind::Pdf => "pdf",
    FileKind::Jpeg => "jpeg",
    FileKind::Png => "png",
    FileKind::Tiff => "tiff",
    FileKind::Zip => "zip",
    FileKind::Office97 => "office97",
});

/// The most pixels a picture may have: more than any phone takes (108
/// megapixels), few enough that decoding one for the packet stays within
/// a few hundred MB.
pub const MAX_PICTURE_PIXELS: u64 = 120_000_000;

/// How many first bytes `FileKind::sniff` needs.
pub const SNIFF_LEN: usize = 8;

impl FileKind {
    /// The format `first` (a file's first `SNIFF_LEN` bytes, or all of a
    /// shorter file) begins, if any this desk knows. A PDF may have a few
    /// bytes before its header, as readers allow; nothing else may.
    pub fn sniff(first: &[u8]) -> Option<FileKind> {
        const SIGNATURES: &[(&[u8], FileKind)] = &[
            (b"%PDF-", FileKind::Pdf),
            (&[0xFF, 0xD8, 0xFF], FileKind::Jpeg),
            (
                &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A],
                FileKind::Png,
            ),
            (b"II*\0", FileKind::Tiff),
            (b"MM\0*", FileKind::Tiff),
            (b"PK\x03\x04", FileKind::Zip),
            (
                &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1],
                FileKind::Office97,
            ),
        ];
        SIGNATURES
            .iter()
            .find(|(signature, _)| first.starts_with(signature))
            .map(|(_, kind)| *kind)
    }

    pub fn label(self) -> &'static str {
        match self {
            FileKind::Pdf => "PDF",
            FileKind::Jpeg => "JPEG",
            FileKind::Png => "PNG",
            FileKind::Tiff => "TIFF",
            FileKind::Zip => "ZIP",
            FileKind::Office97 => "DOC or XLS",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            FileKind::Pdf => "application/pdf",
            FileKind::Jpeg => "image/jpeg",
            FileKind::Png => "image/png",
            FileKind::Tiff => "image/tiff",
            FileKind::Zip => "application/zip",
            FileKind::Office97 => "application/x-ole-storage",
        }
    }

    /// The extension of the name a provider is sent (PayerMax reads a
    /// file's type from it).
    pub fn extension(self) -> &'static str {
        match self {
            FileKind::Pdf => "pdf",
            FileKind::Jpeg => "jpg",
            FileKind::Png => "png",
            FileKind::Tiff => "tif",
            FileKind::Zip => "zip",
            FileKind::Office97 => "doc",
        }
    }

    /// Whether the packet can show it: PDFs' pages, and pictures.
    pub fn goes_in_packet(self) -> bool {
        matches!(
            self,
            FileKind::Pdf | FileKind::Jpeg | FileKind::Png | FileKind::Tiff
        )
    }
}

/// Why a file was refused for its content, in words that say what is
/// accepted. `accepted` is the provider's list.
pub fn refused_format(found: Option<FileKind>, accepted: &[FileKind]) -> String {
    let list = accepted
        .iter()
        .map(|k| k.label())
        .collect::<Vec<_>>()
        .join(", ");
    match found {
        Some(kind) => format!(
            "This file is a {}, which this provider does not take. Accepted: {list}.",
            kind.label()
        ),
        None => format!(
            "This file is not one of the accepted formats ({list}); its content decides, not its name."
        ),
    }
}

/// The longest name kept for people.
pub const MAX_FILE_NAME: usize = 200;
/// The longest stem of a name made for providers.
const MAX_SAFE_STEM: usize = 60;

/// A file's name as people are shown it: the last path segment of what the
/// browser sent, without control or bidirectional formatting characters
/// (which could make `exe.pdf` read as `fdp.exe`), at most
/// `MAX_FILE_NAME` characters, never empty. A label only, never a path.
pub fn display_name(sent: &str) -> String {
    let last = sent.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_bidi_control(*c))
        .collect();
    let cleaned = cleaned.trim();
    let kept = super::text::cut(cleaned, MAX_FILE_NAME);
    if kept.is_empty() || kept == "." || kept == ".." {
        "unnamed file".to_owned()
    } else {
        kept
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// The name a provider is sent: ASCII letters, digits, `-`, `_` and one
/// `.` before the extension of the format the content is (PayerMax's rule),
/// from the person's name where it has such characters.
pub fn safe_name(display: &str, kind: FileKind) -> String {
    let stem = display.rsplit_once('.').map_or(display, |(stem, _)| stem);
    let mut safe = String::new();
    for c in stem.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            safe.push(c);
        } else if !safe.ends_with('-') {
            safe.push('-');
        }
    }
    let safe: String = safe.trim_matches('-').chars().take(MAX_SAFE_STEM).collect();
    let safe = safe.trim_end_matches('-');
    let stem = if safe.is_empty() { "exhibit" } else { safe };
    format!("{stem}.{}", kind.extension())
}

/// The kinds of dispute a response's evidence differs by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Defence {
    Fraud,
    NotReceived,
    NotAsDescribed,
    Duplicate,
    CreditNotProcessed,
    CancelledRecurring,
    Other,
}

text_enum!(Defence, "kind of defence", {
    Defence::Fraud => "fraud",
    Defence::NotReceived => "not_received",
    Defence::NotAsDescribed => "not_as_described",
    Defence::Duplicate => "duplicate",
    Defence::CreditNotProcessed => "credit_not_processed",
    Defence::CancelledRecurring => "cancelled_recurring",
    Defence::Other => "other",
});

impl Defence {
    pub fn label(self) -> &'static str {
        match self {
            Defence::Fraud => "Fraud: the cardholder says they did not make it",
            Defence::NotReceived => "Not received",
            Defence::NotAsDescribed => "Not as described or defective",
            Defence::Duplicate => "Duplicate or paid another way",
            Defence::CreditNotProcessed => "Credit not processed",
            Defence::CancelledRecurring => "Cancelled recurring payment",
            Defence::Other => "Other",
        }
    }

    /// The kind of dispute a reason code (the networks' table) or, failing
    /// that, a provider's reason in words points to.
    pub fn of(reason_code: Option<&str>, reason: Option<&str>) -> Defence {
        if let Some(defence) = reason_code
            .and_then(reasons::guide)
            .and_then(|g| g.defence.parse().ok())
        {
            return defence;
        }
        let words = reason.unwrap_or_default().to_lowercase().replace('_', " ");
        const WORDS: &[(&[&str], Defence)] = &[
            (&["recurring", "subscription"], Defence::CancelledRecurring),
            (&["duplicate", "paid by other"], Defence::Duplicate),
            (&["credit not", "refund"], Defence::CreditNotProcessed),
            (
                &[
                    "not received",
                    "no received",
                    "non-receipt",
                    "undelivered",
                    "not provided",
                ],
                Defence::NotReceived,
            ),
            (
                &[
                    "not as described",
                    "defective",
                    "damaged",
                    "wrong goods",
                    "counterfeit",
                    "quality",
                ],
                Defence::NotAsDescribed,
            ),
            (&["fraud", "unauthori", "not recogni"], Defence::Fraud),
        ];
        WORDS
            .iter()
            .find(|(needles, _)| needles.iter().any(|n| words.contains(n)))
            .map_or(Defence::Other, |(_, defence)| *defence)
    }
}

/// How much a response needs a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    Mandatory,
    Conditional,
    Optional,
}

text_enum!(Requirement, "requirement", {
    Requirement::Mandatory => "mandatory",
    Requirement::Conditional => "conditional",
    Requirement::Optional => "optional",
});

impl Requirement {
    pub fn label(self) -> &'static str {
        match self {
            Requirement::Mandatory => "Required",
            Requirement::Conditional => "Required when it applies",
            Requirement::Optional => "Helps",
        }
    }
}

/// One document a dispute needs, and what it proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Needed {
    pub document: DocumentKind,
    pub requirement: Requirement,
    pub proves: String,
}

/// Where a checklist came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChecklistSource {
    /// The provider said, at this time.
    Provider(jiff::Timestamp),
    /// The desk's own table, for this kind of dispute.
    Table(Defence),
}

#[derive(Debug, Deserialize)]
struct ChecklistRow {
    defence: String,
    document: String,
    requirement: String,
    proves: String,
}

const CHECKLIST_TABLE: &str = include_str!("../../data/evidence-checklist.csv");

static CHECKLISTS: LazyLock<BTreeMap<Defence, Vec<Needed>>> = LazyLock::new(|| {
    let mut by_defence: BTreeMap<Defence, Vec<Needed>> = BTreeMap::new();
    let rows = csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .from_reader(CHECKLIST_TABLE.as_bytes())
        .into_deserialize::<ChecklistRow>();
    for row in rows {
        let row = row.expect("the checklist table is valid (a unit test reads it)");
        by_defence
            .entry(row.defence.parse().expect("a known defence"))
            .or_default()
            .push(Needed {
                document: row.document.parse().expect("a known document"),
                requirement: row.requirement.parse().expect("a known requirement"),
                proves: row.proves,
            });
    }
    by_defence
});

/// What a dispute of this kind usually needs, from the desk's table.
pub fn usual_needs(defence: Defence) -> &'static [Needed] {
    CHECKLISTS.get(&defence).map_or(&[], Vec::as_slice)
}

/// What a document usually proves, whatever the dispute (for a provider's
/// list, which says what but not why).
pub fn usually_proves(document: DocumentKind) -> &'static str {
    match document {
        DocumentKind::Invoice => "What was bought, when, and for how much",
        DocumentKind::Shipping => "The goods were shipped and delivered: carrier, tracking, date",
        DocumentKind::ProductDescription => "What was sold matches its description",
        DocumentKind::DeliveryPhoto => "The goods as delivered",
        DocumentKind::CardholderLetter => "The cardholder withdrew the dispute in writing",
        DocumentKind::CustomerCommunication => "What the buyer and the merchant said",
        DocumentKind::RefundPolicy => "The terms the buyer accepted",
        DocumentKind::Other => "Anything else that shows the charge was valid",
    }
}

/// One line of a response's checklist: a need, and whether a file meets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistItem {
    pub need: Needed,
    pub satisfied: bool,
}

/// `needs` against the documents a response holds.
pub fn checklist(needs: &[Needed], held: &[DocumentKind]) -> Vec<ChecklistItem> {
    needs
        .iter()
        .map(|need| ChecklistItem {
            satisfied: held.contains(&need.document),
            need: need.clone(),
        })
        .collect()
}

/// Where a response is in its life. A response belongs to one stage of its
/// dispute; a later stage gets a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseState {
    Draft,
    Ready,
    Submitted,
    Answered,
}

text_enum!(ResponseState, "response state", {
    ResponseState::Draft => "draft",
    ResponseState::Ready => "ready",
    ResponseState::Submitted => "submitted",
    ResponseState::Answered => "answered",
});

impl ResponseState {
    pub fn label(self) -> &'static str {
        match self {
            ResponseState::Draft => "Draft",
            ResponseState::Ready => "Ready to send",
            ResponseState::Submitted => "Submitted",
            ResponseState::Answered => "Answered",
        }
    }
}

/// What happened to a response, as its history (and the timeline) keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseAction {
    Prepared,
    FileAdded,
    FileRemoved,
    TextSaved,
    MarkedReady,
    BackToDraft,
    ChecklistAsked,
}

text_enum!(ResponseAction, "response action", {
    ResponseAction::Prepared => "prepared",
    ResponseAction::FileAdded => "file_added",
    ResponseAction::FileRemoved => "file_removed",
    ResponseAction::TextSaved => "text_saved",
    ResponseAction::MarkedReady => "marked_ready",
    ResponseAction::BackToDraft => "back_to_draft",
    ResponseAction::ChecklistAsked => "checklist_asked",
});

impl ResponseAction {
    /// The audit log's name for it.
    pub fn audit_action(self) -> &'static str {
        match self {
            ResponseAction::Prepared => "response.prepared",
            ResponseAction::FileAdded => "response.file_added",
            ResponseAction::FileRemoved => "response.file_removed",
            ResponseAction::TextSaved => "response.text_saved",
            ResponseAction::MarkedReady => "response.marked_ready",
            ResponseAction::BackToDraft => "response.back_to_draft",
            ResponseAction::ChecklistAsked => "response.checklist_asked",
        }
    }

    /// The sentence the timeline shows; `detail` is a file's name or the
    /// stage, as the history kept it.
    pub fn words(self, detail: &str) -> String {
        match self {
            ResponseAction::Prepared => {
                format!("Prepared a response to the {}", detail.to_lowercase())
            }
            ResponseAction::FileAdded => format!("Added evidence: {detail}"),
            ResponseAction::FileRemoved => format!("Removed evidence: {detail}"),
            ResponseAction::TextSaved => "Edited the response's letter and summary".to_owned(),
            ResponseAction::MarkedReady => "Marked the response ready to send".to_owned(),
            ResponseAction::BackToDraft => "Put the response back to draft".to_owned(),
            ResponseAction::ChecklistAsked => {
                format!("Asked the provider what the response needs: {detail}")
            }
        }
    }
}

/// Why a response cannot be changed now, if it cannot: only a draft for
/// the stage the dispute is at, while the dispute is not decided.
pub fn read_only_because(
    state: ResponseState,
    stage: Stage,
    dispute: (Option<Stage>, Option<Status>),
) -> Option<String> {
    match dispute {
        (_, Some(status)) if status.is_final() => Some(format!(
            "The dispute is decided ({}), so its response can no longer change.",
            status.label().to_lowercase()
        )),
        (Some(now), _) if now != stage => Some(format!(
            "The dispute has moved on to the {}; this response was for the {}.",
            now.label().to_lowercase(),
            stage.label().to_lowercase()
        )),
        _ => match state {
            ResponseState::Draft => None,
            ResponseState::Ready => {
                Some("The response is marked ready; put it back to draft to change it.".to_owned())
            }
            ResponseState::Submitted | ResponseState::Answered => Some(format!(
                "The response is {}; what was sent cannot change.",
                state.label().to_lowercase()
            )),
        },
    }
}

/// The longest summary a provider takes (PayerMax's `responseContent`).
pub const MAX_SUMMARY: usize = 256;
/// The longest letter kept.
pub const MAX_LETTER: usize = 20_000;

/// Why a response's text was refused, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ResponseTextError(pub String);

/// The short summary sent where a provider takes one: one line, at most
/// `MAX_SUMMARY` characters (as PayerMax counts them), may be empty in a
/// draft.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Summary(String);

impl Summary {
    pub fn parse(text: &str) -> Result<Self, ResponseTextError> {
        let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.chars().any(char::is_control) {
            return Err(ResponseTextError(
                "the summary cannot hold control characters".into(),
            ));
        }
        let count = line.chars().count();
        if count > MAX_SUMMARY {
            return Err(ResponseTextError(format!(
                "the summary is {count} characters; providers take at most {MAX_SUMMARY}, so {} must go",
                count - MAX_SUMMARY
            )));
        }
        Ok(Self(line))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The letter: at most `MAX_LETTER` characters, line breaks and tabs the
/// only control characters, may be empty in a draft.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Letter(String);

impl Letter {
    pub fn parse(text: &str) -> Result<Self, ResponseTextError> {
        let text = text.replace("\r\n", "\n");
        let text = text.trim_end();
        if text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(ResponseTextError(
                "the letter cannot hold control characters".into(),
            ));
        }
        let count = text.chars().count();
        if count > MAX_LETTER {
            return Err(ResponseTextError(format!(
                "the letter is {count} characters; at most {MAX_LETTER} are kept"
            )));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What stops a draft from being made ready, each in words; empty when
/// nothing does.
pub fn not_ready_because(
    items: &[ChecklistItem],
    letter: &Letter,
    summary: &Summary,
    needs_summary: bool,
) -> Vec<String> {
    let mut why: Vec<String> = items
        .iter()
        .filter(|i| i.need.requirement == Requirement::Mandatory && !i.satisfied)
        .map(|i| {
            format!(
                "{} is required and no file of that kind is attached",
                i.need.document.label()
            )
        })
        .collect();
    if letter.as_str().trim().is_empty() {
        why.push("the letter is empty".into());
    }
    if needs_summary && summary.as_str().is_empty() {
        why.push("the provider takes a summary and it is empty".into());
    }
    why
}

/// What a response and its packet are held to: the providers' published
/// figures unless the installation sets its own (bytes counted as the
/// providers count them, 1 MB = 1,000,000 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvidenceLimits {
    /// Adyen's limit for a JPEG or TIFF, the largest any provider names.
    pub file_bytes: u64,
    /// All of one response's files together.
    pub response_bytes: u64,
    /// Adyen's limit for a PDF (PingPong follows Adyen).
    pub packet_bytes: u64,
    /// Mastercard's limit for a chargeback's documents.
    pub packet_pages: u32,
}

impl Default for EvidenceLimits {
    fn default() -> Self {
        Self {
            file_bytes: 10_000_000,
            response_bytes: 50_000_000,
            packet_bytes: 2_000_000,
            packet_pages: 19,
        }
    }
}

/// A size as people read it (`1.5 MB`, `820 kB`, `12 bytes`), in the
/// providers' decimal units.
pub fn size_text(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} bytes"),
        1_000..1_000_000 => format!("{:.0} kB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}

/// What a letter template may say, each filled from what the desk knows.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    (
        "dispute_reference",
        "the provider's reference for the dispute",
    ),
    ("provider", "the provider's name"),
    ("amount", "the disputed amount with its currency"),
    ("reason", "the reason the provider gave, with its code"),
    ("opened", "the day the dispute was opened"),
    ("respond_by", "the deadline to respond"),
    ("merchant_order", "the merchant's order reference"),
    ("original_transaction", "the disputed payment's reference"),
    ("payment_history", "the payment's events, one per line"),
    ("today", "the day the letter is written"),
];

/// A template's text: every `{{name}}` it holds is one of `PLACEHOLDERS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LetterTemplate(String);

impl LetterTemplate {
    pub fn parse(text: &str) -> Result<Self, ResponseTextError> {
        let letter = Letter::parse(text)?;
        if letter.as_str().trim().is_empty() {
            return Err(ResponseTextError("a template cannot be empty".into()));
        }
        let mut rest = letter.as_str();
        while let Some(start) = rest.find("{{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err(ResponseTextError(
                    "a placeholder opened with {{ is not closed with }}".into(),
                ));
            };
            let name = after[..end].trim();
            if !PLACEHOLDERS.iter().any(|(known, _)| *known == name) {
                return Err(ResponseTextError(format!(
                    "{{{{{}}}}} is not a placeholder the desk can fill",
                    super::text::cut(name, 40)
                )));
            }
            rest = &after[end + 2..];
        }
        Ok(Self(letter.as_str().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The letter with every placeholder replaced by `facts`' value (or
    /// `[not known]`, for the analyst to fill in).
    pub fn fill(&self, facts: &BTreeMap<&'static str, String>) -> String {
        let mut out = String::with_capacity(self.0.len());
        let mut rest = self.0.as_str();
        while let Some(start) = rest.find("{{") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find("}}").expect("parse checked every placeholder");
            let name = after[..end].trim();
            match facts.get(name).filter(|v| !v.is_empty()) {
                Some(value) => out.push_str(value),
                None => out.push_str("[not known]"),
            }
            rest = &after[end + 2..];
        }
        out.push_str(rest);
        out
    }
}

/// The letter each kind of dispute starts from, until an admin changes it.
pub fn default_template(defence: Defence) -> LetterTemplate {
    let argument = match defence {
        Defence::Fraud => "The cardholder authorised this payment. The enclosed records show that the order, the billing details and the payment match, and that the cardholder took part in the purchase.",
        Defence::NotReceived => "The goods were delivered. The enclosed shipping records show the carrier, the tracking number and the date of delivery to the address the cardholder gave.",
        Defence::NotAsDescribed => "The goods were as described at the time of purchase. The enclosed description and records show what was sold, and the cardholder did not return the goods as our policy requires.",
        Defence::Duplicate => "The charges are separate purchases. The enclosed records show a separate order and invoice for each.",
        Defence::CreditNotProcessed => "No credit is owed. The enclosed policy, which the cardholder accepted, and our records show why.",
        Defence::CancelledRecurring => "The cardholder did not cancel before this charge. The enclosed terms, accepted at sign-up, and our records show the subscription was active when it was charged.",
        Defence::Other => "The charge is valid. The enclosed records show what was bought, when and for how much.",
    };
    LetterTemplate::parse(&format!(
        "{{{{today}}}}\n\nRe: dispute {{{{dispute_reference}}}} ({{{{provider}}}}), {{{{amount}}}}\nReason given: {{{{reason}}}}\nMerchant order {{{{merchant_order}}}}, original transaction {{{{original_transaction}}}}, opened {{{{opened}}}}.\n\n{argument}\n\nPayment history:\n{{{{payment_history}}}}\n\nWe ask that the dispute be decided in the merchant's favour."
    ))
    .expect("the default templates are valid")
}

impl fmt::Display for ChecklistSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChecklistSource::Provider(_) => f.write_str("the provider's list"),
            ChecklistSource::Table(defence) => {
                write!(f, "the desk's list for {}", defence.label().to_lowercase())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_decided_by_their_first_bytes() {
        assert_eq!(FileKind::sniff(b"%PDF-1.7\n"), Some(FileKind::Pdf));
        assert_eq!(
            FileKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(FileKind::Jpeg)
        );
        assert_eq!(FileKind::sniff(b"\x89PNG\r\n\x1a\n"), Some(FileKind::Png));
        assert_eq!(FileKind::sniff(b"II*\0\x08\0\0\0"), Some(FileKind::Tiff));
        assert_eq!(FileKind::sniff(b"MM\0*\0\0\0\x08"), Some(FileKind::Tiff));
        assert_eq!(FileKind::sniff(b"PK\x03\x04\x14\0"), Some(FileKind::Zip));
        assert_eq!(
            FileKind::sniff(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]),
            Some(FileKind::Office97)
        );
        assert_eq!(FileKind::sniff(b""), None);
        assert_eq!(FileKind::sniff(b"%PD"), None, "too short to be sure");
        assert_eq!(FileKind::sniff(b"<html><body>"), None);
        assert_eq!(FileKind::sniff(b"GIF89a"), None);
        assert_eq!(
            FileKind::sniff(b" %PDF-1.4"),
            None,
            "nothing before a header"
        );
    }

    #[test]
    fn every_format_has_its_names() {
        for kind in FileKind::ALL {
            assert_eq!(kind.as_str().parse::<FileKind>().unwrap(), *kind);
            assert!(kind.content_type().contains('/'));
            assert!(kind.extension().chars().all(|c| c.is_ascii_lowercase()));
        }
    }

    #[test]
    fn a_refusal_says_what_is_accepted() {
        let accepted = [FileKind::Pdf, FileKind::Jpeg];
        assert_eq!(
            refused_format(Some(FileKind::Zip), &accepted),
            "This file is a ZIP, which this provider does not take. Accepted: PDF, JPEG."
        );
        assert!(refused_format(None, &accepted).contains("(PDF, JPEG)"));
    }

    #[test]
    fn names_shown_lose_paths_controls_and_direction_marks() {
        assert_eq!(display_name("../../etc/passwd"), "passwd");
        assert_eq!(display_name("C:\\Users\\a\\invoice.pdf"), "invoice.pdf");
        assert_eq!(display_name("in\u{202E}fdp.exe"), "infdp.exe");
        assert_eq!(display_name("a\u{0}b\nc\u{7f}.pdf"), "abc.pdf");
        assert_eq!(
            display_name("<b>bold</b>.pdf"),
            "b>.pdf",
            "the last segment after /"
        );
        assert_eq!(
            display_name("<script>x.pdf"),
            "<script>x.pdf",
            "markup is escaped where shown, not here"
        );
        assert_eq!(display_name(""), "unnamed file");
        assert_eq!(display_name(".."), "unnamed file");
        assert_eq!(display_name("dir/"), "unnamed file");
        let long = "é".repeat(300) + ".pdf";
        let shown = display_name(&long);
        assert_eq!(
            shown.chars().count(),
            MAX_FILE_NAME + 1,
            "cut, with an ellipsis"
        );
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn names_for_providers_are_ascii_with_the_contents_extension() {
        assert_eq!(
            safe_name("Invoice 42 (final).PDF", FileKind::Pdf),
            "Invoice-42-final.pdf"
        );
        assert_eq!(safe_name("photo.pdf", FileKind::Png), "photo.png");
        assert_eq!(safe_name("счёт.pdf", FileKind::Pdf), "exhibit.pdf");
        assert_eq!(
            safe_name("unnamed file", FileKind::Jpeg),
            "unnamed-file.jpg"
        );
        assert_eq!(safe_name("..", FileKind::Tiff), "exhibit.tif");
        let long = safe_name(&"a".repeat(300), FileKind::Pdf);
        assert_eq!(long.len(), MAX_SAFE_STEM + 4);
        for name in ["a b/c", "x\u{202E}y", "<script>.pdf", "-lead-.pdf"] {
            let safe = safe_name(name, FileKind::Pdf);
            assert!(
                safe.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
                "{safe}"
            );
            assert_eq!(safe.matches('.').count(), 1);
            assert!(!safe.starts_with('-'));
        }
    }

    #[test]
    fn a_dispute_kind_comes_from_its_code_then_its_words() {
        assert_eq!(Defence::of(Some("13.1"), None), Defence::NotReceived);
        assert_eq!(
            Defence::of(Some("10.4"), Some("not received")),
            Defence::Fraud,
            "the code first"
        );
        assert_eq!(Defence::of(Some("4841"), None), Defence::CancelledRecurring);
        assert_eq!(Defence::of(Some("P08"), None), Defence::Duplicate);
        assert_eq!(Defence::of(Some("13.6"), None), Defence::CreditNotProcessed);
        assert_eq!(Defence::of(Some("C31"), None), Defence::NotAsDescribed);
        assert_eq!(Defence::of(Some("11.3"), None), Defence::Other);
        assert_eq!(Defence::of(None, Some("NO_RECEIVED")), Defence::NotReceived);
        assert_eq!(
            Defence::of(Some("zz"), Some("Merchandise Not Received")),
            Defence::NotReceived
        );
        assert_eq!(
            Defence::of(None, Some("WRONG_GOODS")),
            Defence::NotAsDescribed
        );
        assert_eq!(
            Defence::of(None, Some("Fraudulent transaction")),
            Defence::Fraud
        );
        assert_eq!(
            Defence::of(None, Some("Subscription cancelled")),
            Defence::CancelledRecurring
        );
        assert_eq!(
            Defence::of(None, Some("Refund not received")),
            Defence::CreditNotProcessed
        );
        assert_eq!(Defence::of(None, Some("Credit card fraud")), Defence::Fraud);
        assert_eq!(
            Defence::of(None, Some("Duplicate charge")),
            Defence::Duplicate
        );
        assert_eq!(Defence::of(None, None), Defence::Other);
    }

    #[test]
    fn every_kind_of_dispute_has_a_checklist_with_a_mandatory_item() {
        let lines = CHECKLIST_TABLE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .count();
        let rows: usize = Defence::ALL.iter().map(|d| usual_needs(*d).len()).sum();
        assert_eq!(rows, lines - 1, "every row is read");
        for defence in Defence::ALL {
            let needs = usual_needs(*defence);
            assert!(
                needs
                    .iter()
                    .any(|n| n.requirement == Requirement::Mandatory),
                "{defence}"
            );
            for need in needs {
                assert!(!need.proves.is_empty());
            }
        }
        for guide in reasons::all() {
            assert!(guide.defence.parse::<Defence>().is_ok(), "{}", guide.code);
        }
    }

    #[test]
    fn a_checklist_is_satisfied_by_files_of_its_kinds() {
        let needs = usual_needs(Defence::NotReceived);
        let items = checklist(needs, &[DocumentKind::Invoice]);
        let missing = not_ready_because(
            &items,
            &Letter::parse("x").unwrap(),
            &Summary::default(),
            false,
        );
        assert_eq!(
            missing,
            vec!["Shipping and tracking is required and no file of that kind is attached"]
        );
        let items = checklist(needs, &[DocumentKind::Invoice, DocumentKind::Shipping]);
        assert!(items
            .iter()
            .filter(|i| i.need.requirement == Requirement::Mandatory)
            .all(|i| i.satisfied));
        assert!(
            !items
                .iter()
                .find(|i| i.need.document == DocumentKind::DeliveryPhoto)
                .unwrap()
                .satisfied
        );
        let why = not_ready_because(&items, &Letter::default(), &Summary::default(), true);
        assert_eq!(
            why,
            vec![
                "the letter is empty",
                "the provider takes a summary and it is empty"
            ]
        );
        assert!(not_ready_because(
            &items,
            &Letter::parse("x").unwrap(),
            &Summary::parse("y").unwrap(),
            true
        )
        .is_empty());
    }

    #[test]
    fn a_summary_is_one_line_of_at_most_256_characters() {
        assert_eq!(
            Summary::parse("  two\nlines\t here ").unwrap().as_str(),
            "two lines here"
        );
        assert!(Summary::parse(&"é".repeat(256)).is_ok());
        let long = Summary::parse(&"é".repeat(260)).unwrap_err();
        assert_eq!(
            long.0,
            "the summary is 260 characters; providers take at most 256, so 4 must go"
        );
        assert!(Summary::parse("bell\u{7}").is_err());
        assert_eq!(Summary::parse("").unwrap(), Summary::default());
    }

    #[test]
    fn a_letter_keeps_its_lines_and_refuses_controls() {
        assert_eq!(Letter::parse("a\r\nb\n\n").unwrap().as_str(), "a\nb");
        assert!(Letter::parse("a\u{1b}[31m").is_err());
        assert!(Letter::parse(&"x".repeat(MAX_LETTER + 1)).is_err());
        assert!(Letter::parse(&"x".repeat(MAX_LETTER)).is_ok());
    }

    #[test]
    fn templates_name_only_known_placeholders_and_fill_them() {
        let t = LetterTemplate::parse("Dear {{ provider }}, {{amount}} for {{merchant_order}}.")
            .unwrap();
        let facts = BTreeMap::from([
            ("provider", "PayerMax".to_owned()),
            ("amount", "10.00 USD".to_owned()),
        ]);
        assert_eq!(t.fill(&facts), "Dear PayerMax, 10.00 USD for [not known].");
        assert_eq!(
            LetterTemplate::parse("{{password}}").unwrap_err().0,
            "{{password}} is not a placeholder the desk can fill"
        );
        assert!(LetterTemplate::parse("{{amount").is_err());
        assert!(LetterTemplate::parse("  ").is_err());
        for defence in Defence::ALL {
            let letter = default_template(*defence).fill(&BTreeMap::new());
            assert!(!letter.contains("{{"), "{defence}");
        }
    }

    #[test]
    fn sizes_read_in_decimal_units() {
        assert_eq!(size_text(12), "12 bytes");
        assert_eq!(size_text(820_400), "820 kB");
        assert_eq!(size_text(1_500_000), "1.5 MB");
        assert_eq!(size_text(10_000_000), "10.0 MB");
    }

    #[test]
    fn states_and_kinds_read_back_from_their_names() {
        for s in ResponseState::ALL {
            assert_eq!(s.as_str().parse::<ResponseState>().unwrap(), *s);
            assert!(!s.label().is_empty());
        }
        for d in DocumentKind::ALL {
            assert_eq!(d.as_str().parse::<DocumentKind>().unwrap(), *d);
            assert!(!usually_proves(*d).is_empty());
        }
        assert!("nope".parse::<DocumentKind>().is_err());
    }

    #[test]
    fn only_a_draft_of_the_current_stage_of_an_open_dispute_changes() {
        use ResponseState::*;
        let open = (Some(Stage::Chargeback), Some(Status::NeedsResponse));
        assert_eq!(read_only_because(Draft, Stage::Chargeback, open), None);
        assert_eq!(
            read_only_because(
                Draft,
                Stage::Chargeback,
                (Some(Stage::Chargeback), Some(Status::UnderReview))
            ),
            None
        );
        assert_eq!(
            read_only_because(
                Draft,
                Stage::Chargeback,
                (Some(Stage::Chargeback), Some(Status::Won))
            )
            .unwrap(),
            "The dispute is decided (won), so its response can no longer change."
        );
        assert_eq!(
            read_only_because(Draft, Stage::Chargeback, (Some(Stage::PreArbitration), Some(Status::NeedsResponse))).unwrap(),
            "The dispute has moved on to the pre-arbitration; this response was for the chargeback."
        );
        assert!(read_only_because(Ready, Stage::Chargeback, open)
            .unwrap()
            .contains("back to draft"));
        assert!(read_only_because(Submitted, Stage::Chargeback, open)
            .unwrap()
            .contains("cannot change"));
        assert!(read_only_because(Answered, Stage::Chargeback, open).is_some());
    }

    #[test]
    fn every_response_action_reads_as_words_and_has_an_audit_name() {
        for action in ResponseAction::ALL {
            assert_eq!(action.as_str().parse::<ResponseAction>().unwrap(), *action);
            assert!(action.audit_action().starts_with("response."));
            assert!(!action.words("x").is_empty());
            assert_ne!(
                crate::domain::audit_words::action_words(action.audit_action()),
                action.audit_action(),
                "the audit log has words for it"
            );
        }
        assert_eq!(
            ResponseAction::Prepared.words("Chargeback"),
            "Prepared a response to the chargeback"
        );
    }
}
