//! Taking an evidence file in as it arrives: its format decided by its
//! first bytes (never its name or the type the browser declared), its size
//! held to the limit while it streams, its bytes hashed and written a chunk
//! at a time into the store's open transaction, and, at the end, the
//! content checked to parse as the format it claims. Nothing is kept unless
//! all of that passes.

use dispute_core::domain::evidence::{
    display_name, refused_format, safe_name, size_text, DocumentKind, EvidenceLimits, FileKind,
    SNIFF_LEN,
};
use dispute_store::{
    Actor, EvidenceFile, EvidenceUpload, NewEvidence, ResponseRefusal, Store, StoreError,
    CHUNK_BYTES,
};
use sha2::{Digest, Sha256};

/// The first bytes kept to read a picture's dimensions from (a JPEG's
/// frame header follows its metadata, at most 64 KiB per segment).
const HEAD_BYTES: usize = 256 * 1024;
/// The last bytes kept to see that a file ends as its format ends.
const TAIL_BYTES: usize = 64 * 1024 + 22;

/// Why a file was not kept, in words for the person who sent it.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceRefusal {
    #[error("{name} is larger than the {limit} a file may be; nothing of it was kept.")]
    TooLarge { name: String, limit: String },
    #[error("{name} is empty.")]
    Empty { name: String },
    #[error("{name}: {why}")]
    Format { name: String, why: String },
    #[error("{name} is not a readable {format}: {why}")]
    Damaged {
        name: String,
        format: &'static str,
        why: String,
    },
    #[error("{name} is attached already, as {existing}.")]
    Duplicate { name: String, existing: String },
    #[error("{name} would bring the response's files to {total}, over their limit of {limit}; remove a file or send a smaller one.")]
    ResponseFull {
        name: String,
        total: String,
        limit: String,
    },
    #[error("{0}")]
    ReadOnly(String),
    #[error("there is no such response")]
    NoResponse,
    #[error("the file could not be kept: {0}")]
    Store(#[from] StoreError),
}

impl EvidenceRefusal {
    fn from_store(name: &str, size: u64, refusal: ResponseRefusal) -> Self {
        match refusal {
            ResponseRefusal::NoResponse => EvidenceRefusal::NoResponse,
            ResponseRefusal::ReadOnly(why) => EvidenceRefusal::ReadOnly(why),
            ResponseRefusal::NotIn(state) => EvidenceRefusal::ReadOnly(format!(
                "The response is {}.",
                state.label().to_lowercase()
            )),
            ResponseRefusal::Duplicate(existing) => EvidenceRefusal::Duplicate {
                name: name.to_owned(),
                existing,
            },
            ResponseRefusal::Full { held, limit } => EvidenceRefusal::ResponseFull {
                name: name.to_owned(),
                total: size_text(held + size),
                limit: size_text(limit),
            },
            ResponseRefusal::Store(e) => EvidenceRefusal::Store(e),
        }
    }
}

/// What a response's files are held to: the limits, and the formats its
/// provider takes.
#[derive(Debug, Clone, Copy)]
pub struct EvidenceRules {
    pub limits: EvidenceLimits,
    pub accepted: &'static [FileKind],
}

/// One file arriving for a response.
pub struct IncomingFile {
    upload: EvidenceUpload,
    document: DocumentKind,
    name: String,
    rules: EvidenceRules,
    format: Option<FileKind>,
    size: u64,
    hasher: Sha256,
    pending: Vec<u8>,
    head: Vec<u8>,
    tail: Vec<u8>,
    /// Formats that can only be checked whole (a PDF's cross-reference
    /// table is at its end, a TIFF's pages anywhere) are kept in memory
    /// too, never past the file limit.
    whole: Vec<u8>,
}

impl IncomingFile {
    /// Begins taking a file the browser named `sent_name`.
    pub async fn start(
        store: &Store,
        response_id: i64,
        document: DocumentKind,
        sent_name: &str,
        rules: EvidenceRules,
    ) -> Result<Self, EvidenceRefusal> {
        Ok(Self {
            upload: store.begin_evidence(response_id).await?,
            document,
            name: display_name(sent_name),
            rules,
            format: None,
            size: 0,
            hasher: Sha256::new(),
            pending: Vec::with_capacity(CHUNK_BYTES),
            head: Vec::new(),
            tail: Vec::new(),
            whole: Vec::new(),
        })
    }

    /// The name people see it by.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Takes the next bytes; refuses as soon as the file is too large or
    /// its first bytes are not a format the provider takes.
    pub async fn push(&mut self, bytes: &[u8]) -> Result<(), EvidenceRefusal> {
        self.size += bytes.len() as u64;
        if self.size > self.rules.limits.file_bytes {
            return Err(EvidenceRefusal::TooLarge {
                name: self.name.clone(),
                limit: size_text(self.rules.limits.file_bytes),
            });
        }
        if self.head.len() < HEAD_BYTES {
            let room = HEAD_BYTES - self.head.len();
            self.head.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
        if self.format.is_none() && self.head.len() >= SNIFF_LEN {
            self.format = Some(self.decide()?);
        }
        if matches!(self.format, Some(FileKind::Pdf | FileKind::Tiff)) {
            self.whole.extend_from_slice(bytes);
        }
        self.tail.extend_from_slice(bytes);
        if self.tail.len() > 2 * TAIL_BYTES {
            self.tail.drain(..self.tail.len() - TAIL_BYTES);
        }
        self.hasher.update(bytes);
        let mut rest = bytes;
        while !rest.is_empty() {
            let take = rest.len().min(CHUNK_BYTES - self.pending.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == CHUNK_BYTES {
                self.upload.write(&self.pending).await?;
                self.pending.clear();
            }
        }
        Ok(())
    }

    fn decide(&self) -> Result<FileKind, EvidenceRefusal> {
        let found = FileKind::sniff(&self.head);
        match found {
            Some(kind) if self.rules.accepted.contains(&kind) => Ok(kind),
            _ => Err(EvidenceRefusal::Format {
                name: self.name.clone(),
                why: refused_format(found, self.rules.accepted),
            }),
        }
    }

    /// Checks the whole file and keeps it, as the response's next exhibit.
    pub async fn finish(
        mut self,
        actor: &Actor,
        subject: &str,
    ) -> Result<EvidenceFile, EvidenceRefusal> {
        if self.size == 0 {
            return Err(EvidenceRefusal::Empty { name: self.name });
        }
        let format = match self.format {
            Some(format) => format,
            None => self.decide()?,
        };
        if !self.pending.is_empty() {
            self.upload.write(&self.pending).await?;
        }
        let (head, tail, whole) = (
            std::mem::take(&mut self.head),
            std::mem::take(&mut self.tail),
            std::mem::take(&mut self.whole),
        );
        let pages = tokio::task::spawn_blocking(move || check(format, &head, &tail, &whole))
            .await
            .map_err(|e| StoreError::Corrupt(format!("the file check stopped: {e}")))?
            .map_err(|why| EvidenceRefusal::Damaged {
                name: self.name.clone(),
                format: format.label(),
                why,
            })?;
        let file = NewEvidence {
            document: self.document,
            safe_name: safe_name(&self.name, format),
            name: self.name.clone(),
            format,
            size: self.size,
            sha256: self.hasher.finalize().into(),
            pages,
        };
        self.upload
            .finish(&file, self.rules.limits.response_bytes, actor, subject)
            .await
            .map_err(|e| EvidenceRefusal::from_store(&self.name, self.size, e))
    }
}

/// Whether the file parses as `format`, and how many pages it gives the
/// packet; the words say what is wrong.
fn check(format: FileKind, head: &[u8], tail: &[u8], whole: &[u8]) -> Result<Option<u32>, String> {
    match format {
        FileKind::Pdf => pdf_pages(whole).map(Some),
        FileKind::Jpeg => {
            // A JPEG ends with its end-of-image marker; a file cut short in
            // transfer does not (some writers pad after it).
            let end = tail
                .iter()
                .rposition(|b| *b != 0)
                .map_or(tail, |i| &tail[..=i]);
            if !end.ends_with(&[0xFF, 0xD9]) {
                return Err("it is cut short: the end of the image is missing.".into());
            }
            picture_size(head).map(|()| Some(1))
        }
        FileKind::Png => {
            if !tail.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]) {
                return Err("it is cut short: the end of the image is missing.".into());
            }
            picture_size(head).map(|()| Some(1))
        }
        FileKind::Tiff => tiff_pages(whole).map(Some),
        FileKind::Zip => {
            // The end of the central directory is within the last 64 KiB
            // and 22 bytes (the most a comment may add).
            let found = tail.windows(4).any(|w| w == b"PK\x05\x06");
            if found {
                Ok(None)
            } else {
                Err("it is cut short: the archive's directory is missing.".into())
            }
        }
        FileKind::Office97 => Ok(None),
    }
}

/// A PDF's page count; refused when it needs a password to open (the
/// provider could not read it) or has no pages.
pub fn pdf_pages(bytes: &[u8]) -> Result<u32, String> {
    let document = lopdf::Document::load_mem(bytes).map_err(|e| format!("{e}."))?;
    // lopdf opens a document whose user password is empty (restrictions
    // only) and drops its /Encrypt; one still encrypted needs a password.
    if document.trailer.has(b"Encrypt") {
        return Err("it needs a password to open; send it without one.".into());
    }
    match u32::try_from(document.get_pages().len()) {
        Ok(0) | Err(_) => Err("it has no pages.".into()),
        Ok(pages) => Ok(pages),
    }
}

fn picture_size(head: &[u8]) -> Result<(), String> {
    let reader = image::ImageReader::new(std::io::Cursor::new(head))
        .with_guessed_format()
        .map_err(|e| format!("{e}."))?;
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| format!("its header cannot be read ({e})."))?;
    if width == 0 || height == 0 {
        return Err("it has no pixels.".into());
    }
    Ok(())
}

/// A TIFF's pages, each of which must decode.
pub fn tiff_pages(bytes: &[u8]) -> Result<u32, String> {
    let mut decoder =
        tiff::decoder::Decoder::new(std::io::Cursor::new(bytes)).map_err(|e| format!("{e}."))?;
    let mut pages = 1;
    while decoder.more_images() {
        decoder.next_image().map_err(|e| format!("{e}."))?;
        pages += 1;
    }
    Ok(pages)
}
