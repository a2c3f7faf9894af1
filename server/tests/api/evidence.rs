//! Responses and their evidence over HTTP: preparing a response from the
//! dispute page, uploading files with the plain multipart form (each bad
//! file refused with a sentence and nothing of it kept), the checklist
//! turning satisfied, the letter, making it ready, downloads, the packet,
//! and what changes once the dispute is decided.

use dispute_core::domain::Role;
use reqwest::multipart::Form;
use server::config::Settings;
use test_support::evidence_file;

use crate::helpers::{
    browser_client, evidence_form as form, post_pingpong, spawn_app, spawn_app_with, TestApp,
    PASSWORD,
};

const DISPUTE: &str = "202303071954574059";

/// An app with the fixture connections and PingPong's chargeback (reason
/// 13.1, not received), and an analyst signed in on `app.client`.
async fn with_chargeback(settings: Option<Settings>) -> TestApp {
    let app = match settings {
        Some(settings) => spawn_app_with(settings).await,
        None => spawn_app().await,
    };
    app.import_fixture_connections().await;
    let chargeback = test_support::fixture_body("pp-chargeback.json");
    assert_eq!(
        app.post_webhook("pingpong-main", &[], chargeback)
            .await
            .status(),
        200
    );
    app.sign_in_as(Role::Analyst).await;
    app
}

/// Prepares the response from the dispute page's form; its page's path.
async fn prepare(app: &TestApp, client: &reqwest::Client) -> String {
    let (target, html) = app.prepare_response(client, "pingpong-main", DISPUTE).await;
    assert!(target.starts_with("/responses/"), "{target}");
    assert!(html.contains("A draft response is ready"), "{html}");
    target
}

fn response_id(page: &str) -> i64 {
    page.trim_start_matches("/responses/").parse().unwrap()
}

/// Uploads and follows the redirect back; the page's HTML.
async fn upload_and_read(
    app: &TestApp,
    client: &reqwest::Client,
    page: &str,
    form: Form,
) -> String {
    let answer = app.upload_evidence(client, page, form).await;
    assert_eq!(answer.status(), 303, "{:?}", answer.text().await);
    let (target, html) = app.follow(client, answer).await;
    assert_eq!(target, page);
    html
}

async fn stored_files(app: &TestApp) -> Vec<(String, String, String, i64, Vec<u8>)> {
    sqlx::query_as("select name, safe_name, format, size, sha256 from evidence_files order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

async fn chunk_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("select count(*) from evidence_chunks")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).to_vec()
}

#[tokio::test]
async fn an_analyst_prepares_a_response_adds_evidence_and_makes_it_ready() {
    let app = with_chargeback(None).await;
    let dispute_page = app.dispute_page("pingpong-main", DISPUTE).await;
    let (_, html) = app.get_page(&dispute_page).await;
    assert!(html.contains("Prepare a response"), "{html}");

    let page = prepare(&app, &app.client).await;
    let (_, html) = app.get_page(&page).await;
    // The desk's list for "not received" (13.1): invoice and shipping are
    // required, and the letter is filled from the dispute.
    assert!(html.contains("Shipping and tracking"), "{html}");
    assert!(
        html.contains("the desk&#x27;s list for not received")
            || html.contains("the desk's list for not received"),
        "{html}"
    );
    assert!(html.contains("Merchandise Not Received (13.1)"), "{html}");
    assert!(html.contains("PShop20230307162139KX"), "{html}");
    assert!(html.contains("129.90 USD"), "{html}");

    let answer = app
        .post_form(
            &app.client,
            "/api/responses/ready",
            &[("response", &response_id(&page).to_string())],
        )
        .await;
    let (_, html) = app.follow(&app.client, answer).await;
    assert!(
        html.contains("Not ready: Invoice or transaction record is required and no file of that kind is attached; Shipping and tracking is required"),
        "{html}"
    );

    let invoice = evidence_file("invoice-two-pages.pdf");
    let photo = evidence_file("delivery-photo-sideways.jpg");
    let html = upload_and_read(
        &app,
        &app.client,
        &page,
        form(&[
            ("invoice", "invoice-two-pages.pdf", invoice.clone()),
            ("shipping", "delivery-photo-sideways.jpg", photo.clone()),
        ]),
    )
    .await;
    assert!(
        html.contains("Added invoice-two-pages.pdf, delivery-photo-sideways.jpg."),
        "{html}"
    );
    assert_eq!(html.matches("satisfied").count(), 2, "{html}");
    let files = stored_files(&app).await;
    assert_eq!(
        files,
        vec![
            (
                "invoice-two-pages.pdf".into(),
                "invoice-two-pages.pdf".into(),
                "pdf".into(),
                invoice.len() as i64,
                sha256(&invoice)
            ),
            (
                "delivery-photo-sideways.jpg".into(),
                "delivery-photo-sideways.jpg".into(),
                "jpeg".into(),
                photo.len() as i64,
                sha256(&photo)
            ),
        ]
    );

    // Downloads come back byte for byte, as attachments only.
    let id: i64 = sqlx::query_scalar("select id from evidence_files where format = 'pdf'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let download = app.get(&format!("/evidence/{id}")).await;
    assert_eq!(download.status(), 200);
    assert_eq!(download.headers()["content-type"], "application/pdf");
    let disposition = download.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"invoice-two-pages.pdf\""),
        "{disposition}"
    );
    assert_eq!(download.bytes().await.unwrap().as_ref(), invoice.as_slice());

    // The letter and summary are saved; the letter may not be emptied into
    // a ready response.
    let response = response_id(&page).to_string();
    let answer = app
        .post_form(
            &app.client,
            "/api/responses/text",
            &[
                ("response", &response),
                ("letter", "Delivered on 2 April.\r\nSigned for."),
                ("summary", ""),
            ],
        )
        .await;
    let (_, html) = app.follow(&app.client, answer).await;
    assert!(html.contains("Letter and summary saved"), "{html}");
    let letter: String = sqlx::query_scalar("select letter from responses")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(letter, "Delivered on 2 April.\nSigned for.");

    let answer = app
        .post_form(
            &app.client,
            "/api/responses/ready",
            &[("response", &response)],
        )
        .await;
    let (_, html) = app.follow(&app.client, answer).await;
    assert!(html.contains("The response is ready to send"), "{html}");
    assert!(html.contains("Back to draft"), "{html}");
    assert!(
        !html.contains("Add files"),
        "a ready response takes no files: {html}"
    );

    // Every change is on the dispute's timeline and in the audit log.
    let (_, html) = app.get_page(&dispute_page).await;
    for line in [
        "Prepared a response to the chargeback",
        "Added evidence: invoice-two-pages.pdf",
        "Added evidence: delivery-photo-sideways.jpg",
        "Edited the response",
        "Marked the response ready to send",
    ] {
        assert!(html.contains(line), "{line}: {html}");
    }
    let actions: Vec<String> = sqlx::query_scalar(
        "select action from audit_log where action like 'response.%' order by id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        actions,
        [
            "response.prepared",
            "response.file_added",
            "response.file_added",
            "response.text_saved",
            "response.marked_ready"
        ]
    );

    // The packet: the cover, the invoice's two pages, the photo.
    let packet = app.get(&format!("{page}/packet.pdf")).await;
    assert_eq!(packet.status(), 200);
    assert_eq!(packet.headers()["content-type"], "application/pdf");
    assert!(packet.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; filename=\"packet-202303071954574059.pdf\""));
    let doc = lopdf::Document::load_mem(&packet.bytes().await.unwrap()).unwrap();
    assert_eq!(doc.get_pages().len(), 4);
    assert!(doc
        .extract_text(&[1])
        .unwrap()
        .contains("Delivered on 2 April."));
}

#[tokio::test]
async fn an_admins_cover_letter_is_what_the_next_response_starts_from() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let chargeback = test_support::fixture_body("pp-chargeback.json");
    assert_eq!(
        app.post_webhook("pingpong-main", &[], chargeback)
            .await
            .status(),
        200
    );
    app.sign_in_as(Role::Admin).await;
    let (status, html) = app.get_page("/letters?kind=not_received").await;
    assert_eq!(status, 200);
    assert!(html.contains("{{merchant_order}}"), "{html}");

    let answer = app
        .post_form(
            &app.client,
            "/api/letters/save",
            &[
                ("kind", "not_received"),
                ("body", "Dear {{provider}}, see {{secret_key}}"),
            ],
        )
        .await;
    let (_, html) = app.follow(&app.client, answer).await;
    assert!(
        html.contains("{{secret_key}} is not a placeholder the desk can fill"),
        "{html}"
    );
    assert!(
        html.contains("see {{secret_key}}"),
        "the typed template is kept: {html}"
    );

    let answer = app
        .post_form(
            &app.client,
            "/api/letters/save",
            &[
                ("kind", "not_received"),
                (
                    "body",
                    "Order {{merchant_order}} <b>was delivered</b> to {{provider}}.",
                ),
            ],
        )
        .await;
    let (_, html) = app.follow(&app.client, answer).await;
    assert!(
        html.contains("Saved: new responses to not received disputes"),
        "{html}"
    );

    let page = prepare(&app, &app.client).await;
    let (_, html) = app.get_page(&page).await;
    assert!(
        html.contains(
            "Order PShop20230307162139KX &lt;b&gt;was delivered&lt;/b&gt; to PingPong Checkout."
        ),
        "{html}"
    );

    // An analyst removes a file from the draft; it is gone, and the
    // timeline says so.
    let invoice = evidence_file("invoice-two-pages.pdf");
    upload_and_read(
        &app,
        &app.client,
        &page,
        form(&[("invoice", "invoice.pdf", invoice)]),
    )
    .await;
    let file: i64 = sqlx::query_scalar("select id from evidence_files")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let answer = app
        .post_form(
            &app.client,
            "/api/responses/remove-file",
            &[
                ("response", &response_id(&page).to_string()),
                ("file", &file.to_string()),
            ],
        )
        .await;
    let (_, html) = app.follow(&app.client, answer).await;
    assert!(html.contains("Removed invoice.pdf"), "{html}");
    assert!(stored_files(&app).await.is_empty());
    assert_eq!(chunk_count(&app).await, 0);
    let analyst = browser_client();
    let (_, email) = app.create_user(Role::Analyst).await;
    app.sign_in_with(&analyst, &email, PASSWORD).await;
    let refused = app
        .post_form(
            &analyst,
            "/api/letters/save",
            &[("kind", "fraud"), ("body", "x")],
        )
        .await;
    assert_eq!(refused.status(), 403, "letters are the admins'");
}

#[tokio::test]
async fn files_are_judged_by_their_content_and_bad_ones_are_refused_with_a_sentence() {
    let app = with_chargeback(None).await;
    let page = prepare(&app, &app.client).await;
    let mut zip = b"PK\x03\x04".to_vec();
    zip.extend_from_slice(&[0; 40]);
    let png = {
        let mut out = Vec::new();
        image::RgbImage::from_pixel(20, 10, image::Rgb([1, 2, 3]))
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .unwrap();
        out
    };
    let photo = evidence_file("delivery-photo-sideways.jpg");
    let truncated = photo[..photo.len() - 300].to_vec();

    let html = upload_and_read(
        &app,
        &app.client,
        &page,
        form(&[
            ("invoice", "invoice.pdf", zip),
            ("other", "photo.jpg", truncated),
            ("other", "empty.pdf", Vec::new()),
        ]),
    )
    .await;
    for sentence in [
        "invoice.pdf: This file is a ZIP, which this provider does not take. Accepted: PDF, JPEG, PNG, TIFF.",
        "photo.jpg is not a readable JPEG: it is cut short: the end of the image is missing.",
        "empty.pdf is empty.",
    ] {
        assert!(html.contains(sentence), "{sentence}: {html}");
    }
    let html = upload_and_read(
        &app,
        &app.client,
        &page,
        form(&[
            ("other", "locked.pdf", evidence_file("locked.pdf")),
            (
                "other",
                "notes.txt",
                b"just some text, long enough".to_vec(),
            ),
        ]),
    )
    .await;
    assert!(
        html.contains(
            "locked.pdf is not a readable PDF: it needs a password to open; send it without one."
        ),
        "{html}"
    );
    assert!(html.contains("notes.txt: This file is not one of the accepted formats (PDF, JPEG, PNG, TIFF); its content decides, not its name."), "{html}");
    assert!(stored_files(&app).await.is_empty());
    assert_eq!(chunk_count(&app).await, 0, "nothing half-stored");

    // A PNG declared as a PDF is kept as the PNG it is.
    let html = upload_and_read(
        &app,
        &app.client,
        &page,
        form(&[("other", "scan.pdf", png)]),
    )
    .await;
    assert!(html.contains("Added scan.pdf."), "{html}");
    let files = stored_files(&app).await;
    assert_eq!(
        (files[0].1.as_str(), files[0].2.as_str()),
        ("scan.png", "png")
    );

    // A phone's motion photo: its video follows the image's end.
    let mut motion = evidence_file("delivery-photo-sideways.jpg");
    motion.extend_from_slice(b"\0\0\0\x18ftypmp42 the video goes on");
    let html = upload_and_read(
        &app,
        &app.client,
        &page,
        form(&[("other", "motion.jpg", motion)]),
    )
    .await;
    assert!(html.contains("Added motion.jpg."), "{html}");

    // The same bytes again are the same file.
    let owner_only = evidence_file("owner-restricted.pdf");
    let html = upload_and_read(
        &app,
        &app.client,
        &page,
        form(&[
            ("other", "restricted.pdf", owner_only.clone()),
            ("invoice", "copy.pdf", owner_only),
        ]),
    )
    .await;
    assert!(html.contains("Added restricted.pdf."), "{html}");
    assert!(
        html.contains("copy.pdf is attached already, as restricted.pdf."),
        "{html}"
    );
    assert_eq!(stored_files(&app).await.len(), 3);
}

#[tokio::test]
async fn a_file_over_the_limit_is_refused_while_it_streams_and_nothing_of_it_is_kept() {
    let mut settings = Settings::default();
    settings.evidence.file_bytes = 600_000;
    let app = with_chargeback(Some(settings)).await;
    let page = prepare(&app, &app.client).await;
    let mut big = evidence_file("delivery-photo-sideways.jpg");
    big.resize(700_000, 0);
    let html = upload_and_read(&app, &app.client, &page, form(&[("other", "big.jpg", big)])).await;
    assert!(
        html.contains("big.jpg is larger than the 600 kB a file may be; nothing of it was kept."),
        "{html}"
    );
    assert!(stored_files(&app).await.is_empty());
    assert_eq!(chunk_count(&app).await, 0);

    // A body larger than any form of files may be is cut off with 413.
    let huge = vec![0u8; 600_000 * 3 + 2 * 1024 * 1024];
    let answer = app
        .upload_evidence(&app.client, &page, form(&[("other", "huge.pdf", huge)]))
        .await;
    assert_eq!(answer.status(), 413);
    assert!(answer
        .text()
        .await
        .unwrap()
        .contains("larger than a form of files may be"));
    assert_eq!(chunk_count(&app).await, 0);
}

#[tokio::test]
async fn hostile_file_names_are_kept_as_labels_shown_escaped_and_made_safe_for_providers() {
    let app = with_chargeback(None).await;
    let page = prepare(&app, &app.client).await;
    let hostile = format!(
        "../../<img src=x onerror=alert(1)>\u{202E}gpj.exe\t{}.pdf",
        "ن".repeat(300)
    );
    let html = upload_and_read(
        &app,
        &app.client,
        &page,
        form(&[("invoice", &hostile, evidence_file("invoice-two-pages.pdf"))]),
    )
    .await;
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;gpj.exe"),
        "{html}"
    );
    let files = stored_files(&app).await;
    let (name, safe, ..) = &files[0];
    assert!(
        !name.contains('\u{202E}') && !name.contains('\t') && !name.contains('/'),
        "{name}"
    );
    assert_eq!(name.chars().count(), 201, "cut to 200 and an ellipsis");
    assert!(safe.ends_with(".pdf") && safe.is_ascii(), "{safe}");
    assert!(!safe.contains('/') && !safe.contains(".."), "{safe}");

    // A raw control character in a part's header is no form a browser
    // sends: the whole upload is refused, saying so, and nothing changes.
    let answer = app
        .upload_evidence(
            &app.client,
            &page,
            form(&[(
                "other",
                "bell\u{7}.pdf",
                evidence_file("owner-restricted.pdf"),
            )]),
        )
        .await;
    assert_eq!(answer.status(), 400);
    assert!(answer
        .text()
        .await
        .unwrap()
        .contains("The upload could not be read"));
    assert_eq!(stored_files(&app).await.len(), 1);
}

#[tokio::test]
async fn two_analysts_uploading_to_one_response_at_once_keep_each_file_once() {
    let app = with_chargeback(None).await;
    let page = prepare(&app, &app.client).await;
    let other = browser_client();
    let (_, email) = app.create_user(Role::Analyst).await;
    app.sign_in_with(&other, &email, PASSWORD).await;
    let invoice = evidence_file("invoice-two-pages.pdf");
    let photo = evidence_file("delivery-photo-sideways.jpg");
    let (first, second) = tokio::join!(
        app.upload_evidence(
            &app.client,
            &page,
            form(&[
                ("invoice", "a.pdf", invoice.clone()),
                ("other", "same-a.jpg", photo.clone())
            ])
        ),
        app.upload_evidence(
            &other,
            &page,
            form(&[
                ("invoice", "b.pdf", evidence_file("owner-restricted.pdf")),
                ("other", "same-b.jpg", photo)
            ])
        ),
    );
    assert_eq!(
        (first.status().as_u16(), second.status().as_u16()),
        (303, 303)
    );
    let names: Vec<String> = stored_files(&app).await.into_iter().map(|f| f.0).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.contains(&"a.pdf".to_owned()) && names.contains(&"b.pdf".to_owned()));
    assert_eq!(
        names.iter().filter(|n| n.starts_with("same-")).count(),
        1,
        "{names:?}"
    );
}

#[tokio::test]
async fn a_response_is_read_only_once_its_dispute_is_decided() {
    let app = with_chargeback(None).await;
    let page = prepare(&app, &app.client).await;
    post_pingpong(
        &app,
        serde_json::json!({
            "eventCode": "CHARGEBACK_REVERSED",
            "chargebackStatus": "WON",
            "eventDate": "2023-04-10 08:00:00",
        }),
    )
    .await;
    let (_, html) = app.get_page(&page).await;
    assert!(
        html.contains("The dispute is decided (won), so its response can no longer change."),
        "{html}"
    );
    assert!(!html.contains("Add files"));
    let html = upload_and_read(
        &app,
        &app.client,
        &page,
        form(&[(
            "invoice",
            "late.pdf",
            evidence_file("invoice-two-pages.pdf"),
        )]),
    )
    .await;
    assert!(
        html.contains("The dispute is decided (won), so its response can no longer change."),
        "{html}"
    );
    assert!(stored_files(&app).await.is_empty());
    let answer = app
        .post_form(
            &app.client,
            "/api/responses/text",
            &[
                ("response", &response_id(&page).to_string()),
                ("letter", "Too late"),
            ],
        )
        .await;
    let (_, html) = app.follow(&app.client, answer).await;
    assert!(html.contains("can no longer change"), "{html}");
    let letter: String = sqlx::query_scalar("select letter from responses")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_ne!(letter, "Too late");
}

#[tokio::test]
async fn a_packet_over_the_providers_limits_is_refused_with_by_how_much() {
    let mut settings = Settings::default();
    settings.evidence.packet_pages = 2;
    let app = with_chargeback(Some(settings)).await;
    let page = prepare(&app, &app.client).await;
    upload_and_read(
        &app,
        &app.client,
        &page,
        form(&[(
            "invoice",
            "invoice.pdf",
            evidence_file("invoice-two-pages.pdf"),
        )]),
    )
    .await;
    let answer = app.get(&format!("{page}/packet.pdf")).await;
    assert_eq!(answer.status(), 422);
    let html = answer.text().await.unwrap();
    assert!(
        html.contains("The packet would have 3 pages; the provider takes at most 2, so 1 must go."),
        "{html}"
    );
}

#[tokio::test]
async fn a_letter_of_twenty_thousand_characters_in_any_script_is_saved_and_its_packet_limits_said()
{
    let app = with_chargeback(None).await;
    let page = prepare(&app, &app.client).await;
    let letter = "ن".repeat(20_000);
    let answer = app
        .post_form(
            &app.client,
            "/api/responses/text",
            &[
                ("response", &response_id(&page).to_string()),
                ("letter", &letter),
            ],
        )
        .await;
    let (_, html) = app.follow(&app.client, answer).await;
    assert!(html.contains("Letter and summary saved"), "{html}");
    assert!(
        html.contains("20000 characters of this letter will read as ? there"),
        "{html}"
    );
    let kept: String = sqlx::query_scalar("select letter from responses")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(kept.chars().count(), 20_000);
}

#[tokio::test]
async fn a_summary_longer_than_providers_take_is_refused_and_kept_in_the_form() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let body = test_support::fixture_body("pm-inquiry-flat.json");
    let sign = test_support::fixture_sign("pm-inquiry-flat");
    let headers = [("sign", sign.as_str())];
    let answer = app.post_webhook("payermax-main", &headers, body).await;
    assert_eq!(answer.status(), 200);
    app.sign_in_as(Role::Analyst).await;
    let dispute: i64 = sqlx::query_scalar("select id from disputes")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let answer = app
        .post_form(
            &app.client,
            "/api/responses/prepare",
            &[("dispute", &dispute.to_string())],
        )
        .await;
    let (page, _) = app.follow(&app.client, answer).await;
    let long = "x".repeat(300);
    let answer = app
        .post_form(
            &app.client,
            "/api/responses/text",
            &[
                ("response", &response_id(&page).to_string()),
                ("letter", "Letter"),
                ("summary", &long),
            ],
        )
        .await;
    let (_, html) = app.follow(&app.client, answer).await;
    assert!(
        html.contains("The summary is 300 characters; providers take at most 256, so 44 must go"),
        "{html}"
    );
    assert!(html.contains(&long), "the typed summary is kept");
    let summary: String = sqlx::query_scalar("select summary from responses")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(summary, "");
}

#[tokio::test]
async fn botim_moneys_response_is_the_same_packet_to_send_through_its_own_channel() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let sign = test_support::fixture_sign("botim-chargeback");
    let answer = app
        .post_webhook(
            "botim-main",
            &[("sign", sign.as_str())],
            test_support::fixture_body("botim-chargeback.json"),
        )
        .await;
    assert_eq!(answer.status(), 200);
    app.sign_in_as(Role::Analyst).await;
    let dispute: i64 = sqlx::query_scalar("select id from disputes")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let (_, html) = app.get_page(&format!("/disputes/{dispute}")).await;
    assert!(html.contains("Prepare a response"), "{html}");
    let answer = app
        .post_form(
            &app.client,
            "/api/responses/prepare",
            &[("dispute", &dispute.to_string())],
        )
        .await;
    let (page, html) = app.follow(&app.client, answer).await;
    assert!(
        html.contains("Botim Money does not say what a dispute needs"),
        "the desk's list stands in: {html}"
    );
    assert!(!html.contains("Ask Botim Money"), "{html}");
    let mut zip = b"PK\x03\x04".to_vec();
    zip.extend_from_slice(&[0; 40]);
    let html = upload_and_read(
        &app,
        &app.client,
        &page,
        form(&[
            (
                "invoice",
                "invoice.pdf",
                evidence_file("invoice-two-pages.pdf"),
            ),
            ("other", "archive.zip", zip),
        ]),
    )
    .await;
    assert!(html.contains("Added invoice.pdf."), "{html}");
    assert!(
        html.contains("archive.zip: This file is a ZIP, which this provider does not take."),
        "{html}"
    );
    let packet = app.get(&format!("{page}/packet.pdf")).await;
    assert_eq!(packet.status(), 200);
    let doc = lopdf::Document::load_mem(&packet.bytes().await.unwrap()).unwrap();
    assert_eq!(doc.get_pages().len(), 3);
    assert!(doc.extract_text(&[1]).unwrap().contains("Botim Money"));
}
