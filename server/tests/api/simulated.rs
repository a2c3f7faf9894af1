//! Dispute Desk with the fixtures' connections pointed at the provider
//! simulator over real HTTP, a story's notifications played: what the
//! status-query and responding tests start from.

use std::{sync::Arc, time::Duration};

use dispute_workflows::{
    executor::{CallSettings, Executor},
    outbound::OutboundPolicy,
    status_queries::StatusQueries,
};
use server::config::{Settings, StatusQuerySettings};
use simulator::{
    notifications::Keys,
    queries::{self, World},
    scenario::Scenario,
    sender::{self, Play},
};

use crate::helpers::{spawn_app_with, TestApp};

pub fn keys() -> Keys {
    Keys::load(&test_support::fixtures().join("keys")).expect("the fixtures' provider keys")
}

/// Reconciliation off: the tests run it when they mean to.
pub fn settings() -> Settings {
    let d = Settings::default().status_queries;
    Settings {
        status_queries: StatusQuerySettings {
            allow_local: true,
            timeout: Duration::from_secs(1),
            reconcile_every: None,
            ..d
        },
        ..Settings::default()
    }
}

pub struct Rig {
    pub app: TestApp,
    pub world: Arc<World>,
    pub queries: StatusQueries,
}

/// Dispute Desk with the fixtures' connections pointed at a simulator
/// playing `story`, whose notifications have all been sent.
pub async fn rig(story: Scenario, policy: OutboundPolicy) -> Rig {
    rig_with(story, policy, settings()).await
}

/// `rig` with these settings.
pub async fn rig_with(story: Scenario, policy: OutboundPolicy, settings: Settings) -> Rig {
    let app = spawn_app_with(settings).await;
    app.import_fixture_connections().await;
    let start = story.start_ending_now();
    let world = Arc::new(World::new(
        story.clone(),
        start,
        keys(),
        Duration::from_secs(3),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(queries::serve(listener, world.clone()));
    for (slug, prefix) in [
        ("pingpong-main", "/pingpong"),
        ("botim-main", "/botim-money"),
        ("payermax-main", "/payermax"),
    ] {
        point(&app, slug, &format!("{base}{prefix}")).await;
    }
    let how = Play {
        intake: app.address.clone(),
        time_scale: 0.00001,
        timeout: Duration::from_secs(5),
    };
    sender::play(&story, world.keys(), start, &how)
        .await
        .unwrap();
    world.send_outcomes_to(how);
    let queries = StatusQueries::new(
        app.store.clone(),
        app.vault.clone(),
        Executor::new(
            app.store.clone(),
            CallSettings {
                policy,
                timeout: Duration::from_secs(1),
                retries: 1,
            },
        ),
        dispute_workflows::metrics::Metrics::new(),
    );
    Rig {
        app,
        world,
        queries,
    }
}

pub const LOCAL: OutboundPolicy = OutboundPolicy { allow_local: true };

pub async fn point(app: &TestApp, slug: &str, base: &str) {
    sqlx::query("update connections set query_base_url = $2 where slug = $1")
        .bind(slug)
        .bind(base)
        .execute(&app.pool)
        .await
        .unwrap();
}
