//! `dispute-desk disputes rebuild [--apply]`: the admin page's check (and
//! apply) run in this process, the disputes that would change printed a
//! line each. The runs are recorded like the page's, so the page shows them.

use std::io::Write;

use app::pages::shown;

use dispute_workflows::rebuild;

use dispute_core::domain::{
    rebuild::{differences, Value},
    JobKind,
};
use dispute_store::{Actor, RebuildChange, RebuildKind, Store};

use crate::jobs;

/// Changes printed per read.
const PAGE: i64 = 500;

pub async fn run(store: &Store, apply: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let by = Actor {
        address: Some("command line".into()),
        ..Actor::default()
    };
    let check = run_one(store, RebuildKind::Check, &by).await?;
    let found = store
        .rebuild(check)
        .await?
        .ok_or_else(|| anyhow::anyhow!("rebuild {check} vanished"))?;
    writeln!(
        out,
        "checked {} disputes: {} would change (rebuild {check})",
        found.checked, found.changed
    )?;
    print_changes(store, check, out).await?;
    if found.changed == 0 {
        return Ok(());
    }
    if !apply {
        writeln!(
            out,
            "nothing was written: run again with --apply, or apply rebuild {check} at /rebuilds/{check}"
        )?;
        return Ok(());
    }
    let applied = run_one(store, RebuildKind::Apply(check), &by).await?;
    let done = store
        .rebuild(applied)
        .await?
        .ok_or_else(|| anyhow::anyhow!("rebuild {applied} vanished"))?;
    let mut unlike = 0;
    let mut after = 0;
    loop {
        let page = store.rebuild_changes(applied, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.dispute_id;
        unlike += page.iter().filter(|c| c.unlike_check == Some(true)).count();
    }
    writeln!(
        out,
        "applied: {} disputes rewritten (rebuild {applied}); {unlike} differ from the check because events arrived in between",
        done.changed
    )?;
    Ok(())
}

/// Requests a rebuild with its job held by this process, and runs it to
/// its end (with the job's heartbeat, so a server takes it over if this
/// process stops).
async fn run_one(store: &Store, kind: RebuildKind, by: &Actor) -> anyhow::Result<i64> {
    let claim = dispute_store::new_claim();
    let id = store.request_rebuild(kind, by, Some(claim)).await?;
    let job = store
        .held_job(JobKind::Rebuild, &id.to_string(), claim)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the job of rebuild {id} was taken over"))?;
    let ran = jobs::beating(store, &job, rebuild::run_job(store, id, claim))
        .await
        .ok_or_else(|| anyhow::anyhow!("the job of rebuild {id} was taken over"))
        .and_then(|ran| ran.map_err(Into::into));
    let failed = ran.as_ref().err().map(ToString::to_string);
    jobs::record(store, &job, ran).await;
    match failed {
        Some(why) => Err(anyhow::anyhow!("rebuild {id} failed: {why}")),
        None => Ok(id),
    }
}

async fn print_changes(store: &Store, id: i64, out: &mut impl Write) -> anyhow::Result<()> {
    let mut after = 0;
    loop {
        let page = store.rebuild_changes(id, after, PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = last.dispute_id;
        for change in &page {
            writeln!(out, "{}", line(change))?;
        }
    }
}

fn value(v: Option<&Value>) -> String {
    match v {
        None => "none".into(),
        Some(Value::Text(text)) => shown(text),
        Some(Value::Time(at)) => at.strftime("%Y-%m-%d %H:%M UTC").to_string(),
    }
}

/// One dispute's change: `slug/ref: status Needs response → Won; …`.
fn line(change: &RebuildChange) -> String {
    let mut parts: Vec<String> = differences(&change.before, &change.after)
        .iter()
        .map(|d| {
            format!(
                "{} {} → {}",
                d.field.label(),
                value(d.before.as_ref()),
                value(d.after.as_ref())
            )
        })
        .collect();
    if !change.events.is_empty() {
        parts.push(format!("{} events read anew", change.events.len()));
    }
    parts.extend(
        change
            .kept
            .iter()
            .map(|(id, why)| format!("event {id} kept as recorded: {}", shown(why))),
    );
    format!(
        "{}/{}: {}",
        shown(&change.slug),
        shown(&change.dispute_ref),
        parts.join("; ")
    )
}
