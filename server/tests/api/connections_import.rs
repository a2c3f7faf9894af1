use server::connections_import::{import, ImportError};

use test_support::fixtures;

use crate::helpers::spawn_app;

#[tokio::test]
async fn importing_the_same_file_twice_changes_nothing_the_second_time() {
    let app = spawn_app().await;
    let file = fixtures().join("connections.json");

    let first = import(&file, &app.store, &app.vault).await.unwrap();
    let second = import(&file, &app.store, &app.vault).await.unwrap();

    assert!(
        first[0].starts_with("created pingpong-main; verification key hmac:"),
        "{first:?}"
    );
    assert!(first[1].contains("signing key sha256:"), "{first:?}");
    assert!(
        second.iter().all(|line| line.starts_with("unchanged")
            && !line.contains(" created")
            && !line.contains(" updated")),
        "{second:?}"
    );
    let connections = app.store.connections_overview().await.unwrap();
    assert_eq!(connections.len(), 3);
}

#[tokio::test]
async fn a_bad_entry_is_named_with_its_problem_and_nothing_is_written() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("short.pem"),
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
    )
    .unwrap();
    std::fs::copy(
        fixtures().join("keys/pingpong-salt.txt"),
        dir.path().join("salt.txt"),
    )
    .unwrap();
    let file = dir.path().join("connections.json");
    std::fs::write(
        &file,
        r#"[
            {"slug": "pp", "provider": "pingpong", "acc_id": "1", "salt_file": "salt.txt"},
            {"slug": "botim", "provider": "botim_money", "provider_public_key_file": "short.pem"}
        ]"#,
    )
    .unwrap();

    let err = import(&file, &app.store, &app.vault).await.unwrap_err();

    assert!(matches!(err, ImportError::Invalid { .. }));
    assert_eq!(
        err.to_string(),
        "connection botim: provider_public_key_file: the key is not an RSA public key (expected SubjectPublicKeyInfo or PKCS#1 for public keys, PKCS#8 or PKCS#1 for private keys)"
    );
    assert!(app.store.connections_overview().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_missing_key_or_a_field_its_provider_does_not_take_is_refused() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("connections.json");
    for (json, message) in [
        (
            r#"[{"slug": "pp", "provider": "pingpong", "acc_id": "1"}]"#,
            "connection pp: salt_file is required for PingPong Checkout",
        ),
        (
            r#"[{"slug": "pm", "provider": "payermax", "acc_id": "1"}]"#,
            "connection pm: acc_id does not belong to a PayerMax connection (use merchant_no)",
        ),
        (
            r#"[{"slug": "pp", "provider": "pingpong", "acc_id": "1", "colour": "red"}]"#,
            "connection pp: colour does not belong to a PingPong Checkout connection (it takes acc_id, salt_file, next_salt_file)",
        ),
        (
            r#"[{"slug": "pp", "provider": "pingpong", "acc_id": "1", "merchant_private_key_file": "k.pem"}]"#,
            "connection pp: merchant_private_key_file does not belong to a PingPong Checkout connection (it takes acc_id, salt_file, next_salt_file)",
        ),
        (
            r#"[{"slug": "Bad Slug", "provider": "stripe"}]"#,
            "connection Bad Slug: unknown provider \"stripe\" (expected pingpong, botim_money or payermax)",
        ),
    ] {
        std::fs::write(&file, json).unwrap();
        assert_eq!(import(&file, &app.store, &app.vault).await.unwrap_err().to_string(), message);
    }
}
