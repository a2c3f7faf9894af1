//! Downloads: the work queue as CSV — exactly the disputes the page lists
//! for the same parameters, in the same order, streamed a keyset page at a
//! time so a large export never sits whole in memory.

use dispute_core::domain::{QueueCursor, QueueFilter};
use futures::Stream;

use dispute_store::{DisputeRecord, Store, StoreError};

/// Rows read per round trip.
const BATCH: i64 = 500;

const HEADER: [&str; 16] = [
    "dispute_ref",
    "connection",
    "provider",
    "stage",
    "status",
    "deadline_utc",
    "amount",
    "currency",
    "reason_code",
    "reason",
    "merchant_order",
    "original_transaction",
    "assignee",
    "opened_utc",
    "last_event_utc",
    "link",
];

/// A spreadsheet reads a cell that starts with one of these as a formula;
/// a leading apostrophe keeps a provider's text as text.
fn cell(text: &str) -> String {
    match text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        true => format!("'{text}"),
        false => text.to_owned(),
    }
}

fn record(d: &DisputeRecord) -> [String; 16] {
    let time = |t: jiff::Timestamp| t.to_string();
    let text = |t: &Option<String>| t.as_deref().map(cell).unwrap_or_default();
    [
        cell(&d.dispute_ref),
        d.connection_slug.clone(),
        d.provider.as_str().to_owned(),
        d.stage.map(|s| s.as_str()).unwrap_or_default().to_owned(),
        d.status.map(|s| s.as_str()).unwrap_or_default().to_owned(),
        d.deadline.map(time).unwrap_or_default(),
        d.amount
            .as_ref()
            .map(|m| m.amount().to_string())
            .unwrap_or_default(),
        d.amount
            .as_ref()
            .map(|m| m.currency().to_owned())
            .unwrap_or_default(),
        text(&d.reason_code),
        text(&d.reason),
        text(&d.merchant_reference),
        text(&d.payment_reference),
        d.assignee
            .as_ref()
            .map(|p| cell(&p.display_name))
            .unwrap_or_default(),
        time(d.opened_at),
        time(d.last_event_at),
        crate::links::dispute(d.id),
    ]
}

/// Writes rows (the header first when `header`) as CSV bytes.
fn csv_bytes(header: bool, rows: &[DisputeRecord]) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    if header {
        out.write_record(HEADER)?;
    }
    for d in rows {
        out.write_record(record(d))?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// Why an export stopped part-way.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write CSV: {0}")]
    Csv(#[from] csv::Error),
}

enum Progress {
    Next(Option<QueueCursor>),
    Done,
}

/// The queue for `filter` as CSV chunks: the header with the first batch,
/// then one chunk per batch.
pub fn queue_csv(
    store: Store,
    filter: QueueFilter,
    viewer: i64,
    now: jiff::Timestamp,
) -> impl Stream<Item = Result<Vec<u8>, ExportError>> {
    futures::stream::try_unfold(Progress::Next(None), move |progress| {
        let (store, filter) = (store.clone(), filter.clone());
        async move {
            let Progress::Next(after) = progress else {
                return Ok(None);
            };
            let first = after.is_none();
            // The cursor was made for this filter's order, so it always fits.
            let rows = store
                .work_queue(&filter, viewer, now, after.as_ref(), BATCH)
                .await?
                .unwrap_or_default();
            let next = match rows.last() {
                Some(last) if rows.len() as i64 == BATCH => {
                    Progress::Next(Some(last.cursor(&filter)))
                }
                _ => Progress::Done,
            };
            Ok(Some((csv_bytes(first, &rows)?, next)))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_a_spreadsheet_would_run_as_a_formula_is_kept_as_text() {
        assert_eq!(cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(cell("+1"), "'+1");
        assert_eq!(cell("-1"), "'-1");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell("ORDER-1"), "ORDER-1");
    }

    #[test]
    fn the_header_comes_once_and_quotes_are_doubled() {
        let only_header = csv_bytes(true, &[]).unwrap();
        assert_eq!(
            String::from_utf8(only_header).unwrap(),
            format!("{}\n", HEADER.join(","))
        );
        assert!(csv_bytes(false, &[]).unwrap().is_empty());
    }
}
