//! What the interop tests share: the Python venv holding the peers no one here wrote (Uber's
//! `jaeger-client`, Apache `thrift`), installed by the tests themselves
//! through traced-test-support, and the peer processes.

// Each test crate that includes this module uses part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The venv's python, with the pinned `tests/interop/requirements.txt` installed
/// (traced-test-support's venv: made on first use and whenever the requirements change).
pub(crate) fn python() -> PathBuf {
    let requirements = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/requirements.txt");
    traced_test_support::venv("interop-venv", &requirements).join("python")
}

/// A script in `tests/interop/`.
pub(crate) fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("interop")
        .join(name)
}

/// A Python peer from `tests/interop/` that prints the port it listens on first. Killed when
/// dropped, if still running.
pub(crate) struct Peer {
    peer: traced_test_support::Peer,
    pub port: u16,
}

impl Peer {
    pub(crate) fn start(script_name: &str, args: &[&str]) -> Peer {
        Peer::start_with_env(script_name, args, &[])
    }

    /// [`Peer::start`] with environment variables set for the peer.
    pub(crate) fn start_with_env(script_name: &str, args: &[&str], env: &[(&str, &str)]) -> Peer {
        let mut command = Command::new(python());
        command
            .arg(script(script_name))
            .args(args)
            .envs(env.iter().copied());
        let peer = traced_test_support::Peer::start(command);
        Peer {
            port: peer.port,
            peer,
        }
    }

    /// Closes the peer's stdin and reads the rest of its output until it exits.
    pub(crate) fn finish(self) -> String {
        self.peer.finish()
    }
}

/// The number of spans in an agent `emitBatch` datagram (thrift compact), decoded by
/// thrift_codec.
pub(crate) fn spans_in_datagram(datagram: &[u8]) -> usize {
    use thrift_codec::CompactDecode;
    use thrift_codec::data::{Data, Struct};
    use thrift_codec::message::Message;

    fn field(s: &Struct, id: i16) -> Option<&Data> {
        s.fields().iter().find(|f| f.id() == id).map(|f| f.data())
    }
    let message = Message::compact_decode(&mut &datagram[..]).expect("a thrift compact message");
    assert_eq!(message.method_name(), "emitBatch");
    match field(message.body(), 1) {
        Some(Data::Struct(batch)) => match field(batch, 2) {
            Some(Data::List(spans)) => spans.len(),
            other => panic!("a Batch has a list of spans: {other:?}"),
        },
        other => panic!("emitBatch's argument is a Batch: {other:?}"),
    }
}

/// CPU time (user + system) a thread of this process named `name` has used, if there is one
/// (Linux: `/proc/self/task/*/stat`).
pub(crate) fn thread_cpu(name: &str) -> Option<std::time::Duration> {
    let ticks_per_second =
        String::from_utf8(Command::new("getconf").arg("CLK_TCK").output().ok()?.stdout)
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()?;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path();
        let comm = std::fs::read_to_string(path.join("comm")).ok()?;
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat")).ok()?;
        // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        return Some(std::time::Duration::from_millis(
            (utime + stime) * 1000 / ticks_per_second,
        ));
    }
    None
}
