//! Taking an evidence file in as it arrives: its format decided by its
//! first bytes (never its name or the type the browser declared), its size
//! held to the limit and its bytes hashed while it streams into a temporary
//! file of its own (so a slow sender holds no database connection, and no
//! file is ever in memory whole), then checked to be what it claims and
//! copied into the store, a chunk at a time, in one transaction. Nothing is
//! kept unless all of that passes.

use std::io::{Read, Seek, SeekFrom};

use dispute_core::domain::evidence::{
    display_name, refused_format, safe_name, size_text, DocumentKind, EvidenceLimits, FileKind,
    MAX_PICTURE_PIXELS, SNIFF_LEN,
};
use dispute_store::{
    Actor, EvidenceFile, NewEvidence, ResponseRefusal, Store, StoreError, CHUNK_BYTES,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

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
    /// The temporary file could not be written or read (a full disk).
    #[error(
        "{name} could not be taken in: the server has no room for it now; send it again later."
    )]
    Spool {
        name: String,
        #[source]
        source: std::io::Error,
    },
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
    store: Store,
    response_id: i64,
    document: DocumentKind,
    name: String,
    rules: EvidenceRules,
    format: Option<FileKind>,
    size: u64,
    hasher: Sha256,
    first: Vec<u8>,
    spool: tokio::fs::File,
    /// Where the last `FF D9` (a JPEG's end of image) ends, and the byte
    /// before the current chunk, for a marker split between two chunks.
    last_end_marker: Option<u64>,
    previous: Option<u8>,
}

impl IncomingFile {
    /// Begins taking a file the browser named `sent_name`.
    pub fn start(
        store: &Store,
        response_id: i64,
        document: DocumentKind,
        sent_name: &str,
        rules: EvidenceRules,
    ) -> Result<Self, EvidenceRefusal> {
        let name = display_name(sent_name);
        let spool = tempfile::tempfile().map_err(|source| EvidenceRefusal::Spool {
            name: name.clone(),
            source,
        })?;
        Ok(Self {
            store: store.clone(),
            response_id,
            document,
            name,
            rules,
            format: None,
            size: 0,
            hasher: Sha256::new(),
            first: Vec::with_capacity(SNIFF_LEN),
            spool: tokio::fs::File::from_std(spool),
            last_end_marker: None,
            previous: None,
        })
    }

    /// The name people see it by.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn spool_error(&self, source: std::io::Error) -> EvidenceRefusal {
        EvidenceRefusal::Spool {
            name: self.name.clone(),
            source,
        }
    }

    /// Takes the next bytes; refuses as soon as the file is too large or
    /// its first bytes are not a format the provider takes.
    pub async fn push(&mut self, bytes: &[u8]) -> Result<(), EvidenceRefusal> {
        let start = self.size;
        self.size += bytes.len() as u64;
        if self.size > self.rules.limits.file_bytes {
            return Err(EvidenceRefusal::TooLarge {
                name: self.name.clone(),
                limit: size_text(self.rules.limits.file_bytes),
            });
        }
        if self.first.len() < SNIFF_LEN {
            let room = SNIFF_LEN - self.first.len();
            self.first
                .extend_from_slice(&bytes[..bytes.len().min(room)]);
            if self.first.len() == SNIFF_LEN {
                self.format = Some(self.decide()?);
            }
        }
        for (i, byte) in bytes.iter().enumerate() {
            if *byte == 0xD9 && self.previous == Some(0xFF) {
                self.last_end_marker = Some(start + i as u64 + 1);
            }
            self.previous = Some(*byte);
        }
        self.hasher.update(bytes);
        self.spool
            .write_all(bytes)
            .await
            .map_err(|e| self.spool_error(e))
    }

    fn decide(&self) -> Result<FileKind, EvidenceRefusal> {
        let found = FileKind::sniff(&self.first);
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
        self.spool.flush().await.map_err(|e| self.spool_error(e))?;
        let file = self
            .spool
            .try_clone()
            .await
            .map_err(|e| self.spool_error(e))?
            .into_std()
            .await;
        let end_marker = self.last_end_marker;
        let checked = tokio::task::spawn_blocking(move || check(format, file, end_marker)).await;
        let pages = match checked {
            Ok(Ok(pages)) => pages,
            Ok(Err(why)) => {
                return Err(EvidenceRefusal::Damaged {
                    name: self.name,
                    format: format.label(),
                    why,
                })
            }
            Err(e) => {
                tracing::error!(error = %e, file = %self.name, "the check of an evidence file stopped");
                return Err(EvidenceRefusal::Damaged {
                    name: self.name,
                    format: format.label(),
                    why: "it could not be read to the end.".into(),
                });
            }
        };
        let file = NewEvidence {
            document: self.document,
            safe_name: safe_name(&self.name, format),
            name: self.name.clone(),
            format,
            size: self.size,
            sha256: self.hasher.clone().finalize().into(),
            pages,
        };
        // Only now a database connection: for as long as copying a local
        // file takes.
        let mut upload = self.store.begin_evidence(self.response_id).await?;
        self.spool
            .seek(SeekFrom::Start(0))
            .await
            .map_err(|e| self.spool_error(e))?;
        let mut chunk = vec![0u8; CHUNK_BYTES];
        loop {
            let mut filled = 0;
            while filled < CHUNK_BYTES {
                let read = self
                    .spool
                    .read(&mut chunk[filled..])
                    .await
                    .map_err(|e| self.spool_error(e))?;
                if read == 0 {
                    break;
                }
                filled += read;
            }
            if filled == 0 {
                break;
            }
            upload.write(&chunk[..filled]).await?;
        }
        upload
            .finish(&file, self.rules.limits.response_bytes, actor, subject)
            .await
            .map_err(|e| EvidenceRefusal::from_store(&self.name, self.size, e))
    }
}

/// Whether the file is what its first bytes say, readable as far as the
/// packet will read it, and how many pages it gives the packet; the words
/// say what is wrong.
fn check(
    format: FileKind,
    mut file: std::fs::File,
    end_marker: Option<u64>,
) -> Result<Option<u32>, String> {
    let unreadable = |e: std::io::Error| format!("it could not be read ({e}).");
    file.seek(SeekFrom::Start(0)).map_err(unreadable)?;
    let length = file.metadata().map_err(unreadable)?.len();
    match format {
        FileKind::Pdf => {
            let mut bytes = Vec::new();
            file.read_to_end(&mut bytes).map_err(unreadable)?;
            crate::packet::check_pdf(&bytes).map(Some)
        }
        FileKind::Jpeg => {
            // The image ends with its end-of-image marker after its frame
            // (markers before it belong to a thumbnail in its metadata);
            // what a phone appends after the end (a motion photo's video)
            // is its own business.
            let scan = jpeg_scan_start(&mut file).map_err(|e| format!("{e}."))?;
            if end_marker.is_none_or(|end| end <= scan) {
                return Err("it is cut short: the end of the image is missing.".into());
            }
            file.seek(SeekFrom::Start(0)).map_err(unreadable)?;
            picture_size(file).map(|()| Some(1))
        }
        FileKind::Png => {
            const END: [u8; 12] = [0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82];
            let mut last = [0u8; 12];
            if length < 12
                || file.seek(SeekFrom::End(-12)).is_err()
                || file.read_exact(&mut last).is_err()
                || last != END
            {
                return Err("it is cut short: the end of the image is missing.".into());
            }
            file.seek(SeekFrom::Start(0)).map_err(unreadable)?;
            picture_size(file).map(|()| Some(1))
        }
        FileKind::Tiff => crate::packet::check_tiff(std::io::BufReader::new(file)).map(Some),
        FileKind::Zip => {
            // The end of the central directory is within the last 64 KiB
            // and 22 bytes (the most a comment may add).
            let tail = length.min(64 * 1024 + 22);
            let mut end = vec![0u8; usize::try_from(tail).unwrap_or(0)];
            file.seek(SeekFrom::End(-(tail as i64)))
                .map_err(unreadable)?;
            file.read_exact(&mut end).map_err(unreadable)?;
            if end.windows(4).any(|w| w == b"PK\x05\x06") {
                Ok(None)
            } else {
                Err("it is cut short: the archive's directory is missing.".into())
            }
        }
        FileKind::Office97 => Ok(None),
    }
}

/// Where a JPEG's image data starts: its segments walked from the start
/// (each names its length) to its first start-of-scan marker.
fn jpeg_scan_start(file: &mut std::fs::File) -> Result<u64, String> {
    let mut reader = std::io::BufReader::new(file);
    let mut at: u64 = 2;
    reader.seek(SeekFrom::Start(2)).map_err(|e| e.to_string())?;
    loop {
        let mut marker = [0u8; 2];
        reader
            .read_exact(&mut marker)
            .map_err(|_| "its header ends before its image does".to_owned())?;
        if marker[0] != 0xFF {
            return Err("its header is damaged".into());
        }
        match marker[1] {
            0xFF => {
                // Fill bytes before a marker.
                reader.seek_relative(-1).map_err(|e| e.to_string())?;
                at += 1;
            }
            0xDA => return Ok(at),
            0x01 | 0xD0..=0xD8 => at += 2,
            _ => {
                let mut length = [0u8; 2];
                reader
                    .read_exact(&mut length)
                    .map_err(|_| "its header ends before its image does".to_owned())?;
                let length = u16::from_be_bytes(length);
                if length < 2 {
                    return Err("its header is damaged".into());
                }
                reader
                    .seek_relative(i64::from(length) - 2)
                    .map_err(|e| e.to_string())?;
                at += 2 + u64::from(length);
            }
        }
    }
}

/// A picture's header is readable and its size one the packet can draw.
fn picture_size(file: std::fs::File) -> Result<(), String> {
    let reader = image::ImageReader::new(std::io::BufReader::new(file))
        .with_guessed_format()
        .map_err(|e| format!("{e}."))?;
    let (width, height) = reader
        .into_dimensions()
        .map_err(|e| format!("its header cannot be read ({e})."))?;
    picture_pixels(width, height)
}

/// Refuses a picture of no pixels or of more than `MAX_PICTURE_PIXELS`.
pub fn picture_pixels(width: u32, height: u32) -> Result<(), String> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels == 0 {
        return Err("it has no pixels.".into());
    }
    if pixels > MAX_PICTURE_PIXELS {
        return Err(format!(
            "it is {width} × {height} pixels, more than the {} megapixels a picture may have; send a smaller copy.",
            MAX_PICTURE_PIXELS / 1_000_000
        ));
    }
    Ok(())
}
