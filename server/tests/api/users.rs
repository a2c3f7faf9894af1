//! The Users page and the audit log, through their forms.

use dispute_core::domain::Role;

use crate::helpers::{browser_client, spawn_app, PASSWORD};

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_admin_adds_a_person_who_must_choose_a_password_at_first_sign_in() {
    let app = spawn_app().await;
    let admin = app.sign_in_as(Role::Admin).await;

    let added = app
        .post_form(
            &app.client,
            "/api/users/create",
            &[
                ("email", "New.Person@Example.com"),
                ("display_name", "New Person"),
                ("role", "ops"),
                ("password", "temporary password 1"),
            ],
        )
        .await;
    let (target, added) = app.follow(&app.client, added).await;
    let again = app
        .post_form(
            &app.client,
            "/api/users/create",
            &[
                ("email", "new.person@example.com"),
                ("display_name", "Twice"),
                ("role", "ops"),
                ("password", "temporary password 1"),
            ],
        )
        .await;

    assert_eq!(target, "/users");
    assert!(added.contains("can now sign in"), "{added}");
    let (_, again) = app.follow(&app.client, again).await;
    assert!(again.contains("exists already"), "{again}");
    let person = browser_client();
    let target = app
        .sign_in_with(&person, "new.person@example.com", "temporary password 1")
        .await;
    assert_eq!(target, "/account/password");
    let html = app
        .get_with(&app.client, "/users")
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("new.person@example.com") && html.contains("must change password"));
    let entries = app
        .store
        .audit_log(
            &dispute_store::AuditFilter {
                action: Some("user.created".into()),
                ..Default::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    let by_admin = entries
        .iter()
        .find(|e| e.subject == "new.person@example.com")
        .unwrap();
    assert_eq!(by_admin.actor_email.as_deref(), Some(admin.as_str()));
    assert_eq!(by_admin.address.as_deref(), Some("127.0.0.1"));
    assert_eq!(by_admin.details["after"]["role"], "ops");
}

#[tokio::test]
async fn role_changes_and_disabling_are_audited_with_before_and_after() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Admin).await;
    let (id, email) = app.create_user(Role::Analyst).await;
    let id = id.to_string();

    let saved = app
        .post_form(
            &app.client,
            "/api/users/update",
            &[("id", &id), ("role", "ops"), ("disabled", "on")],
        )
        .await;

    assert_eq!(location(&saved), "/users");
    let after = app.store.user_by_email(&email).await.unwrap().unwrap();
    assert_eq!((after.role, after.disabled), (Role::Ops, true));
    let refused = app
        .post_form(
            &browser_client(),
            "/api/login",
            &[("email", &email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(location(&refused), "/login?error=1");
    let entry = &app
        .store
        .audit_log(
            &dispute_store::AuditFilter {
                action: Some("user.updated".into()),
                ..Default::default()
            },
            None,
            1,
        )
        .await
        .unwrap()[0];
    assert_eq!(entry.details["before"]["role"], "analyst");
    assert_eq!(entry.details["after"]["role"], "ops");
    assert_eq!(entry.details["after"]["disabled"], true);
}

#[tokio::test]
async fn an_admin_cannot_take_away_their_own_admin_access() {
    let app = spawn_app().await;
    let email = app.sign_in_as(Role::Admin).await;
    let me = app
        .store
        .user_by_email(&email)
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string();

    let demoted = app
        .post_form(
            &app.client,
            "/api/users/update",
            &[("id", &me), ("role", "analyst")],
        )
        .await;

    let (_, demoted) = app.follow(&app.client, demoted).await;
    assert!(
        demoted.contains("You cannot remove your own admin access"),
        "{demoted}"
    );
    assert_eq!(
        app.store
            .user_by_id(me.parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .role,
        Role::Admin
    );
}

#[tokio::test]
async fn a_reset_password_is_temporary() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Admin).await;
    let (id, email) = app.create_user(Role::Analyst).await;

    let reset = app
        .post_form(
            &app.client,
            "/api/users/reset-password",
            &[("id", &id.to_string()), ("password", "given by the admin")],
        )
        .await;

    assert_eq!(location(&reset), "/users");
    let person = browser_client();
    assert_eq!(
        app.sign_in_with(&person, &email, "given by the admin")
            .await,
        "/account/password"
    );
}

#[tokio::test]
async fn the_audit_log_is_filtered_by_person_kind_and_day_and_cannot_be_edited() {
    let app = spawn_app().await;
    let admin = app.sign_in_as(Role::Admin).await;
    let (_, analyst) = app.create_user(Role::Analyst).await;
    app.sign_in_with(&browser_client(), &analyst, PASSWORD)
        .await;

    let by_admin = app
        .get_with(
            &app.client,
            &format!("/audit?actor={}", urlencoding::encode(&admin)),
        )
        .await
        .text()
        .await
        .unwrap();
    let sessions = app
        .get_with(&app.client, "/audit?action=session")
        .await
        .text()
        .await
        .unwrap();
    let future = app
        .get_with(&app.client, "/audit?since=2999-01-01")
        .await
        .text()
        .await
        .unwrap();
    let bad_date = app
        .get_with(&app.client, "/audit?since=yesterday")
        .await
        .text()
        .await
        .unwrap();

    assert!(
        by_admin.contains("session.signed_in") && !by_admin.contains(&analyst),
        "{by_admin}"
    );
    assert!(
        sessions.contains(&analyst) && !sessions.contains("user.created"),
        "{sessions}"
    );
    assert!(future.contains("No changes recorded"), "{future}");
    assert!(bad_date.contains("is not a date"), "{bad_date}");
    for sql in [
        "update audit_log set action = 'x'",
        "delete from audit_log",
        "truncate audit_log",
    ] {
        let err = sqlx::query(sql).execute(&app.pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
}

#[tokio::test]
async fn the_audit_log_pages_by_keyset_so_new_entries_push_nothing_out_of_reach() {
    let app = spawn_app().await;
    app.sign_in_as(Role::Admin).await;
    let write = |n: usize| {
        let store = app.store.clone();
        async move {
            store
                .audit(
                    &dispute_store::Actor::default(),
                    &dispute_store::AuditEntry {
                        action: "connection.updated",
                        subject: &format!("entry-{n:04}"),
                        details: serde_json::json!({}),
                    },
                )
                .await
                .unwrap()
        }
    };
    for n in 0..150 {
        write(n).await;
    }
    let shown = |html: &str| -> Vec<usize> {
        html.match_indices("entry-")
            .map(|(i, _)| html[i + 6..i + 10].parse().unwrap())
            .collect()
    };

    let (_, first) = app.get_page("/audit?action=connection").await;
    for n in 150..160 {
        write(n).await;
    }
    let older = first
        .split(r#"<a href=""#)
        .find_map(|rest| rest.split('"').next().filter(|h| h.starts_with("/audit?")))
        .expect("a link to older entries")
        .replace("&amp;", "&");
    let (_, second) = app.get_page(&older).await;

    let (first, second) = (shown(&first), shown(&second));
    assert_eq!(first, (50..150).rev().collect::<Vec<_>>());
    assert_eq!(
        second,
        (0..50).rev().collect::<Vec<_>>(),
        "the older ones, none twice"
    );
    assert!(!older.contains("entry"), "the position is opaque: {older}");
}
