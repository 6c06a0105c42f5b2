//! The receive path reuses its buffers: a thousand datagrams through a small queue take no more
//! buffers than the queue holds, plus the reader's and the decoder's. (A test binary of its
//! own: its allocator counts every buffer made in the process.)

mod agent;

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::UdpSocket;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use agent::{count, datagram, settled_stats, start};
use traced_collector::Config;
use traced_collector::thrift::Protocol;

/// Counts allocations of exactly a receive buffer's size (64 KiB): the reader's buffers. Nothing
/// else here allocates that size (datagrams are built and decoded in other sizes).
struct CountingAllocator;

static RECEIVE_BUFFERS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded to the system allocator with the caller's arguments; the
// count is an atomic, which allocates nothing.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() == 65_536 {
            RECEIVE_BUFFERS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() == 65_536 {
            RECEIVE_BUFFERS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

#[test]
fn the_receive_path_reuses_its_buffers_instead_of_allocating_per_datagram() {
    let queue = 4;
    let before = RECEIVE_BUFFERS.load(Ordering::Relaxed);
    let (_runtime, collector) = start(Config {
        udp_queue: queue,
        ..Config::ephemeral()
    });
    let sender = UdpSocket::bind("127.0.0.1:0").expect("binds");
    let one = datagram(9, 1, Protocol::Compact);
    let sent: u64 = 1_000;
    for i in 0..sent {
        sender
            .send_to(&one, collector.udp_compact_addr())
            .expect("sends");
        if i % queue as u64 == queue as u64 - 1 {
            // Paced, so that most go through the queue (and the pool) rather than over it.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let stats = settled_stats(&collector, |s| {
        count(s, "datagrams") + count(s, "udp_kernel_drops") == sent
            && count(s, "datagrams_decoded") + count(s, "udp_queue_drops") == count(s, "datagrams")
    });
    // Each decoded datagram took a buffer from the pool: far more than there are buffers.
    assert!(count(&stats, "datagrams_decoded") >= 100, "{stats:#}");
    // Two ports, each with at most its queue's buffers plus the reader's and the decoder's.
    let made = RECEIVE_BUFFERS.load(Ordering::Relaxed) - before;
    assert!(
        made <= 2 * (queue as u64 + 2),
        "{made} receive buffers for {sent} datagrams"
    );
}
