//! The Jaeger agent sink: `emitBatch` over UDP, thrift compact (port 6831) or binary (6832),
//! every datagram within the agent's size limit.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};

use rustracing_jaeger::thrift::{agent, jaeger};
use thrift_codec::data::Struct;
use thrift_codec::message::Message;
use thrift_codec::{BinaryEncode, CompactEncode};

use super::sink::{Batch, Sent, Sink, SinkError};
use super::thrift;

/// The thrift protocol the agent listens for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    /// Thrift compact, the agent's port 6831.
    #[default]
    Compact,
    /// Thrift binary, the agent's port 6832.
    Binary,
}

impl Protocol {
    /// The agent's default port for this protocol.
    pub fn default_port(self) -> u16 {
        match self {
            Protocol::Compact => 6831,
            Protocol::Binary => 6832,
        }
    }

    fn encode(self, message: &Message, out: &mut Vec<u8>) -> Result<(), SinkError> {
        match self {
            Protocol::Compact => message.compact_encode(out),
            Protocol::Binary => message.binary_encode(out),
        }
        .map_err(|e| SinkError::new(format_args!("thrift encoding failed: {e}")))
    }

    fn encoded_len(self, value: Struct) -> usize {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail.
        let _ = match self {
            Protocol::Compact => value.compact_encode(&mut out),
            Protocol::Binary => value.binary_encode(&mut out),
        };
        out.len()
    }
}

/// Sends spans to a Jaeger agent over UDP.
#[derive(Debug)]
pub struct AgentSink {
    socket: UdpSocket,
    agent: SocketAddr,
    protocol: Protocol,
    max_packet_size: usize,
}

/// The agent's default datagram limit (`--processor.jaeger-compact.server-max-packet-size`).
pub const DEFAULT_MAX_PACKET_SIZE: usize = 65_000;

/// Room for the message envelope around the batch: name, sequence id, struct and list headers.
const ENVELOPE: usize = 64;

impl AgentSink {
    /// A sink sending to `agent` (a `host:port`, resolved now) with `protocol`.
    pub fn new(agent: impl ToSocketAddrs, protocol: Protocol) -> io::Result<Self> {
        let agent = agent.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "the address resolved to nothing")
        })?;
        let local: SocketAddr = if agent.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        Ok(AgentSink {
            socket: UdpSocket::bind(local)?,
            agent,
            protocol,
            max_packet_size: DEFAULT_MAX_PACKET_SIZE,
        })
    }

    /// Keeps every datagram within `bytes` (default 65,000).
    #[must_use]
    pub fn max_packet_size(mut self, bytes: usize) -> Self {
        self.max_packet_size = bytes;
        self
    }

    fn send_packet(
        &self,
        process: &jaeger::Process,
        spans: Vec<jaeger::Span>,
        out: &mut Vec<u8>,
        sent: &mut Sent,
    ) -> Result<(), SinkError> {
        let batch = jaeger::Batch {
            process: process.clone(),
            spans,
        };
        out.clear();
        self.protocol
            .encode(&Message::from(agent::EmitBatchNotification { batch }), out)?;
        self.socket.send_to(out, self.agent).map_err(|e| {
            SinkError::new(format_args!(
                "sending to the Jaeger agent at {} failed: {e}",
                self.agent
            ))
        })?;
        sent.bytes += out.len() as u64;
        sent.batches += 1;
        Ok(())
    }
}

impl Sink for AgentSink {
    fn send(&mut self, batch: &Batch<'_>) -> Result<Sent, SinkError> {
        let process = thrift::process(batch.process());
        let budget = self
            .max_packet_size
            .saturating_sub(ENVELOPE + self.protocol.encoded_len(Struct::from(process.clone())));
        let mut sent = Sent::default();
        let mut out = Vec::with_capacity(self.max_packet_size);
        let mut packet = Vec::new();
        let mut size = 0;
        for span in batch.spans() {
            let span = thrift::span(span);
            let len = self.protocol.encoded_len(Struct::from(span.clone()));
            if !packet.is_empty() && size + len > budget {
                self.send_packet(&process, std::mem::take(&mut packet), &mut out, &mut sent)?;
                size = 0;
            }
            size += len;
            packet.push(span);
        }
        if !packet.is_empty() {
            self.send_packet(&process, packet, &mut out, &mut sent)?;
        }
        Ok(sent)
    }
}
