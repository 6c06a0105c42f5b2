//! The application never waits for tracing: when the reporter falls behind and the bounded
//! queue is full, spans are dropped and counted, and the count is readable.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use traced::report::{Batch, Sent, Sink, SinkError};
use traced::{Config, Sampler, traced};

/// A sink stuck in `send` until the test lets it go: a reporter that cannot keep up.
struct StuckSink {
    release: Arc<Mutex<mpsc::Receiver<()>>>,
    entered: mpsc::SyncSender<()>,
}

impl Sink for StuckSink {
    fn send(&mut self, batch: &Batch<'_>) -> Result<Sent, SinkError> {
        let _ = self.entered.try_send(());
        let _ = self
            .release
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(20));
        Ok(Sent {
            bytes: 0,
            batches: batch.len() as u64,
        })
    }
}

#[traced]
fn work(i: u32) -> u32 {
    i
}

#[test]
fn a_full_queue_drops_and_counts_instead_of_blocking() {
    let _exclusive = traced::testing::exclusive();
    let (release_tx, release_rx) = mpsc::channel();
    let (entered_tx, entered_rx) = mpsc::sync_channel(1);
    let sink = StuckSink {
        release: Arc::new(Mutex::new(release_rx)),
        entered: entered_tx,
    };
    let guard = traced::init(
        Config::new("queue-test")
            .sampler(Sampler::always())
            .queue_size(8)
            .flush_interval(Duration::from_millis(5))
            .sink(sink),
    )
    .unwrap();

    // One span reaches the sink, which then stays stuck.
    work(0);
    entered_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the reporter sends the first span");
    for i in 1..=100 {
        work(i);
    }
    let stuck = traced::metrics();
    assert_eq!(stuck.spans_started, 101);
    assert_eq!(stuck.spans_finished, 101);
    assert_eq!(
        stuck.spans_dropped,
        100 - 8,
        "the queue holds 8; the rest are dropped: {stuck:?}"
    );

    for _ in 0..4 {
        let _ = release_tx.send(());
    }
    assert!(guard.flush(), "flushes once the sink moves again");
    let settled = guard.metrics();
    assert_eq!(settled.spans_reported, 9);
    assert_eq!(
        settled.spans_finished,
        settled.spans_reported + settled.spans_dropped + settled.spans_failed
    );
    drop(guard);
}
