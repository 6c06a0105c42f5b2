//! Sustained load into a live agent: 100,000 spans a second for 10 seconds over UDP on
//! loopback, every span received (counted by decoding each datagram with thrift_codec), none
//! dropped or failed, and the reporter thread's CPU time reported (on stderr, for the README).

mod support;

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use traced::{Config, Sampler, traced};

#[traced(tags(db.type = "mongo", rows = 3))]
fn get_all_images(i: u64) -> u64 {
    i
}

#[test]
fn a_hundred_thousand_spans_a_second_for_ten_seconds_all_arrive() {
    let _exclusive = traced::testing::exclusive();
    const PER_SECOND: u64 = 100_000;
    const SECONDS: u64 = 10;
    const TICK: Duration = Duration::from_millis(10);
    let per_tick = PER_SECOND / 100;

    // A receive buffer as large as the system allows (4 MiB here), as an agent under load is
    // given: the default holds three 65,000-byte datagrams.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    socket.set_recv_buffer_size(4 << 20).unwrap();
    socket
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    let agent: UdpSocket = socket.into();
    agent
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let address = agent.local_addr().unwrap();
    // The receiving thread only takes datagrams off the socket (so the kernel never drops one
    // for a slow reader); they are decoded at the end.
    let datagrams = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let receiver = {
        let (datagrams, stop) = (datagrams.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buffer = vec![0; 1 << 17];
            while !stop.load(Ordering::Relaxed) {
                if let Ok(len) = agent.recv(&mut buffer) {
                    datagrams.lock().unwrap().push(buffer[..len].to_vec());
                }
            }
        })
    };

    // The default queue: its thread's queue grows to 16,384 spans, 160 ms at this rate, which
    // rides out the reporter being kept off a core by whatever else the machine runs.
    let guard = traced::init(
        Config::new("load")
            .sampler(Sampler::always())
            .agent(address.to_string()),
    )
    .unwrap();
    let start = Instant::now();
    let mut made = 0;
    for tick in 1..=(SECONDS * 100) {
        for i in 0..per_tick {
            get_all_images(i);
        }
        made += per_tick;
        let next = start + TICK * u32::try_from(tick).unwrap();
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let elapsed = start.elapsed();
    assert!(guard.flush());
    let cpu = support::thread_cpu("traced-reporter");
    let metrics = guard.metrics();
    drop(guard);
    let count = || -> usize {
        let datagrams = datagrams.lock().unwrap();
        datagrams
            .iter()
            .map(|d| support::spans_in_datagram(d))
            .sum()
    };
    // The last datagrams may still be in flight: wait for the count (bounded), decoding what
    // came so far each time.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut received = count();
    while received < made as usize && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        received = count();
    }
    stop.store(true, Ordering::Relaxed);
    receiver.join().unwrap();
    let largest = datagrams
        .lock()
        .unwrap()
        .iter()
        .map(Vec::len)
        .max()
        .unwrap_or(0);

    assert_eq!(made, PER_SECOND * SECONDS);
    assert_eq!(metrics.spans_dropped, 0, "{metrics:?}");
    assert_eq!(metrics.spans_failed, 0, "{metrics:?}");
    assert_eq!(metrics.spans_reported, made, "{metrics:?}");
    assert_eq!(received, made as usize, "zero loss");
    assert!(largest <= 65_000, "{largest}");
    eprintln!(
        "load: {made} spans in {elapsed:.1?}, {} datagrams, {} bytes; reporter thread CPU {}",
        metrics.batches_sent,
        metrics.bytes_sent,
        cpu.map_or("unknown".to_owned(), |cpu| format!(
            "{cpu:?} ({:.1}% of one core)",
            cpu.as_secs_f64() * 100.0 / elapsed.as_secs_f64()
        )),
    );
}
