//! Structured logs through `tracing`: human-readable by default, one JSON
//! object per line when `LOG_FORMAT=json`. `RUST_LOG` filters. Values from
//! requests are recorded with `?` (Debug) wherever they are logged, so a
//! line break in one is written as `\n` and cannot start a forged line.

use std::io::IsTerminal;

use tracing::Subscriber;
use tracing_subscriber::{
    fmt::{self, MakeWriter},
    prelude::*,
    registry::LookupSpan,
    EnvFilter, Layer,
};

use crate::config::LogFormat;

/// Installs the global subscriber; call once, before anything logs.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    tracing_subscriber::registry()
        .with(filter)
        .with(layer(
            format,
            std::io::stdout,
            std::io::stdout().is_terminal(),
        ))
        .init();
}

/// The formatting layer of `format`, writing to `writer`.
fn layer<S, W>(format: LogFormat, writer: W, ansi: bool) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Human => fmt::layer().with_ansi(ansi).with_writer(writer).boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_writer(writer)
            .boxed(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_request_value_cannot_forge_a_line_in_either_format() {
        for format in [LogFormat::Human, LogFormat::Json] {
            let buffer = Buffer::default();
            let writer = buffer.clone();
            let subscriber =
                tracing_subscriber::registry().with(layer(format, move || writer.clone(), false));
            let request = axum::http::Request::builder()
                .uri("/webhooks/x%0AERROR%20forged")
                .body(axum::body::Body::empty())
                .unwrap();
            tracing::subscriber::with_default(subscriber, || {
                let _span = crate::router::request_span(&request).entered();
                let slug = "x\nERROR forged\r\n";
                tracing::info!(?slug, "notification judged");
            });
            let written = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
            assert_eq!(written.lines().count(), 1, "{format:?}: {written}");
            assert!(written.contains("ERROR forged"), "{format:?}: {written}");
            assert!(!written.contains('\r'), "{format:?}: {written}");
        }
    }
}
