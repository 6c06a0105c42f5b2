//! Each thread hands its spans over through a queue of its own: spans of many threads all
//! arrive, once each, including those of threads that exited before the reporter drained them.

use traced::traced;

#[traced]
fn work(i: u32) -> u32 {
    i
}

#[test]
fn spans_of_many_threads_all_arrive_even_from_threads_that_have_exited() {
    let capture = traced::testing::Capture::install();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..500 {
                    work(t * 1000 + i);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    // Every thread has exited: only the reporter can still reach their queues.
    let spans = capture.spans();
    assert_eq!(spans.len(), 8 * 500);
    let ids: std::collections::HashSet<_> = spans.iter().map(|s| s.span_id()).collect();
    assert_eq!(ids.len(), 8 * 500, "each span arrives once");
    let metrics = traced::metrics();
    assert_eq!(metrics.spans_dropped, 0, "{metrics:?}");
}
