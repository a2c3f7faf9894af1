//! Evidence against the real server: first 8 uploads of 10 MB at once on
//! a fresh server (its peak memory before and after), then a packet of 20
//! exhibits (10 PDFs, 10 phone-sized photos) built and downloaded, its time
//! beside reading the same 20 files back (the same run's baseline) and the
//! server's peak memory.

use std::{
    io::Cursor,
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use reqwest::multipart::{Form, Part};

use crate::environment::Environment;

const PHOTOS: usize = 10;
const PDFS: usize = 10;
/// What the browser form sends at most per request.
const FILES_PER_FORM: usize = 3;
/// Uploads at once, and the size of each.
const UPLOADS: usize = 8;
const UPLOAD_BYTES: usize = 9_990_000;

pub async fn evidence(repeats: usize) -> anyhow::Result<()> {
    let mut env = Environment::prepare().await?;
    // The packet holds 20 exhibits, past Mastercard's 19 pages; eight 10 MB
    // uploads go to one response, past the default 50 MB.
    let server = env
        .start_server_with(&[
            ("PACKET_MAX_PAGES", "100"),
            ("EVIDENCE_RESPONSE_MAX_BYTES", "1000000000"),
        ])
        .await?;
    let base = server.base.clone();
    let client = crate::pages::signed_in(&base).await?;
    let chargeback = test_support::fixture_body("pp-chargeback.json");
    let status = client
        .post(format!("{base}/webhooks/pingpong-main"))
        .body(chargeback)
        .send()
        .await?
        .status();
    if status != 200 {
        bail!("the chargeback answered {status}");
    }
    let response = prepare(&client, &base, 1).await?;

    println!(
        "{UPLOADS} uploads of {:.1} MB at once…",
        UPLOAD_BYTES as f64 / 1e6
    );
    let big: Vec<Vec<u8>> = (0..UPLOADS)
        .map(|i| {
            let mut bytes = photo(2000, 1500, 100 + i as u32, 80)?;
            bytes.resize(UPLOAD_BYTES, 0);
            anyhow::Ok(bytes)
        })
        .collect::<Result<_, _>>()?;
    let idle = env.server().peak_rss_mib()?;
    let started = Instant::now();
    let sends = big.iter().enumerate().map(|(i, bytes)| {
        let chunk = [(format!("big-{i}.jpg"), "other", bytes.clone())];
        let (client, base) = (client.clone(), base.clone());
        async move { upload(&client, &base, response, &chunk).await }
    });
    for sent in futures::future::join_all(sends).await {
        sent?;
    }
    let took = started.elapsed();
    let kept: i64 = sqlx::query_scalar("select count(*) from evidence_files")
        .fetch_one(&env.pool(1).await?)
        .await?;
    println!(
        "{kept} of {UPLOADS} kept in {:.1} s ({:.0} MB/s); server peak memory (VmHWM) {:.0} MiB before, {:.0} MiB after",
        took.as_secs_f64(),
        (UPLOADS * UPLOAD_BYTES) as f64 / 1e6 / took.as_secs_f64(),
        idle,
        env.server().peak_rss_mib()?,
    );
    sqlx::query("delete from evidence_files")
        .execute(&env.pool(1).await?)
        .await?;

    println!("making {PHOTOS} photos of 4032 x 3024 and {PDFS} PDFs…");
    let mut exhibits: Vec<(String, &str, Vec<u8>)> = Vec::new();
    for i in 0..PDFS.max(PHOTOS) {
        if i < PDFS {
            exhibits.push((format!("invoice-{i}.pdf"), "invoice", pdf(i)));
        }
        if i < PHOTOS {
            exhibits.push((
                format!("photo-{i}.jpg"),
                "delivery_photo",
                photo(4032, 3024, i as u32, 88)?,
            ));
        }
    }
    let total: usize = exhibits.iter().map(|e| e.2.len()).sum();
    for chunk in exhibits.chunks(FILES_PER_FORM) {
        upload(&client, &base, response, chunk).await?;
    }
    let files: i64 = sqlx::query_scalar("select count(*) from evidence_files")
        .fetch_one(&env.pool(1).await?)
        .await?;
    if files != exhibits.len() as i64 {
        bail!("{files} of {} exhibits were kept", exhibits.len());
    }
    let before = env.server().peak_rss_mib()?;

    let mut baseline = Vec::new();
    let mut packets = Vec::new();
    let mut size = 0;
    let ids: Vec<i64> = sqlx::query_scalar("select id from evidence_files order by id")
        .fetch_all(&env.pool(1).await?)
        .await?;
    for _ in 0..repeats {
        let started = Instant::now();
        for id in &ids {
            let answer = client.get(format!("{base}/evidence/{id}")).send().await?;
            answer.error_for_status()?.bytes().await?;
        }
        baseline.push(started.elapsed());
        let started = Instant::now();
        let answer = client
            .get(format!("{base}/responses/{response}/packet.pdf"))
            .send()
            .await?;
        let status = answer.status();
        let body = answer.bytes().await?;
        if status != 200 {
            bail!(
                "the packet answered {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        packets.push(started.elapsed());
        size = body.len();
    }
    let after = env.server().peak_rss_mib()?;
    let (p50, base50) = (median(&mut packets), median(&mut baseline));
    println!(
        "packet of {} exhibits ({:.1} MB of files) → {:.2} MB PDF: p50 {:.0} ms over {repeats} builds; reading the same files back {:.0} ms ({:.1}x); server peak memory {:.0} MiB before, {:.0} MiB after",
        exhibits.len(),
        total as f64 / 1e6,
        size as f64 / 1e6,
        ms(p50),
        ms(base50),
        ms(p50) / ms(base50),
        before,
        after,
    );

    env.stop_server().await?;
    Ok(())
}

async fn prepare(client: &reqwest::Client, base: &str, dispute: i64) -> anyhow::Result<i64> {
    let answer = client
        .post(format!("{base}/api/responses/prepare"))
        .header("origin", base)
        .header("accept", "text/html")
        .form(&[("dispute", dispute.to_string())])
        .send()
        .await?;
    let location = answer
        .headers()
        .get("location")
        .context("preparing a response redirects")?
        .to_str()?
        .to_owned();
    location
        .trim_start_matches("/responses/")
        .parse()
        .context("the response's address")
}

async fn upload(
    client: &reqwest::Client,
    base: &str,
    response: i64,
    files: &[(String, &str, Vec<u8>)],
) -> anyhow::Result<()> {
    let mut form = Form::new();
    for (i, (name, document, bytes)) in files.iter().enumerate() {
        form = form
            .text(format!("document_{}", i + 1), document.to_string())
            .part(
                format!("file_{}", i + 1),
                Part::bytes(bytes.clone()).file_name(name.clone()),
            );
    }
    let answer = client
        .post(format!("{base}/responses/{response}/files"))
        .header("origin", base)
        .multipart(form)
        .send()
        .await?;
    if answer.status() != 303 {
        bail!("an upload answered {}", answer.status());
    }
    Ok(())
}

/// A photo-like JPEG: gradients with grain, which compresses as a phone
/// photo does (a few MB at 12 megapixels).
fn photo(width: u32, height: u32, seed: u32, quality: u8) -> anyhow::Result<Vec<u8>> {
    let mut state = seed.wrapping_mul(2_654_435_761).max(1);
    let picture = image::RgbImage::from_fn(width, height, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let grain = (state % 48) as u8;
        image::Rgb([
            ((x * 255 / width) as u8).saturating_add(grain),
            ((y * 255 / height) as u8).saturating_add(grain / 2),
            (((x + y + seed) % 256) as u8).saturating_add(grain / 3),
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut Cursor::new(&mut out), quality)
        .encode_image(&picture)?;
    Ok(out)
}

/// A two-page invoice, the fixture made by ReportLab, made distinct by a
/// comment after its end (readers ignore it).
fn pdf(i: usize) -> Vec<u8> {
    let mut bytes = test_support::evidence_file("invoice-two-pages.pdf");
    bytes.extend_from_slice(format!("\n% copy {i}\n").as_bytes());
    bytes
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
