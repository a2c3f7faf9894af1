//! The response packet: one PDF with a cover (the dispute's facts, the
//! letter, the numbered exhibits with the pages each takes), then every
//! exhibit in order: a PDF's pages as they are, each picture on a page of
//! its own, upright and scaled to fit. The cover's text is real text in a
//! standard font (it extracts and is searchable). When the packet is over
//! the provider's size, its pictures are made smaller and recompressed, step
//! by step; when it still does not fit, or has too many pages, it is
//! refused with by how much, never cut.
//!
//! Building is CPU work on the blocking pool, a few at a time (`Packets`).

use std::{collections::BTreeMap, io::Cursor, sync::Arc};

use dispute_core::domain::evidence::{size_text, EvidenceLimits, FileKind};
use image::{DynamicImage, ImageDecoder, RgbImage};
use lopdf::{
    content::{Content, Operation},
    dictionary, Dictionary, Document, Object, ObjectId, Stream,
};

/// A4, in points.
const PAGE: (f32, f32) = (595.0, 842.0);
const MARGIN: f32 = 56.0;
/// The cover's text: Courier's every character is 0.6 em wide, so lines
/// are wrapped exactly.
const TEXT_SIZE: f32 = 10.0;
const LINE: f32 = 13.0;
const COLUMNS: usize = ((PAGE.0 - 2.0 * MARGIN) / (TEXT_SIZE * 0.6)) as usize;
const TITLE_SIZE: f32 = 16.0;
/// A picture's page keeps a line above it for its exhibit's label.
const LABEL_SPACE: f32 = 24.0;

/// A picture is drawn on a page at most this many pixels on a side (about
/// 300 dots an inch on A4): decoded pictures are made this small at once,
/// so a packet of photos holds a few MB of pixels each, not a camera's.
const LARGEST_SIDE: u32 = 2400;

/// The steps pictures go through when a packet is too large: the longest
/// side in pixels and the JPEG quality. The first keeps a JPEG's own bytes
/// when it needs no turning.
const SHRINK_STEPS: &[(u32, u8)] = &[
    (u32::MAX, 85),
    (2000, 80),
    (1600, 70),
    (1200, 60),
    (900, 50),
];

/// One exhibit: what it is to people, and its bytes.
#[derive(Debug, Clone)]
pub struct Exhibit {
    pub title: String,
    pub name: String,
    pub format: FileKind,
    pub bytes: Vec<u8>,
}

/// What the cover says.
#[derive(Debug, Clone, Default)]
pub struct Cover {
    pub title: String,
    /// Label and value, one line each.
    pub facts: Vec<(String, String)>,
    pub letter: String,
}

/// A packet built.
#[derive(Debug, Clone)]
pub struct Packet {
    pub bytes: Vec<u8>,
    pub pages: u32,
    /// How far its pictures had to be made smaller (0: not at all).
    pub shrink_step: usize,
}

/// Why a packet was not built, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketRefusal {
    #[error("The packet would have {pages} pages; the provider takes at most {limit}, so {over} must go. Remove an exhibit or send a shorter one.")]
    TooManyPages { pages: u32, limit: u32, over: u32 },
    #[error("The packet is {size} even with its pictures made smaller; the provider takes at most {limit}, so it is {over} over. Remove an exhibit or send a smaller one.")]
    TooLarge {
        size: String,
        limit: String,
        over: String,
    },
    #[error("{name} cannot be read: {why}")]
    Unreadable { name: String, why: String },
    #[error("The packet could not be built: {0}")]
    Failed(String),
}

/// Packets being built at once, at most a few: each takes a core and,
/// for large photos, a few hundred MB while it decodes them.
#[derive(Debug, Clone)]
pub struct Packets {
    permits: Arc<tokio::sync::Semaphore>,
}

impl Packets {
    pub fn new(at_once: usize) -> Self {
        Self {
            permits: Arc::new(tokio::sync::Semaphore::new(at_once.max(1))),
        }
    }

    /// A turn to build, waited for before the exhibits' bytes are read.
    pub async fn turn(&self) -> Result<Turn, PacketRefusal> {
        self.permits
            .clone()
            .acquire_owned()
            .await
            .map(|permit| Turn { _permit: permit })
            .map_err(|e| PacketRefusal::Failed(e.to_string()))
    }

    /// Builds the packet on the blocking pool in `turn`, which is held
    /// until the build ends (even when the request that asked has gone).
    pub async fn build(
        &self,
        turn: Turn,
        cover: Cover,
        exhibits: Vec<Exhibit>,
        limits: EvidenceLimits,
    ) -> Result<Packet, PacketRefusal> {
        tokio::task::spawn_blocking(move || {
            let _turn = turn;
            build(&cover, &exhibits, limits)
        })
        .await
        .map_err(|e| PacketRefusal::Failed(e.to_string()))?
    }
}

/// One of the few packet builds allowed at once.
#[derive(Debug)]
pub struct Turn {
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// An exhibit read: a PDF's document, or a picture's pages.
enum Read {
    Pdf(Box<Document>),
    /// With whether the exhibit's own bytes may stand for its one picture.
    Pictures(Vec<DynamicImage>, bool),
}

impl Read {
    fn pages(&self) -> u32 {
        match self {
            Read::Pdf(doc) => u32::try_from(doc.get_pages().len()).unwrap_or(u32::MAX),
            Read::Pictures(pictures, _) => u32::try_from(pictures.len()).unwrap_or(u32::MAX),
        }
    }
}

/// Builds the packet, pure CPU: the smallest shrink step that fits.
pub fn build(
    cover: &Cover,
    exhibits: &[Exhibit],
    limits: EvidenceLimits,
) -> Result<Packet, PacketRefusal> {
    let read = exhibits
        .iter()
        .map(|e| {
            read(e).map_err(|why| PacketRefusal::Unreadable {
                name: e.name.clone(),
                why,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let exhibit_pages: Vec<u32> = read.iter().map(Read::pages).collect();
    // The list of exhibits names the pages each starts on, which follow
    // the cover, whose length the list is part of: settle it.
    let mut cover_pages = 1;
    let cover_lines = loop {
        let lines = cover_lines(cover, exhibits, &exhibit_pages, cover_pages);
        let needed = u32::try_from(lines.len().div_ceil(lines_per_page())).unwrap_or(u32::MAX);
        if needed <= cover_pages {
            break lines;
        }
        cover_pages = needed;
    };
    let pages = cover_pages + exhibit_pages.iter().sum::<u32>();
    if pages > limits.packet_pages {
        return Err(PacketRefusal::TooManyPages {
            pages,
            limit: limits.packet_pages,
            over: pages - limits.packet_pages,
        });
    }
    let mut smallest = u64::MAX;
    for (step, (longest, quality)) in SHRINK_STEPS.iter().enumerate() {
        let bytes = assemble(cover, &cover_lines, exhibits, &read, *longest, *quality)?;
        let size = bytes.len() as u64;
        if size <= limits.packet_bytes {
            return Ok(Packet {
                bytes,
                pages,
                shrink_step: step,
            });
        }
        smallest = smallest.min(size);
        let has_pictures = read.iter().any(|r| matches!(r, Read::Pictures(..)));
        if !has_pictures {
            break;
        }
    }
    Err(PacketRefusal::TooLarge {
        size: size_text(smallest),
        limit: size_text(limits.packet_bytes),
        over: size_text(smallest - limits.packet_bytes),
    })
}

fn read(exhibit: &Exhibit) -> Result<Read, String> {
    match exhibit.format {
        FileKind::Pdf => {
            let doc = Document::load_mem(&exhibit.bytes).map_err(|e| e.to_string())?;
            if doc.trailer.has(b"Encrypt") {
                return Err("it needs a password to open".into());
            }
            Ok(Read::Pdf(Box::new(doc)))
        }
        FileKind::Jpeg | FileKind::Png => {
            let mut decoder = image::ImageReader::new(Cursor::new(&exhibit.bytes))
                .with_guessed_format()
                .map_err(|e| e.to_string())?
                .into_decoder()
                .map_err(|e| e.to_string())?;
            let orientation = decoder.orientation().map_err(|e| e.to_string())?;
            let upright = orientation == image::metadata::Orientation::NoTransforms;
            let cmyk = exhibit.format == FileKind::Jpeg
                && decoder.original_color_type() == image::ExtendedColorType::Cmyk8;
            let decoded = DynamicImage::from_decoder(decoder).map_err(|e| e.to_string())?;
            let kept_size = decoded.width().max(decoded.height()) <= LARGEST_SIDE;
            let mut picture = at_most(decoded, LARGEST_SIDE);
            picture.apply_orientation(orientation);
            // A JPEG that needs no turning, no shrinking and no colour
            // change, and ends where its image does (nothing appended),
            // goes in as its own bytes (no loss) until the packet must
            // shrink.
            let own = exhibit.format == FileKind::Jpeg
                && upright
                && !cmyk
                && kept_size
                && exhibit.bytes.ends_with(&[0xFF, 0xD9]);
            Ok(Read::Pictures(vec![picture], own))
        }
        FileKind::Tiff => tiff_pictures(&exhibit.bytes).map(|p| Read::Pictures(p, false)),
        FileKind::Zip | FileKind::Office97 => Err(format!(
            "a {} cannot be shown in a packet; the provider receives it as it is",
            exhibit.format.label()
        )),
    }
}

/// `picture`, made no longer than `longest` pixels on a side.
fn at_most(picture: DynamicImage, longest: u32) -> DynamicImage {
    if picture.width().max(picture.height()) > longest {
        picture.resize(longest, longest, image::imageops::FilterType::Triangle)
    } else {
        picture
    }
}

/// Whether a PDF opens without a password and every page reads as far as
/// the packet reads it; its pages.
pub fn check_pdf(bytes: &[u8]) -> Result<u32, String> {
    let document = Document::load_mem(bytes).map_err(|e| format!("{e}."))?;
    // lopdf opens a document whose user password is empty (restrictions
    // only) and drops its /Encrypt; one still encrypted needs a password.
    if document.trailer.has(b"Encrypt") {
        return Err("it needs a password to open; send it without one.".into());
    }
    let pages = document.get_pages();
    if pages.is_empty() {
        return Err("it has no pages.".into());
    }
    for (number, id) in &pages {
        own_attributes(&document, *id)
            .map_err(|e| format!("its page {number} cannot be read ({e})."))?;
    }
    u32::try_from(pages.len()).map_err(|_| "it has too many pages.".into())
}

/// Whether every page of a TIFF is one the packet can draw (8-bit grey,
/// RGB or RGBA, within the pixels a picture may have), read from its
/// directories without decoding the pixels; its pages.
pub fn check_tiff(reader: impl std::io::Read + std::io::Seek) -> Result<u32, String> {
    use tiff::ColorType;
    let mut decoder = tiff::decoder::Decoder::new(reader).map_err(|e| format!("{e}."))?;
    let mut pages = 0;
    loop {
        pages += 1;
        let (width, height) = decoder.dimensions().map_err(|e| format!("{e}."))?;
        crate::evidence::picture_pixels(width, height)?;
        let channels = match decoder.colortype().map_err(|e| format!("{e}."))? {
            ColorType::Gray(8) => 1,
            ColorType::RGB(8) => 3,
            ColorType::RGBA(8) => 4,
            other => {
                return Err(format!(
                    "its page {pages} is in {other:?}, which the packet cannot show; send it as a PDF or a JPEG."
                ))
            }
        };
        // What the TIFF decoder will hold for one page.
        if u64::from(width) * u64::from(height) * channels > TIFF_PAGE_BYTES {
            return Err(format!(
                "its page {pages} is {width} × {height} pixels, more than the packet can draw from a TIFF; send it as a JPEG or a PDF."
            ));
        }
        if !decoder.more_images() {
            return Ok(pages);
        }
        decoder.next_image().map_err(|e| format!("{e}."))?;
    }
}

/// The most one TIFF page's pixels may take: the TIFF decoder's own limit.
const TIFF_PAGE_BYTES: u64 = 256 * 1024 * 1024;

/// Every page of a TIFF, as pictures.
fn tiff_pictures(bytes: &[u8]) -> Result<Vec<DynamicImage>, String> {
    use tiff::{decoder::DecodingResult, ColorType};
    let mut decoder = tiff::decoder::Decoder::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let mut pictures = Vec::new();
    loop {
        let (width, height) = decoder.dimensions().map_err(|e| e.to_string())?;
        let colour = decoder.colortype().map_err(|e| e.to_string())?;
        let DecodingResult::U8(pixels) = decoder.read_image().map_err(|e| e.to_string())? else {
            return Err("only 8-bit TIFF pages can be shown".into());
        };
        let picture = match colour {
            ColorType::Gray(8) => {
                image::GrayImage::from_raw(width, height, pixels).map(DynamicImage::from)
            }
            ColorType::RGB(8) => RgbImage::from_raw(width, height, pixels).map(DynamicImage::from),
            ColorType::RGBA(8) => {
                image::RgbaImage::from_raw(width, height, pixels).map(DynamicImage::from)
            }
            other => return Err(format!("TIFF pages in {other:?} cannot be shown")),
        };
        let picture = picture.ok_or("a page's pixels do not fill it")?;
        pictures.push(at_most(picture, LARGEST_SIDE));
        if !decoder.more_images() {
            break;
        }
        decoder.next_image().map_err(|e| e.to_string())?;
    }
    Ok(pictures)
}

fn lines_per_page() -> usize {
    ((PAGE.1 - 2.0 * MARGIN - TITLE_SIZE * 2.0) / LINE) as usize
}

/// The cover's lines, when it takes `cover_pages` pages.
fn cover_lines(
    cover: &Cover,
    exhibits: &[Exhibit],
    pages: &[u32],
    cover_pages: u32,
) -> Vec<String> {
    let mut lines = Vec::new();
    for (label, value) in &cover.facts {
        lines.extend(wrap(&format!("{label}: {value}")));
    }
    lines.push(String::new());
    for paragraph in cover.letter.replace('\t', "    ").split('\n') {
        lines.extend(wrap(paragraph));
    }
    lines.push(String::new());
    lines.push("Exhibits".to_owned());
    let mut next = cover_pages + 1;
    for (i, (exhibit, count)) in exhibits.iter().zip(pages).enumerate() {
        let at = match count {
            1 => format!("page {next}"),
            n => format!("pages {next}-{}", next + n - 1),
        };
        next += count;
        lines.extend(wrap(&format!(
            "{}. {}: {} ({at})",
            i + 1,
            exhibit.title,
            exhibit.name
        )));
    }
    lines
}

/// `text` in lines of at most `COLUMNS` characters, broken at spaces
/// where it can be.
fn wrap(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word.to_owned();
        while word.chars().count() > COLUMNS {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let cut: String = word.chars().take(COLUMNS).collect();
            word = word.chars().skip(COLUMNS).collect();
            lines.push(cut);
        }
        let needed = line.chars().count() + usize::from(!line.is_empty()) + word.chars().count();
        if needed > COLUMNS && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    lines.push(line);
    lines
}

/// The typographer's marks WinAnsi holds in 0x80–0x9F.
const MARKS: &[(char, u8)] = &[
    ('€', 0x80),
    ('‚', 0x82),
    ('ƒ', 0x83),
    ('„', 0x84),
    ('…', 0x85),
    ('†', 0x86),
    ('‡', 0x87),
    ('ˆ', 0x88),
    ('‰', 0x89),
    ('Š', 0x8A),
    ('‹', 0x8B),
    ('Œ', 0x8C),
    ('Ž', 0x8E),
    ('‘', 0x91),
    ('’', 0x92),
    ('“', 0x93),
    ('”', 0x94),
    ('•', 0x95),
    ('–', 0x96),
    ('—', 0x97),
    ('˜', 0x98),
    ('™', 0x99),
    ('š', 0x9A),
    ('›', 0x9B),
    ('œ', 0x9C),
    ('ž', 0x9E),
    ('Ÿ', 0x9F),
];

/// `c` in the standard fonts' encoding (WinAnsi: Latin-1 with the
/// typographer's marks), if it has it.
fn win_ansi_byte(c: char) -> Option<u8> {
    match u32::from(c) {
        code @ (0x20..=0x7E | 0xA0..=0xFF) => u8::try_from(code).ok(),
        _ => MARKS.iter().find(|(mark, _)| *mark == c).map(|(_, b)| *b),
    }
}

/// Text in the standard fonts' encoding; what it cannot hold reads `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| win_ansi_byte(c).unwrap_or(b'?'))
        .collect()
}

/// How many characters of `text` the cover cannot show (its standard font
/// has Latin letters only): they read `?` in the packet.
pub fn unshown(text: &str) -> usize {
    text.chars()
        .filter(|c| !matches!(c, '\n' | '\t') && win_ansi_byte(*c).is_none())
        .count()
}

fn text_op(font: &str, size: f32, x: f32, y: f32, text: &str) -> Vec<Operation> {
    vec![
        Operation::new("BT", vec![]),
        Operation::new("Tf", vec![font.into(), size.into()]),
        Operation::new("Td", vec![x.into(), y.into()]),
        Operation::new(
            "Tj",
            vec![Object::String(win_ansi(text), lopdf::StringFormat::Literal)],
        ),
        Operation::new("ET", vec![]),
    ]
}

fn assemble(
    cover: &Cover,
    cover_lines: &[String],
    exhibits: &[Exhibit],
    read: &[Read],
    longest: u32,
    quality: u8,
) -> Result<Vec<u8>, PacketRefusal> {
    let failed = |e: lopdf::Error| PacketRefusal::Failed(e.to_string());
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font = |base: &str| {
        dictionary! {
            "Type" => "Font",
            "Subtype" => "Type1",
            "BaseFont" => base.to_owned(),
            "Encoding" => "WinAnsiEncoding",
        }
    };
    let courier = doc.add_object(font("Courier"));
    let bold = doc.add_object(font("Helvetica-Bold"));
    let fonts = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => courier, "F2" => bold },
    });
    let mut kids: Vec<Object> = Vec::new();
    let media_box = vec![0.into(), 0.into(), PAGE.0.into(), PAGE.1.into()];

    for (i, chunk) in cover_lines.chunks(lines_per_page()).enumerate() {
        let mut ops = Vec::new();
        let mut y = PAGE.1 - MARGIN - TITLE_SIZE;
        let title = match i {
            0 => cover.title.clone(),
            n => format!("{} (continued, {})", cover.title, n + 1),
        };
        ops.extend(text_op("F2", TITLE_SIZE, MARGIN, y, &title));
        y -= TITLE_SIZE * 2.0;
        for line in chunk {
            ops.extend(text_op("F1", TEXT_SIZE, MARGIN, y, line));
            y -= LINE;
        }
        let content = Content { operations: ops }.encode().map_err(failed)?;
        let content_id = doc.add_object(Stream::new(dictionary! {}, content));
        kids.push(
            doc.add_object(dictionary! {
                "Type" => "Page",
                "Parent" => pages_id,
                "MediaBox" => media_box.clone(),
                "Resources" => fonts,
                "Contents" => content_id,
            })
            .into(),
        );
    }

    for (number, (exhibit, read)) in exhibits.iter().zip(read).enumerate() {
        match read {
            Read::Pdf(source) => append_pdf(&mut doc, (**source).clone(), pages_id, &mut kids)
                .map_err(|why| PacketRefusal::Unreadable {
                    name: exhibit.name.clone(),
                    why,
                })?,
            Read::Pictures(pictures, own) => {
                let count = pictures.len();
                for (page, picture) in pictures.iter().enumerate() {
                    let label = match count {
                        1 => format!("Exhibit {}: {}", number + 1, exhibit.name),
                        _ => format!(
                            "Exhibit {}: {}, page {} of {count}",
                            number + 1,
                            exhibit.name,
                            page + 1
                        ),
                    };
                    let own = (*own && longest == u32::MAX).then_some(exhibit.bytes.as_slice());
                    let image = image_object(picture, own, longest, quality)
                        .map_err(PacketRefusal::Failed)?;
                    let (width, height) = (picture_width(&image), picture_height(&image));
                    let image_id = doc.add_object(image);
                    let room = (PAGE.0 - 2.0 * MARGIN, PAGE.1 - 2.0 * MARGIN - LABEL_SPACE);
                    // Made smaller to fit, never larger than a pixel a point.
                    let scale = (room.0 / width).min(room.1 / height).min(1.0);
                    let (w, h) = (width * scale, height * scale);
                    let x = MARGIN + (room.0 - w) / 2.0;
                    let y = MARGIN + (room.1 - h);
                    let mut ops = text_op("F1", 9.0, MARGIN, PAGE.1 - MARGIN - 9.0, &label);
                    ops.extend([
                        Operation::new("q", vec![]),
                        Operation::new(
                            "cm",
                            vec![w.into(), 0.into(), 0.into(), h.into(), x.into(), y.into()],
                        ),
                        Operation::new("Do", vec!["Im1".into()]),
                        Operation::new("Q", vec![]),
                    ]);
                    let content = Content { operations: ops }.encode().map_err(failed)?;
                    let content_id = doc.add_object(Stream::new(dictionary! {}, content));
                    let resources = dictionary! {
                        "Font" => dictionary! { "F1" => courier },
                        "XObject" => dictionary! { "Im1" => image_id },
                    };
                    kids.push(
                        doc.add_object(dictionary! {
                            "Type" => "Page",
                            "Parent" => pages_id,
                            "MediaBox" => media_box.clone(),
                            "Resources" => resources,
                            "Contents" => content_id,
                        })
                        .into(),
                    );
                }
            }
        }
    }

    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => count,
        }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog);
    // What merged PDFs carried that no page reaches (their catalogs'
    // forms and metadata, old cross-reference streams) goes.
    doc.prune_objects();
    doc.compress();
    let mut out = Vec::new();
    doc.save_to(&mut out)
        .map_err(|e| PacketRefusal::Failed(e.to_string()))?;
    Ok(out)
}

fn picture_width(image: &Stream) -> f32 {
    image
        .dict
        .get(b"Width")
        .and_then(Object::as_i64)
        .unwrap_or(1) as f32
}

fn picture_height(image: &Stream) -> f32 {
    image
        .dict
        .get(b"Height")
        .and_then(Object::as_i64)
        .unwrap_or(1) as f32
}

/// A picture as a PDF image: its own JPEG bytes when given, otherwise made
/// no longer than `longest` pixels on a side, transparency laid on white,
/// and compressed as JPEG at `quality`.
fn image_object(
    picture: &DynamicImage,
    own: Option<&[u8]>,
    longest: u32,
    quality: u8,
) -> Result<Stream, String> {
    let dict = |width: u32, height: u32, gray: bool| {
        dictionary! {
            "Type" => "XObject",
            "Subtype" => "Image",
            "Width" => i64::from(width),
            "Height" => i64::from(height),
            "ColorSpace" => if gray { "DeviceGray" } else { "DeviceRGB" },
            "BitsPerComponent" => 8,
            "Filter" => "DCTDecode",
        }
    };
    let gray = matches!(
        picture.color(),
        image::ColorType::L8 | image::ColorType::L16
    );
    if let Some(own) = own {
        let mut stream = Stream::new(dict(picture.width(), picture.height(), gray), own.to_vec());
        stream.allows_compression = false;
        return Ok(stream);
    }
    let picture = if picture.width().max(picture.height()) > longest {
        picture.resize(longest, longest, image::imageops::FilterType::Triangle)
    } else {
        picture.clone()
    };
    let mut out = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
    let (width, height) = (picture.width(), picture.height());
    if gray {
        encoder
            .encode_image(&picture.to_luma8())
            .map_err(|e| e.to_string())?;
    } else {
        encoder
            .encode_image(&on_white(&picture))
            .map_err(|e| e.to_string())?;
    }
    let mut stream = Stream::new(dict(width, height, gray), out);
    stream.allows_compression = false;
    Ok(stream)
}

/// A picture's colours with any transparency laid over white (a
/// transparent PNG would otherwise turn black).
fn on_white(picture: &DynamicImage) -> RgbImage {
    if !picture.color().has_alpha() {
        return picture.to_rgb8();
    }
    let rgba = picture.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
        image::Rgb([over(r), over(g), over(b)])
    })
}

/// Appends every page of `source` to `doc` under `pages_id`: its objects
/// renumbered past `doc`'s, each page's inherited attributes (size,
/// resources, rotation) made its own before its old page tree is left
/// behind.
fn append_pdf(
    doc: &mut Document,
    mut source: Document,
    pages_id: ObjectId,
    kids: &mut Vec<Object>,
) -> Result<(), String> {
    let page_ids: Vec<ObjectId> = source.get_pages().into_values().collect();
    for id in &page_ids {
        let page = own_attributes(&source, *id).map_err(|e| e.to_string())?;
        source.objects.insert(*id, Object::Dictionary(page));
    }
    source.renumber_objects_with(doc.max_id + 1);
    let page_ids: Vec<ObjectId> = source.get_pages().into_values().collect();
    let mut skipped: BTreeMap<ObjectId, ()> = BTreeMap::new();
    for (id, object) in &source.objects {
        if let Ok(dict) = object.as_dict() {
            let kind = dict
                .get(b"Type")
                .and_then(Object::as_name)
                .unwrap_or_default();
            if kind == b"Catalog" || kind == b"Pages" || kind == b"Outlines" || kind == b"Outline" {
                skipped.insert(*id, ());
            }
        }
    }
    for (id, object) in source.objects {
        if skipped.contains_key(&id) {
            continue;
        }
        let object = match object {
            Object::Dictionary(mut dict) if page_ids.contains(&id) => {
                dict.set("Parent", pages_id);
                Object::Dictionary(dict)
            }
            other => other,
        };
        doc.objects.insert(id, object);
    }
    doc.max_id = doc.max_id.max(source.max_id);
    kids.extend(page_ids.into_iter().map(Object::from));
    Ok(())
}

fn inherited(doc: &Document, page: ObjectId, key: &[u8]) -> lopdf::Result<Option<Object>> {
    let mut current = page;
    for _ in 0..64 {
        let node = doc.get_dictionary(current)?;
        if let Ok(value) = node.get(key) {
            return Ok(Some(value.clone()));
        }
        match node.get(b"Parent").and_then(Object::as_reference) {
            Ok(parent) => current = parent,
            Err(_) => return Ok(None),
        }
    }
    Err(lopdf::Error::ReferenceCycle(page))
}

fn own_attributes(doc: &Document, page: ObjectId) -> lopdf::Result<Dictionary> {
    let mut dict = doc.get_dictionary(page)?.clone();
    let media_box = inherited(doc, page, b"MediaBox")?
        .unwrap_or_else(|| vec![0.into(), 0.into(), PAGE.0.into(), PAGE.1.into()].into());
    dict.set("MediaBox", media_box);
    if let Some(resources) = inherited(doc, page, b"Resources")? {
        dict.set("Resources", resources);
    }
    if let Some(rotate) = inherited(doc, page, b"Rotate")? {
        dict.set("Rotate", rotate);
    }
    if let Some(crop) = inherited(doc, page, b"CropBox")? {
        dict.set("CropBox", crop);
    }
    Ok(dict)
}
