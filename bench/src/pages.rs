//! The page benchmark: a database filled with a million disputes and their
//! events, and a million deliveries, in realistic proportions (SQL
//! `generate_series`), then the time from request to last byte, on
//! loopback, of the work queue with each main filter and order, a deep
//! keyset page, the search box, the deadlines board, the dashboard, one
//! dispute page, and ops' delivery history with each filter, one delivery,
//! provider health and a bulk replay's preview — p50 and p95 over repeated
//! requests, with `EXPLAIN (ANALYZE, BUFFERS)` of every dispute and
//! delivery query those pages ran, taken by `auto_explain` from the
//! statements the server really sent.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use sqlx::PgPool;

use crate::environment::{Environment, STORM_EMAIL, STORM_PASSWORD};

/// Statuses, stages, currencies and reason codes in the proportions a
/// year of a busy merchant's disputes might have.
const FILL: &str = "
insert into disputes (connection_id, dispute_ref, stage, status, deadline, amount, currency,
                      amount_text, reason, reason_code, payment_reference, merchant_reference,
                      opened_at, last_event_at, event_count)
select ids[1 + n % 3], 'BENCH-' || lpad(n::text, 7, '0'), stage, status,
       case when status = 'needs_response' and r3 > 0.1
            then now() + (r4 * 60 - 30) * interval '1 day' end,
       amount, currency, amount::text, 'Reason ' || code, code,
       'PS' || n, 'ORDER-' || n, opened, opened + r5 * interval '30 days', events
from (
    select n, ids, r3, r4, r5,
           case when r1 < 0.15 then 'needs_response' when r1 < 0.20 then 'under_review'
                when r1 < 0.55 then 'won' when r1 < 0.85 then 'lost'
                when r1 < 0.95 then 'expired' when r1 < 0.98 then 'accepted'
                else 'cancelled' end as status,
           case when r2 < 0.15 then 'inquiry' when r2 < 0.80 then 'chargeback'
                when r2 < 0.95 then 'pre_arbitration' when r2 < 0.98 then 'arbitration'
                else 'fraud_alert' end as stage,
           (array['USD', 'EUR', 'PHP', 'AED'])[1 + floor(r6 * 4)::int] as currency,
           round((1 + r7 * 5000)::numeric, 2) as amount,
           (array['13.1', '13.3', '10.4', '4837', '4853', 'C08', 'F29', '12.6.1'])
               [1 + floor(r8 * 8)::int] as code,
           now() - r9 * interval '365 days' as opened,
           1 + floor(r10 * 4)::int as events
    from generate_series(1, $1) n,
         (select array_agg(id order by id) as ids from connections) c,
         lateral (select random() r1, random() r2, random() r3, random() r4, random() r5,
                         random() r6, random() r7, random() r8, random() r9, random() r10
                  where n > 0) r
) s";

/// One to four events per dispute, the last one carrying its status.
const EVENTS: &str = "
insert into dispute_events (dispute_id, connection_id, event_key, kind, effect, stage, status,
                            occurred_at, currency, amount, amount_text, reason, reason_code,
                            payment_reference, merchant_reference)
select d.id, d.connection_id, d.dispute_ref || ':' || k, 'BENCH_EVENT', 'sets', d.stage,
       case when k = d.event_count then d.status else 'needs_response' end,
       d.opened_at + (k - 1) * (d.last_event_at - d.opened_at) / greatest(d.event_count - 1, 1),
       d.currency, d.amount, d.amount_text, d.reason, d.reason_code,
       d.payment_reference, d.merchant_reference
from disputes d, generate_series(1, d.event_count) k
where d.dispute_ref like 'BENCH-%'";

/// One delivery per event for the first `$1` events, as the providers sent
/// them (accepted), each linked to its event through a header the link
/// step reads.
const DELIVERIES: &str = "
insert into notifications (received_at, connection_id, slug, remote_addr, headers, body,
                           body_length, body_sha256, verdict, key_fingerprint, response_status,
                           response_body, latency_us, judged_at)
select e.occurred_at + interval '2 seconds', e.connection_id, c.slug,
       '203.0.113.' || (e.id % 250),
       jsonb_build_array(jsonb_build_array('content-type', 'application/json'),
                         jsonb_build_array('x-bench-event', e.id::text)),
       b.body, length(b.body), sha256(b.body), 'valid', 'sha256:0123456789abcdef', 200,
       'SUCCESS', 700 + e.id % 900, e.occurred_at + interval '2 seconds'
from dispute_events e
join disputes d on d.id = e.dispute_id
join connections c on c.id = e.connection_id,
lateral (select convert_to(json_build_object(
            'disputePspReference', d.dispute_ref, 'eventCode', e.kind,
            'amount', e.amount_text, 'currency', e.currency,
            'merchantReference', e.merchant_reference, 'reason', e.reason,
            'eventDate', e.occurred_at, 'description', repeat('chargeback notice ', 20))::text,
            'UTF8') as body) b
where e.id <= $1";

/// `$1` refused deliveries over the year: wrong keys, broken bodies,
/// strangers' slugs, oversized bodies and senders outside the allowlist.
const REFUSED: &str = "
insert into notifications (received_at, connection_id, slug, remote_addr, headers, body,
                           body_length, body_sha256, verdict, reason, response_status,
                           response_body, latency_us, judged_at)
select at, case when verdict = 'unknown_connection' then null else ids[1 + n % 3] end,
       case when verdict = 'unknown_connection' then 'no-such-' || (n % 40)
            else slugs[1 + n % 3] end,
       '198.51.100.' || (n % 250), '[[\"content-type\", \"application/json\"]]', body,
       length(body), sha256(body), verdict,
       case verdict when 'bad_signature' then 'the signature does not match key sha256:0123'
                    when 'malformed' then 'the body is not JSON' else null end,
       case verdict when 'bad_signature' then 401 when 'malformed' then 400
                    when 'unknown_connection' then 404 when 'too_large' then 413 else 403 end,
       'refused', 300 + n % 500, at
from (
    select n, now() - random() * interval '365 days' as at,
           case when r < 0.4 then 'bad_signature' when r < 0.6 then 'malformed'
                when r < 0.85 then 'unknown_connection' when r < 0.95 then 'too_large'
                else 'forbidden_source' end as verdict,
           convert_to('{\"disputePspReference\": \"REFUSED-' || n || '\", \"eventCode\": \"NOTIFICATION_OF_CHARGEBACK\"}', 'UTF8') as body
    from generate_series(1, $1) n, lateral (select random() as r where n > 0) r
) s,
(select array_agg(id order by id) as ids, array_agg(slug order by id) as slugs
 from connections) c";

/// Accepted deliveries per million deliveries: the rest are refused.
const ACCEPTED_SHARE: f64 = 0.9;

pub async fn pages(disputes: i64, repeats: usize) -> anyhow::Result<()> {
    let mut env = Environment::prepare().await?;
    let pool = env.pool(2).await?;
    let started = Instant::now();
    fill(&pool, disputes).await?;
    println!(
        "filled {disputes} disputes, their events and {disputes} deliveries in {:.0} s\n",
        started.elapsed().as_secs_f64()
    );
    env.start_server().await?;
    let base = env.server().base.clone();
    let client = signed_in(&base).await?;

    let deep = deep_page(
        &client,
        &base,
        "/disputes?status=any&sort=opened",
        20,
        "after=",
    )
    .await?;
    let deep_deliveries = deep_page(&client, &base, "/deliveries", 20, "before=").await?;
    let one_delivery = sqlx::query_scalar::<_, i64>(
        "select notification_id from dispute_events where notification_id is not null
         order by id desc limit 1",
    )
    .fetch_one(&pool)
    .await?;
    let one = sqlx::query_scalar::<_, String>(
        "select '/disputes/' || d.id from disputes d where d.event_count = 4 order by d.id limit 1",
    )
    .fetch_one(&pool)
    .await?;
    let pages: Vec<(&str, String)> = vec![
        (
            "queue: needs a response, soonest deadline (the default)",
            "/disputes".into(),
        ),
        (
            "queue: any status, by deadline (what needs a response first)",
            "/disputes?status=any".into(),
        ),
        (
            "queue: any status, newest opened",
            "/disputes?status=any&sort=opened".into(),
        ),
        (
            "queue: any status, oldest opened",
            "/disputes?status=any&sort=opened_oldest".into(),
        ),
        (
            "queue: any status, last event",
            "/disputes?status=any&sort=last_event".into(),
        ),
        (
            "queue: any status, largest amount",
            "/disputes?status=any&sort=amount".into(),
        ),
        (
            "queue: won at one provider",
            "/disputes?status=won&provider=payermax".into(),
        ),
        (
            "queue: one connection, pre-arbitration",
            "/disputes?connection=botim-main&stage=pre_arbitration&status=any".into(),
        ),
        ("queue: due within 7 days", "/disputes?deadline=7d".into()),
        ("queue: overdue", "/disputes?deadline=overdue".into()),
        (
            "queue: PHP from 1,000",
            "/disputes?status=any&currency=PHP&amount_min=1000".into(),
        ),
        (
            "queue: one reason code",
            "/disputes?status=any&reason_code=4837".into(),
        ),
        ("queue: unassigned", "/disputes?assignee=unassigned".into()),
        (
            "queue: mine, any status",
            "/disputes?assignee=me&status=any".into(),
        ),
        (
            "queue: opened in one month",
            "/disputes?status=any&opened_from=2026-06-01&opened_to=2026-06-30".into(),
        ),
        ("queue: a deep keyset page (the 21st)", deep),
        (
            "search: a dispute reference",
            "/disputes?status=any&q=BENCH-0424242".into(),
        ),
        (
            "search: a merchant order prefix",
            "/disputes?status=any&q=ORDER-42424".into(),
        ),
        (
            "search: nothing matches",
            "/disputes?status=any&q=NO-SUCH-REF".into(),
        ),
        ("deadlines board", "/deadlines".into()),
        (
            "dashboard (cached while no event arrives)",
            "/dashboard".into(),
        ),
        ("one dispute page", one),
        (
            "deliveries: newest first (the default)",
            "/deliveries".into(),
        ),
        ("deliveries: refused only", "/deliveries?refused=yes".into()),
        (
            "deliveries: one verdict (bad signature)",
            "/deliveries?verdict=bad_signature".into(),
        ),
        (
            "deliveries: one connection",
            "/deliveries?connection=botim-main".into(),
        ),
        (
            "deliveries: one provider, status 200",
            "/deliveries?provider=payermax&status=200".into(),
        ),
        (
            "deliveries: one day",
            "/deliveries?from=2026-06-01&to=2026-06-01".into(),
        ),
        (
            "deliveries: text in the body (the last 7 days, the default)",
            "/deliveries?q=BENCH-0424242".into(),
        ),
        (
            "deliveries: text in the body over the whole year",
            "/deliveries?q=BENCH-0424242&from=2025-01-01".into(),
        ),
        ("deliveries: the 21st keyset page", deep_deliveries),
        ("one delivery", format!("/deliveries/{one_delivery}")),
        ("provider health", "/providers".into()),
        (
            "bulk replay preview (200 refused deliveries judged again)",
            "/replays?verdict=bad_signature".into(),
        ),
    ];

    // The dashboard's first request computes its figures: measured apart.
    let first_dashboard = time(&client, &base, "/dashboard").await?;
    println!("| page | p50 | p95 | max |\n|---|---|---|---|");
    for (name, path) in &pages {
        for _ in 0..3 {
            time(&client, &base, path).await?;
        }
        let mut times = Vec::with_capacity(repeats);
        for _ in 0..repeats {
            times.push(time(&client, &base, path).await?);
        }
        times.sort();
        let at = |q: f64| ms(times[((times.len() as f64 * q) as usize).min(times.len() - 1)]);
        println!("| {name} | {} | {} | {} |", at(0.5), at(0.95), at(1.0));
    }
    println!(
        "\nThe dashboard computed afresh (its first request, or after a new event): {}\n",
        ms(first_dashboard)
    );

    explain(&mut env, &pool, &client, &pages).await
}

/// Fills the database, then vacuums and analyses it as autovacuum would
/// have by the time a database holds a year of disputes.
async fn fill(pool: &PgPool, disputes: i64) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    sqlx::query("select setseed(0.42)")
        .execute(&mut *conn)
        .await?;
    sqlx::query(FILL).bind(disputes).execute(&mut *conn).await?;
    sqlx::query(EVENTS).execute(&mut *conn).await?;
    let accepted = (disputes as f64 * ACCEPTED_SHARE) as i64;
    sqlx::query(DELIVERIES)
        .bind(accepted)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "update dispute_events e set notification_id = n.id from notifications n
         where n.headers -> 1 ->> 0 = 'x-bench-event' and (n.headers -> 1 ->> 1)::bigint = e.id",
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query(REFUSED)
        .bind(disputes - accepted)
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "update disputes set assignee_id = (select id from users where email = $1)
         where id % 10 = 0",
    )
    .bind(STORM_EMAIL)
    .execute(&mut *conn)
    .await?;
    sqlx::query("vacuum analyze").execute(&mut *conn).await?;
    Ok(())
}

pub(crate) async fn signed_in(base: &str) -> anyhow::Result<reqwest::Client> {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let answer = client
        .post(format!("{base}/api/login"))
        .header("origin", base)
        .header("accept", "text/html")
        .form(&[("email", STORM_EMAIL), ("password", STORM_PASSWORD)])
        .send()
        .await?;
    if !answer.status().is_redirection() {
        bail!("sign-in answered {}", answer.status());
    }
    Ok(client)
}

/// Time to the last byte of a page, which must answer 200.
async fn time(client: &reqwest::Client, base: &str, path: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let answer = client.get(format!("{base}{path}")).send().await?;
    let status = answer.status();
    answer.bytes().await?;
    let took = started.elapsed();
    if status != 200 {
        bail!("{path} answered {status}");
    }
    Ok(took)
}

/// The address of page `n + 1` of `first`, following its "next" links
/// (those whose address holds `cursor`).
async fn deep_page(
    client: &reqwest::Client,
    base: &str,
    first: &str,
    n: usize,
    cursor: &str,
) -> anyhow::Result<String> {
    let mut path = first.to_owned();
    for _ in 0..n {
        let html = client
            .get(format!("{base}{path}"))
            .send()
            .await?
            .text()
            .await?;
        let next = html
            .split("href=\"")
            .filter_map(|rest| rest.split('"').next())
            .find(|href| href.contains(cursor))
            .context("a next page")?;
        path = next.replace("&amp;", "&");
    }
    Ok(path)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Loads `auto_explain` for the server's new connections, fetches each
/// page once and prints the plans of the dispute queries it ran.
async fn explain(
    env: &mut Environment,
    pool: &PgPool,
    client: &reqwest::Client,
    pages: &[(&str, String)],
) -> anyhow::Result<()> {
    for setting in [
        "alter database dispute_desk set session_preload_libraries = 'auto_explain'",
        "alter database dispute_desk set auto_explain.log_min_duration = 0",
        "alter database dispute_desk set auto_explain.log_analyze = on",
        "alter database dispute_desk set auto_explain.log_buffers = on",
    ] {
        sqlx::query(setting).execute(pool).await?;
    }
    env.stop_server().await?;
    env.start_server().await?;
    let base = env.server().base.clone();
    let client = match signed_in(&base).await {
        Ok(fresh) => fresh,
        Err(_) => client.clone(),
    };
    println!(
        "## Plans (EXPLAIN ANALYZE, BUFFERS) of the dispute and delivery queries each page ran\n"
    );
    for (name, path) in pages {
        let log = env.database_log();
        let before = std::fs::metadata(&log)?.len() as usize;
        time(&client, &base, path).await?;
        // The log is written as the statements finish.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let text = std::fs::read_to_string(&log)?;
        let new = text.get(before..).unwrap_or_default();
        println!("### {name}\n\n`{path}`\n\n```");
        for plan in new.split("LOG:  duration: ").skip(1) {
            if plan.contains("disputes d") || plan.contains("notifications n") {
                println!("duration: {}", plan.trim_end());
            }
        }
        println!("```\n");
    }
    Ok(())
}
