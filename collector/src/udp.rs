//! The agent's UDP ports, as Jaeger's agent serves them: one thread per port only receives,
//! into buffers taken from a pool, and hands each datagram through a bounded queue to a thread
//! that decodes it and stores its spans. Nothing is allocated per datagram on the receive path,
//! and every loss is counted: by the queue when it is full, by the kernel when the socket's
//! buffer is (its drop counter, read from `/proc/net/udp`).
//!
//! Why: reading, decoding and storing on one task with the system's default buffer (212,992
//! bytes, about three full datagrams) lost 2 to 13% of 200,000 spans/s, and 71% at 1,000,000,
//! silently: the receive loop must only receive, and the buffer must hold a burst.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, SendTimeoutError, Sender, TrySendError, bounded};
use socket2::{Domain, SockRef, Socket, Type};

use crate::ingest::Stats;
use crate::store::Store;
use crate::thrift::{self, Protocol};

/// The largest UDP payload: nothing a client sends is cut.
const MAX_DATAGRAM: usize = 65_536;
/// How often an idle reader looks whether it should stop, where shutting its socket down does
/// not wake it (Linux does).
const IDLE_WAKE: Duration = Duration::from_millis(500);

/// One agent port: its settings, what the kernel granted, and its counters.
#[derive(Debug)]
pub struct Port {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it decodes.
    pub protocol: Protocol,
    /// The receive buffer asked for (bytes).
    pub receive_buffer_requested: usize,
    /// The receive buffer the kernel reports (`SO_RCVBUF`; Linux reports twice what it was asked,
    /// half of it being its own bookkeeping).
    pub receive_buffer: usize,
    /// Whether `SO_RCVBUFFORCE` was permitted (past `net.core.rmem_max`); if not, `SO_RCVBUF`
    /// was used and the kernel capped it at `rmem_max`.
    pub forced: bool,
    /// Datagrams the queue holds at most.
    pub queue_capacity: usize,
    /// How long a datagram waits for room in a full queue before it is dropped.
    pub queue_wait: Duration,
    /// Datagrams received.
    pub datagrams: AtomicU64,
    /// Datagrams dropped because the queue was full.
    pub queue_drops: AtomicU64,
    /// The socket's inode, to find its line in `/proc/net/udp`.
    inode: Option<u64>,
}

impl Port {
    /// Datagrams the kernel dropped on this socket because its buffer was full (or for a bad
    /// checksum), from `/proc/net/udp`'s `drops` column; `None` where there is no such file.
    pub fn kernel_drops(&self) -> Option<u64> {
        let inode = self.inode?;
        ["/proc/net/udp", "/proc/net/udp6"]
            .iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .find_map(|table| drops_of(&table, inode))
    }
}

/// The `drops` column of the line of `inode` in a `/proc/net/udp` table.
fn drops_of(table: &str, inode: u64) -> Option<u64> {
    table.lines().skip(1).find_map(|line| {
        let columns: Vec<&str> = line.split_whitespace().collect();
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
        if columns.len() < 13 || columns[9].parse::<u64>().ok()? != inode {
            return None;
        }
        columns[12].parse().ok()
    })
}

/// A datagram in a pooled buffer.
struct Datagram {
    buffer: Vec<u8>,
    len: usize,
}

/// A running port: its reader, which the owner stops.
pub struct Running {
    socket: Arc<UdpSocket>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl Running {
    /// Stops the reader and waits for it (the decoder finishes the queue, then stops).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes a reader blocked in recv on Linux, even on an unconnected socket (it answers
        // ENOTCONN but marks the socket shut); elsewhere the idle wake does.
        let _ = SockRef::from(&*self.socket).shutdown(std::net::Shutdown::Read);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Binds `addr` with a receive buffer of `receive_buffer` bytes asked for; nothing is read yet.
///
/// # Errors
/// The address cannot be bound.
pub fn bind(
    addr: SocketAddr,
    protocol: Protocol,
    receive_buffer: usize,
    queue: usize,
    queue_wait: Duration,
) -> io::Result<(UdpSocket, Port)> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, None)?;
    let forced = force_receive_buffer(&socket, receive_buffer).is_ok();
    if !forced {
        // Capped by the kernel at net.core.rmem_max; what it granted is read back below.
        socket.set_recv_buffer_size(receive_buffer)?;
    }
    socket.bind(&addr.into())?;
    let socket: UdpSocket = socket.into();
    let port = Port {
        addr: socket.local_addr()?,
        protocol,
        receive_buffer_requested: receive_buffer,
        receive_buffer: SockRef::from(&socket).recv_buffer_size()?,
        forced,
        queue_capacity: queue.max(1),
        queue_wait,
        datagrams: AtomicU64::new(0),
        queue_drops: AtomicU64::new(0),
        inode: inode_of(&socket),
    };
    Ok((socket, port))
}

/// `SO_RCVBUFFORCE`: past `rmem_max`, for a process with `CAP_NET_ADMIN`.
#[cfg(target_os = "linux")]
fn force_receive_buffer(socket: &Socket, bytes: usize) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: the descriptor is open for the call's duration, and the option's value is a
    // c_int that outlives the call, with its size passed alongside.
    let status = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&raw const value).cast(),
            libc::socklen_t::try_from(size_of::<libc::c_int>()).unwrap_or_default(),
        )
    };
    if status == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn force_receive_buffer(_: &Socket, _: usize) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

/// The socket's inode, as `/proc/self/fd` names it (`socket:[12345]`).
fn inode_of(socket: &UdpSocket) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let link = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd())).ok()?;
    link.to_str()?
        .strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Starts the port's reader and decoder threads.
///
/// # Errors
/// A thread cannot be started.
pub fn start(
    socket: UdpSocket,
    port: Arc<Port>,
    store: Arc<Store>,
    stats: Arc<Stats>,
) -> io::Result<Running> {
    socket.set_read_timeout(Some(IDLE_WAKE))?;
    let socket = Arc::new(socket);
    let stop = Arc::new(AtomicBool::new(false));
    let (queue, queued) = bounded::<Datagram>(port.queue_capacity);
    // Every buffer there can be: the queue's, the reader's, the decoder's.
    let buffers = port.queue_capacity + 2;
    let (give_back, pool) = bounded::<Vec<u8>>(buffers);
    let name = format!("udp-{}", port.addr.port());
    std::thread::Builder::new()
        .name(format!("{name}-decode"))
        .spawn({
            let port = port.clone();
            move || decode(&queued, &give_back, &port, &store, &stats)
        })?;
    let reader = std::thread::Builder::new().name(name).spawn({
        let (socket, stop) = (socket.clone(), stop.clone());
        move || receive(&socket, &stop, &port, &queue, &pool, buffers)
    })?;
    Ok(Running {
        socket,
        stop,
        reader: Some(reader),
    })
}

/// The receive path: receive, queue, repeat. Buffers come from the pool (a new one only while
/// fewer than `buffers` exist); a datagram the queue has no room for within `queue_wait` is
/// counted and its buffer reused.
fn receive(
    socket: &UdpSocket,
    stop: &AtomicBool,
    port: &Port,
    queue: &Sender<Datagram>,
    pool: &Receiver<Vec<u8>>,
    buffers: usize,
) {
    let mut made = 1;
    let mut buffer = vec![0; MAX_DATAGRAM];
    while !stop.load(Ordering::Relaxed) {
        let len = match socket.recv(&mut buffer) {
            Ok(len) => len,
            // The idle wake, or an error a datagram socket can report for an earlier send
            // (none is sent here): keep receiving.
            Err(_) => continue,
        };
        if stop.load(Ordering::Relaxed) {
            break;
        }
        port.datagrams.fetch_add(1, Ordering::Relaxed);
        let queued = match queue.try_send(Datagram { buffer, len }) {
            Err(TrySendError::Full(datagram)) if !port.queue_wait.is_zero() => {
                queue.send_timeout(datagram, port.queue_wait)
            }
            Err(TrySendError::Full(datagram)) => Err(SendTimeoutError::Timeout(datagram)),
            Err(TrySendError::Disconnected(datagram)) => {
                Err(SendTimeoutError::Disconnected(datagram))
            }
            Ok(()) => Ok(()),
        };
        match queued {
            Ok(()) => {
                buffer = match pool.try_recv() {
                    Ok(reused) => reused,
                    Err(_) if made < buffers => {
                        made += 1;
                        vec![0; MAX_DATAGRAM]
                    }
                    // Every buffer is queued or decoding: the decoder gives one back at once.
                    Err(_) => match pool.recv() {
                        Ok(reused) => reused,
                        Err(_) => return,
                    },
                };
            }
            Err(SendTimeoutError::Timeout(datagram)) => {
                port.queue_drops.fetch_add(1, Ordering::Relaxed);
                buffer = datagram.buffer;
            }
            Err(SendTimeoutError::Disconnected(_)) => return,
        }
    }
}

/// Off the receive path: decodes and stores each queued datagram, and gives its buffer back.
fn decode(
    queued: &Receiver<Datagram>,
    give_back: &Sender<Vec<u8>>,
    port: &Port,
    store: &Store,
    stats: &Stats,
) {
    while let Ok(Datagram { buffer, len }) = queued.recv() {
        match thrift::decode_emit_batch(&buffer[..len], port.protocol) {
            Ok(spans) => {
                // Counted once stored: a reader of the counter finds the spans.
                let count = spans.len() as u64;
                store.add(spans);
                stats.spans.fetch_add(count, Ordering::Relaxed);
            }
            Err(e) => stats.reject(format!(
                "UDP {:?} datagram of {len} bytes: {e}",
                port.protocol
            )),
        }
        // Counted once stored, so that a reader of the counters sees its spans.
        stats.datagrams.fetch_add(1, Ordering::Relaxed);
        let _ = give_back.try_send(buffer);
    }
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drops_column_is_read_for_the_sockets_inode_only() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
            \x20 12: 0100007F:1AAF 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 17\n\
            \x20 13: 0100007F:1AB0 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4343 2 0000000000000000 3\n";
        assert_eq!(drops_of(table, 4343), Some(3));
        assert_eq!(drops_of(table, 4242), Some(17));
        assert_eq!(drops_of(table, 99), None);
        assert_eq!(drops_of("garbage\n1 2 3\n", 1), None);
    }
}
