//! The role matrix: every page and every server function, for anonymous
//! callers and each role, allowed or refused as `app::access` says — and
//! that table names every route there is.

use std::collections::BTreeSet;

use app::access::{Access, DOWNLOADS, PAGES, SERVER_FUNCTIONS, UPLOADS};
use dispute_core::domain::Role;

use crate::helpers::{browser_client, spawn_app, TestApp, PASSWORD};

/// A fresh client signed in with `role`, or anonymous.
async fn caller(app: &TestApp, role: Option<Role>) -> reqwest::Client {
    let client = browser_client();
    if let Some(role) = role {
        let (_, email) = app.create_user(role).await;
        app.sign_in_with(&client, &email, PASSWORD).await;
    }
    client
}

/// A path for `pattern` naming things that exist: the fixtures' PingPong
/// connection, the dispute of its chargeback, and the first delivery,
/// rebuild and bulk replay.
fn concrete(pattern: &str) -> String {
    pattern
        .replace("{slug}", "pingpong-main")
        .replace("{id}", "1")
        .replace("{choice}", "accept")
}

/// `path` with its first segment's last letter percent-encoded
/// (`/users` → `/user%73`): the same page to a reader that decodes first.
fn encoded(path: &str) -> String {
    let end = path[1..].find(['/', '.']).map_or(path.len(), |i| i + 1);
    let (head, tail) = path.split_at(end);
    let (head, last) = head.split_at(head.len() - 1);
    format!("{head}%{:02X}{tail}", last.as_bytes()[0])
}

#[tokio::test]
async fn every_page_and_server_function_is_allowed_or_refused_as_the_table_says() {
    let app = spawn_app().await;
    app.import_fixture_connections().await;
    let chargeback = test_support::fixture_body("pp-chargeback.json");
    assert_eq!(
        app.post_webhook("pingpong-main", &[], chargeback)
            .await
            .status(),
        200
    );
    app.store
        .request_rebuild(
            dispute_store::RebuildKind::Check,
            &dispute_store::Actor::default(),
            Some(dispute_store::new_claim()),
        )
        .await
        .unwrap();
    app.store
        .request_replay_run("", &[], &dispute_store::Actor::default())
        .await
        .unwrap();
    // Response 1 of the chargeback, with evidence file 1.
    let (author, _) = app.create_user(Role::Analyst).await;
    let actor = dispute_store::Actor {
        user_id: Some(author),
        ..dispute_store::Actor::default()
    };
    app.store
        .prepare_response(1, &Default::default(), &actor, "dispute 1")
        .await
        .unwrap();
    let invoice = test_support::evidence_file("invoice-two-pages.pdf");
    let mut upload = app.store.begin_evidence(1).await.unwrap();
    upload.write(&invoice).await.unwrap();
    upload
        .finish(
            &dispute_store::NewEvidence {
                document: dispute_core::domain::evidence::DocumentKind::Invoice,
                name: "invoice.pdf".into(),
                safe_name: "invoice.pdf".into(),
                format: dispute_core::domain::evidence::FileKind::Pdf,
                size: invoice.len() as u64,
                sha256: [7; 32],
                pages: Some(2),
            },
            u64::MAX,
            &actor,
            "dispute 1",
        )
        .await
        .unwrap();
    let callers = [
        None,
        Some(Role::Analyst),
        Some(Role::Ops),
        Some(Role::Admin),
    ];

    for (pattern, access) in PAGES.iter().chain(DOWNLOADS) {
        for role in callers {
            let client = caller(&app, role).await;
            let path = concrete(pattern);
            let response = app.get_with(&client, &path).await;
            let status = response.status().as_u16();
            let expected = match (access.allows(role), role) {
                (true, _) => 200,
                (false, None) => 303,
                (false, Some(_)) => 403,
            };
            assert_eq!(status, expected, "GET {path} as {role:?}");
            let spelled = encoded(&path);
            let refused = app.get_with(&client, &spelled).await.status();
            assert_eq!(refused, 400, "GET {spelled} as {role:?}");
            if status == 303 {
                assert_eq!(
                    response.headers()["location"],
                    format!("/login?next={}", urlencoding::encode(&path)).as_str()
                );
            }
        }
    }

    for (pattern, access) in UPLOADS {
        for role in callers {
            let client = caller(&app, role).await;
            let path = concrete(pattern);
            let answer = client
                .post(format!("{}{path}", app.address))
                .header("origin", &app.address)
                .multipart(reqwest::multipart::Form::new().text("document_1", "other"))
                .send()
                .await
                .unwrap();
            let expected = match (access.allows(role), role) {
                (true, _) => 303,
                (false, None) => 303,
                (false, Some(_)) => 403,
            };
            assert_eq!(
                answer.status().as_u16(),
                expected,
                "POST {path} as {role:?}"
            );
            if role.is_none() {
                assert!(answer.headers()["location"]
                    .to_str()
                    .unwrap()
                    .starts_with("/login"));
            }
        }
    }

    for (endpoint, access) in SERVER_FUNCTIONS {
        for role in callers {
            let client = caller(&app, role).await;
            let response = app.post_form(&client, endpoint, &[]).await;
            let status = response.status().as_u16();
            match (access.allows(role), role) {
                (true, _) => assert!(
                    status != 401 && status != 403,
                    "POST {endpoint} as {role:?} was refused ({status})"
                ),
                (false, None) => assert_eq!(status, 401, "POST {endpoint} anonymously"),
                (false, Some(_)) => assert_eq!(status, 403, "POST {endpoint} as {role:?}"),
            }
        }
    }
}

#[tokio::test]
async fn the_table_names_every_route_and_server_function_and_nothing_else() {
    let _app = spawn_app().await;
    let routes: BTreeSet<String> = leptos_axum::generate_route_list(app::App)
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    let pages: BTreeSet<String> = PAGES.iter().map(|(p, _)| p.to_string()).collect();
    assert_eq!(routes, pages, "pages in the router vs. the access table");

    let functions: BTreeSet<String> = server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_owned())
        .collect();
    let listed: BTreeSet<String> = SERVER_FUNCTIONS
        .iter()
        .map(|(p, _)| p.to_string())
        .collect();
    assert_eq!(functions, listed, "server functions vs. the access table");
}

#[tokio::test]
async fn admin_navigation_is_shown_only_to_those_it_leads_somewhere() {
    let app = spawn_app().await;
    let analyst = caller(&app, Some(Role::Analyst)).await;
    let html = app
        .get_with(&analyst, "/disputes")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"href="/deadlines""#));
    for hidden in ["/deliveries", "/connections", "/users", "/audit"] {
        assert!(
            !html.contains(&format!(r#"href="{hidden}""#)),
            "{hidden}: {html}"
        );
    }
    let admin = caller(&app, Some(Role::Admin)).await;
    let html = app
        .get_with(&admin, "/disputes")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"href="/audit""#));
}

#[tokio::test]
async fn every_page_carries_the_security_headers() {
    let app = spawn_app().await;
    for path in ["/login", "/disputes", "/healthz"] {
        let response = app.get(path).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "same-origin");
    }
}

#[test]
fn the_access_table_has_no_duplicate_entries() {
    let mut seen = BTreeSet::new();
    for (path, _) in PAGES
        .iter()
        .chain(DOWNLOADS)
        .chain(UPLOADS)
        .chain(SERVER_FUNCTIONS)
    {
        assert!(seen.insert(*path), "{path} twice");
    }
    assert!(PAGES.iter().any(|(_, a)| *a == Access::Public));
}

#[tokio::test]
async fn an_address_under_api_that_is_no_server_function_is_refused() {
    let app = spawn_app().await;
    let admin = caller(&app, Some(Role::Admin)).await;
    for path in [
        "/api/deliveries/recent",
        "/api/users/list",
        "/api/no/such/thing",
    ] {
        let response = app.post_form(&admin, path, &[]).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(
            response.text().await.unwrap(),
            r#"{"error":"no such endpoint"}"#
        );
    }
}
