//! What Dispute Desk counts for Prometheus: deliveries by provider and
//! verdict, intake latency, the database pool, replays, status queries and
//! reconciliation runs. One registry per running application, so that
//! several in one process (the tests) count apart.

use std::sync::Arc;

use dispute_core::domain::ProviderKind;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use dispute_store::{QueryOutcome, ReplayOutcome};

/// The application's metrics. Cheap to clone.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    deliveries: IntCounterVec,
    intake_seconds: Histogram,
    pool: IntGaugeVec,
    status_queries: IntCounterVec,
    reconciliation_runs: IntCounter,
    reconciled: IntCounterVec,
    replays: IntCounterVec,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("dispute_desk".into()), None).expect("a valid prefix");
        let deliveries = IntCounterVec::new(
            Opts::new(
                "deliveries_total",
                "Requests to a webhook URL, by provider (unknown: no such connection) and verdict",
            ),
            &["provider", "verdict"],
        )
        .expect("valid metric");
        let intake_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "intake_seconds",
                "Time from reading a notification to its answer, stored",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
        )
        .expect("valid metric");
        let pool = IntGaugeVec::new(
            Opts::new(
                "database_connections",
                "The database pool's connections, by state",
            ),
            &["state"],
        )
        .expect("valid metric");
        let status_queries = IntCounterVec::new(
            Opts::new(
                "status_queries_total",
                "Status queries asked, by provider and outcome",
            ),
            &["provider", "outcome"],
        )
        .expect("valid metric");
        let reconciliation_runs =
            IntCounter::new("reconciliation_runs_total", "Reconciliation runs")
                .expect("valid metric");
        let reconciled = IntCounterVec::new(
            Opts::new(
                "reconciled_disputes_total",
                "Disputes reconciliation asked about, by what came of it",
            ),
            &["result"],
        )
        .expect("valid metric");
        let replays = IntCounterVec::new(
            Opts::new("replays_total", "Stored deliveries replayed, by outcome"),
            &["outcome"],
        )
        .expect("valid metric");
        for collector in [
            Box::new(deliveries.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(intake_seconds.clone()),
            Box::new(pool.clone()),
            Box::new(status_queries.clone()),
            Box::new(reconciliation_runs.clone()),
            Box::new(reconciled.clone()),
            Box::new(replays.clone()),
        ] {
            registry.register(collector).expect("each metric once");
        }
        Self(Arc::new(Inner {
            registry,
            deliveries,
            intake_seconds,
            pool,
            status_queries,
            reconciliation_runs,
            reconciled,
            replays,
        }))
    }

    /// A request to a webhook URL and how long its answer took.
    pub fn delivery(&self, provider: Option<ProviderKind>, verdict: &str, seconds: f64) {
        let provider = provider.map_or("unknown", |p| p.as_str());
        self.0
            .deliveries
            .with_label_values(&[provider, verdict])
            .inc();
        self.0.intake_seconds.observe(seconds);
    }

    pub fn status_query(&self, provider: ProviderKind, outcome: QueryOutcome) {
        self.0
            .status_queries
            .with_label_values(&[provider.as_str(), outcome.as_str()])
            .inc();
    }

    pub fn reconciliation_run(&self, changed: usize, unchanged: usize, unanswered: usize) {
        self.0.reconciliation_runs.inc();
        for (result, n) in [
            ("changed", changed),
            ("unchanged", unchanged),
            ("unanswered", unanswered),
        ] {
            self.0
                .reconciled
                .with_label_values(&[result])
                .inc_by(n as u64);
        }
    }

    pub fn replay(&self, outcome: ReplayOutcome) {
        self.0.replays.with_label_values(&[outcome.as_str()]).inc();
    }

    /// Everything in Prometheus' text format, the database pool read now.
    pub fn render(&self, store: &dispute_store::Store) -> String {
        let (open, idle) = store.pool_usage();
        self.0.pool.with_label_values(&["idle"]).set(idle as i64);
        self.0
            .pool
            .with_label_values(&["in_use"])
            .set(open as i64 - idle as i64);
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&self.0.registry.gather(), &mut text)
            .expect("text encoding does not fail");
        String::from_utf8(text).expect("the text format is UTF-8")
    }
}
