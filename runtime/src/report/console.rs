//! `ConsoleSink`: one human-readable line per finished span, for a terminal or a log file, when
//! there is no Jaeger to look at.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::local::record::SpanRecord;
use crate::report::{Batch, Sent, Sink, SinkError};
use crate::tag::TagValue;

/// Writes each finished span as a line:
/// `trace 1f2e… span 0a1b… parent 99aa… get_all_images 1.234ms db.type=mongo | log: event=error`.
///
/// ```
/// use traced::report::ConsoleSink;
///
/// let _config = traced::Config::new("gallery").sink(ConsoleSink::stdout());
/// ```
pub struct ConsoleSink<W> {
    out: W,
}

impl<W> std::fmt::Debug for ConsoleSink<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleSink").finish_non_exhaustive()
    }
}

impl ConsoleSink<io::Stdout> {
    /// Writes to standard output.
    pub fn stdout() -> Self {
        ConsoleSink { out: io::stdout() }
    }
}

impl<W: Write + Send + 'static> ConsoleSink<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> Self {
        ConsoleSink { out }
    }
}

/// One span as one line, without the trailing newline.
pub(crate) fn line(span: &SpanRecord) -> String {
    let mut line = format!("trace {} span {} ", span.trace_id(), span.span_id());
    match span.parent_id() {
        Some(parent) => {
            let _ = write!(line, "parent {parent} ");
        }
        None => line.push_str("root "),
    }
    let _ = write!(line, "{} {:?}", span.operation_name(), span.duration());
    for (key, value) in span.tags() {
        match value {
            TagValue::String(s) => {
                let _ = write!(line, " {key}={s}");
            }
            TagValue::Boolean(b) => {
                let _ = write!(line, " {key}={b}");
            }
            TagValue::Integer(i) => {
                let _ = write!(line, " {key}={i}");
            }
            TagValue::Float(f) => {
                let _ = write!(line, " {key}={f}");
            }
        }
    }
    for log in span.logs() {
        line.push_str(" | log:");
        for (key, value) in log.fields() {
            let _ = write!(line, " {key}={value}");
        }
    }
    line
}

impl<W: Write + Send + 'static> Sink for ConsoleSink<W> {
    fn send(&mut self, batch: &Batch<'_>) -> Result<Sent, SinkError> {
        let mut text = String::new();
        for span in batch.spans() {
            text.push_str(&format!("[{}] ", batch.process().service_name()));
            text.push_str(&line(span));
            text.push('\n');
        }
        self.out
            .write_all(text.as_bytes())
            .map_err(SinkError::new)?;
        Ok(Sent {
            bytes: text.len() as u64,
            batches: 1,
        })
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(SinkError::new)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::testing::Capture;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[crate::traced(crate = crate, tags(db.type = "mongo", rows = 3))]
    fn get_all_images() -> Result<(), std::fmt::Error> {
        Err(std::fmt::Error)
    }

    #[test]
    fn a_span_is_one_line_with_ids_name_tags_and_logs() {
        let capture = Capture::install();
        let _ = get_all_images();
        let span = capture.span("get_all_images");
        let line = line(&span);
        assert!(
            line.starts_with(&format!(
                "trace {} span {} root get_all_images ",
                span.trace_id(),
                span.span_id()
            )),
            "{line}"
        );
        assert!(line.contains(" db.type=mongo rows=3"), "{line}");
        assert!(line.contains(" error=true"), "{line}");
        assert!(line.ends_with("| log: event=error error.kind=core::fmt::Error message=an error occurred when formatting an argument"), "{line}");

        let out = Shared::default();
        let mut sink = ConsoleSink::new(out.clone());
        let process = crate::report::Process {
            service_name: "gallery".into(),
            tags: Vec::new(),
        };
        let spans = vec![span];
        let sent = sink
            .send(&Batch {
                process: &process,
                spans: &spans,
            })
            .unwrap();
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text, format!("[gallery] {line}\n"));
        assert_eq!(sent.bytes, text.len() as u64);
    }
}
