//! The packet built from real files (a PDF made by ReportLab, JPEGs made
//! by Pillow, a PNG and a TIFF made here) and read back with lopdf: its
//! pages, its text, its exhibits in order and upright, its limits.

use std::io::Cursor;

use dispute_core::domain::evidence::{EvidenceLimits, FileKind};
use dispute_workflows::{
    evidence::picture_pixels,
    packet::{build, check_pdf, check_tiff, Cover, Exhibit, PacketRefusal},
};
use lopdf::{Document, Object};
use test_support::evidence_file;

fn exhibit(title: &str, name: &str, format: FileKind, bytes: Vec<u8>) -> Exhibit {
    Exhibit {
        title: title.into(),
        name: name.into(),
        format,
        bytes,
    }
}

/// A 100 × 60 PNG, transparent but for a black square in its middle.
fn transparent_png() -> Vec<u8> {
    let picture = image::RgbaImage::from_fn(100, 60, |x, y| {
        if (40..60).contains(&x) && (20..40).contains(&y) {
            image::Rgba([0, 0, 0, 255])
        } else {
            image::Rgba([0, 0, 0, 0])
        }
    });
    let mut out = Vec::new();
    picture
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// A two-page TIFF: 40 × 30 grey, then 30 × 40 white.
fn two_page_tiff() -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let mut encoder = tiff::encoder::TiffEncoder::new(&mut out).unwrap();
    encoder
        .write_image::<tiff::encoder::colortype::RGB8>(40, 30, &[128; 40 * 30 * 3])
        .unwrap();
    encoder
        .write_image::<tiff::encoder::colortype::RGB8>(30, 40, &[255; 30 * 40 * 3])
        .unwrap();
    out.into_inner()
}

/// Random pixels (a photo's worst case for compression), as a PNG.
fn noise_png(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let picture = image::RgbImage::from_fn(width, height, |_, _| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let [a, b, c, _] = state.to_le_bytes();
        image::Rgb([a, b, c])
    });
    let mut out = Vec::new();
    picture
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn cover() -> Cover {
    Cover {
        title: "Response to dispute CB-0001".into(),
        facts: vec![
            ("Amount".into(), "120.00 USD".into()),
            ("Merchant order".into(), "ORD-98765".into()),
        ],
        letter: "The goods were delivered on 2 December 2026 to the address the cardholder gave.\n\nWe ask that the dispute be decided in the merchant's favour. Café crème, 5 € — 日本".into(),
    }
}

/// The image a page draws, as (width, height, its JPEG bytes).
fn page_image(doc: &Document, page: lopdf::ObjectId) -> (i64, i64, Vec<u8>) {
    let page = doc.get_dictionary(page).unwrap();
    let resources = page.get(b"Resources").unwrap();
    let resources = match resources {
        Object::Reference(id) => doc.get_dictionary(*id).unwrap(),
        Object::Dictionary(d) => d,
        other => panic!("resources {other:?}"),
    };
    let xobjects = resources.get(b"XObject").unwrap().as_dict().unwrap();
    let (_, image) = xobjects.iter().next().unwrap();
    let stream = doc
        .get_object(image.as_reference().unwrap())
        .unwrap()
        .as_stream()
        .unwrap();
    (
        stream.dict.get(b"Width").unwrap().as_i64().unwrap(),
        stream.dict.get(b"Height").unwrap().as_i64().unwrap(),
        stream.content.clone(),
    )
}

#[test]
fn a_packet_holds_the_cover_then_every_exhibit_in_order() {
    let exhibits = vec![
        exhibit(
            "Invoice or transaction record",
            "invoice-two-pages.pdf",
            FileKind::Pdf,
            evidence_file("invoice-two-pages.pdf"),
        ),
        exhibit(
            "Photo of the goods delivered",
            "delivery-photo-sideways.jpg",
            FileKind::Jpeg,
            evidence_file("delivery-photo-sideways.jpg"),
        ),
        exhibit(
            "Product description",
            "screenshot.png",
            FileKind::Png,
            transparent_png(),
        ),
        exhibit(
            "Other evidence",
            "scan.tif",
            FileKind::Tiff,
            two_page_tiff(),
        ),
        exhibit(
            "Other evidence",
            "cmyk.jpg",
            FileKind::Jpeg,
            evidence_file("cmyk.jpg"),
        ),
    ];
    let packet = build(&cover(), &exhibits, EvidenceLimits::default()).unwrap();
    assert_eq!(packet.shrink_step, 0, "small enough as it is");

    let doc = Document::load_mem(&packet.bytes).unwrap();
    let pages = doc.get_pages();
    assert_eq!(pages.len(), 1 + 2 + 1 + 1 + 2 + 1);
    assert_eq!(packet.pages, 8);

    let cover_text = doc.extract_text(&[1]).unwrap();
    for expected in [
        "Response to dispute CB-0001",
        "Amount: 120.00 USD",
        "The goods were delivered on 2 December 2026",
        "Café crème, 5 €",
        "1. Invoice or transaction record: invoice-two-pages.pdf (pages 2-3)",
        "2. Photo of the goods delivered: delivery-photo-sideways.jpg (page 4)",
        "3. Product description: screenshot.png (page 5)",
        "4. Other evidence: scan.tif (pages 6-7)",
        "5. Other evidence: cmyk.jpg (page 8)",
    ] {
        assert!(
            cover_text.contains(expected),
            "{expected:?} in the cover's text:\n{cover_text}"
        );
    }
    assert!(
        cover_text.contains("??"),
        "what WinAnsi cannot hold reads ?: {cover_text}"
    );

    assert!(doc.extract_text(&[2]).unwrap().contains("Order ORD-98765"));
    assert!(doc.extract_text(&[3]).unwrap().contains("page 2: terms"));
    assert!(doc
        .extract_text(&[4])
        .unwrap()
        .contains("Exhibit 2: delivery-photo-sideways.jpg"));
    assert!(doc
        .extract_text(&[7])
        .unwrap()
        .contains("Exhibit 4: scan.tif, page 2 of 2"));

    // The sideways photo stands upright: 200 wide, 320 high, its blue band
    // (the stored left) at the top.
    let (width, height, jpeg) = page_image(&doc, pages[&4]);
    assert_eq!((width, height), (200, 320));
    let upright = image::load_from_memory(&jpeg).unwrap().to_rgb8();
    let top = upright.get_pixel(100, 10).0;
    let bottom = upright.get_pixel(100, 310).0;
    assert!(top[2] > 150 && top[0] < 80, "blue at the top: {top:?}");
    assert!(bottom[0] > 150 && bottom[2] < 100, "red below: {bottom:?}");

    // The transparent PNG lies on white, not black.
    let (_, _, jpeg) = page_image(&doc, pages[&5]);
    let png = image::load_from_memory(&jpeg).unwrap().to_rgb8();
    assert!(
        png.get_pixel(5, 5).0.iter().all(|c| *c > 240),
        "{:?}",
        png.get_pixel(5, 5)
    );
    assert!(png.get_pixel(50, 30).0.iter().all(|c| *c < 30));

    // The CMYK JPEG keeps its colours (red-orange, not inverted).
    let (_, _, jpeg) = page_image(&doc, pages[&8]);
    let cmyk = image::load_from_memory(&jpeg).unwrap().to_rgb8();
    let orange = cmyk.get_pixel(200, 100).0;
    assert!(orange[0] > 150 && orange[2] < 100, "{orange:?}");
}

#[test]
fn a_photo_larger_than_a_page_needs_is_drawn_from_pixels_that_match_its_size() {
    let mut big = Vec::new();
    image::RgbImage::from_fn(3000, 1000, |x, _| image::Rgb([(x % 256) as u8, 90, 40]))
        .write_to(&mut Cursor::new(&mut big), image::ImageFormat::Jpeg)
        .unwrap();
    let roomy = EvidenceLimits {
        packet_bytes: 100_000_000,
        ..EvidenceLimits::default()
    };
    let packet = build(
        &cover(),
        &[exhibit("Photo", "wide.jpg", FileKind::Jpeg, big)],
        roomy,
    )
    .unwrap();
    let doc = Document::load_mem(&packet.bytes).unwrap();
    let pages = doc.get_pages();
    let (width, height, jpeg) = page_image(&doc, pages[&2]);
    let drawn = image::load_from_memory(&jpeg).unwrap();
    assert_eq!(
        (width, height),
        (2400, 800),
        "made no larger than a page needs"
    );
    assert_eq!(
        (i64::from(drawn.width()), i64::from(drawn.height())),
        (width, height),
        "the image's bytes are the size its dictionary says"
    );
}

#[test]
fn too_many_pages_are_refused_with_how_many_must_go() {
    let exhibits = vec![exhibit(
        "Invoice",
        "invoice-two-pages.pdf",
        FileKind::Pdf,
        evidence_file("invoice-two-pages.pdf"),
    )];
    let limits = EvidenceLimits {
        packet_pages: 2,
        ..EvidenceLimits::default()
    };
    assert_eq!(
        build(&cover(), &exhibits, limits).unwrap_err(),
        PacketRefusal::TooManyPages {
            pages: 3,
            limit: 2,
            over: 1
        }
    );
}

#[test]
fn pictures_shrink_until_the_packet_fits_and_a_packet_that_cannot_is_refused() {
    let exhibits = vec![exhibit(
        "Photo",
        "noise.png",
        FileKind::Png,
        noise_png(2400, 1800),
    )];
    let roomy = EvidenceLimits {
        packet_bytes: 100_000_000,
        ..EvidenceLimits::default()
    };
    let whole = build(&cover(), &exhibits, roomy).unwrap();
    assert_eq!(whole.shrink_step, 0);
    let limits = EvidenceLimits {
        packet_bytes: whole.bytes.len() as u64 / 3,
        ..EvidenceLimits::default()
    };
    let shrunk = build(&cover(), &exhibits, limits).unwrap();
    assert!(shrunk.shrink_step > 0);
    assert!(shrunk.bytes.len() as u64 <= limits.packet_bytes);
    let doc = Document::load_mem(&shrunk.bytes).unwrap();
    assert_eq!(doc.get_pages().len(), 2, "nothing cut");

    let tiny = EvidenceLimits {
        packet_bytes: 5_000,
        ..EvidenceLimits::default()
    };
    match build(&cover(), &exhibits, tiny).unwrap_err() {
        PacketRefusal::TooLarge { limit, over, .. } => {
            assert_eq!(limit, "5 kB");
            assert!(!over.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn files_are_checked_as_what_they_claim_to_be() {
    assert_eq!(check_pdf(&evidence_file("invoice-two-pages.pdf")), Ok(2));
    assert_eq!(
        check_pdf(&evidence_file("owner-restricted.pdf")),
        Ok(1),
        "restrictions only: it opens"
    );
    assert_eq!(
        check_pdf(&evidence_file("locked.pdf")).unwrap_err(),
        "it needs a password to open; send it without one."
    );
    assert!(check_pdf(b"%PDF-1.4\nnot really").is_err());
    assert_eq!(picture_pixels(4032, 3024), Ok(()));
    assert!(picture_pixels(12_000, 10_001)
        .unwrap_err()
        .contains("more than the 120 megapixels"));
    assert!(picture_pixels(0, 10).is_err());
    assert_eq!(check_tiff(Cursor::new(two_page_tiff())), Ok(2));
    assert!(check_tiff(Cursor::new(two_page_tiff()[..100].to_vec())).is_err());
    let mut sixteen = Cursor::new(Vec::new());
    tiff::encoder::TiffEncoder::new(&mut sixteen)
        .unwrap()
        .write_image::<tiff::encoder::colortype::Gray16>(4, 4, &[0u16; 16])
        .unwrap();
    assert!(check_tiff(Cursor::new(sixteen.into_inner()))
        .unwrap_err()
        .contains("which the packet cannot show"));
}
