//! The Jaeger agent sink: `emitBatch` over UDP, thrift compact (port 6831) or binary (6832),
//! every datagram within the agent's size limit.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};

use rustracing_jaeger::thrift::{agent, jaeger};
use thrift_codec::data::Struct;
use thrift_codec::message::Message;
use thrift_codec::{BinaryEncode, CompactEncode};

use super::sink::{Batch, Sent, Sink, SinkError};
use super::thrift::{self, Limits};

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
    limits: Limits,
}

/// The agent's default datagram limit (`--processor.jaeger-compact.server-max-packet-size`).
pub const DEFAULT_MAX_PACKET_SIZE: usize = 65_000;


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
            limits: Limits::default(),
        })
    }

    /// Keeps every datagram within `bytes` (default 65,000).
    #[must_use]
    pub fn max_packet_size(mut self, bytes: usize) -> Self {
        self.max_packet_size = bytes;
        self
    }

    /// Cuts string tag values longer than `bytes` (default 256), as Jaeger's Go client does.
    #[must_use]
    pub fn max_tag_value_length(mut self, bytes: usize) -> Self {
        self.limits.max_tag_value_length = bytes;
        self
    }

}

impl AgentSink {
    /// Cuts a span too large for one datagram until it fits: logs first (last first), then
    /// tags, then the operation name; a `traced.truncated` tag says what was cut. Returns its
    /// encoded length. A span is never split over datagrams (the agent could not join them) and
    /// never silently lost.
    fn shorten(&self, span: &mut jaeger::Span, budget: usize) -> usize {
        let (logs, tags) = (span.logs.len(), span.tags.len());
        let marker = |span: &jaeger::Span| jaeger::Tag::String {
            key: "traced.truncated".into(),
            value: format!(
                "span larger than a {}-byte datagram: {} of {logs} logs and {} of {tags} tags cut",
                self.max_packet_size,
                logs - span.logs.len(),
                tags - span.tags.len()
            ),
        };
        // Each item is measured once; what a list header grows by with the count (a few bytes)
        // is covered by the slack, and the result is measured whole at the end.
        const SLACK: usize = 32;
        let encoded = |value: Struct| self.protocol.encoded_len(value);
        let log_sizes: Vec<usize> = span
            .logs
            .iter()
            .map(|l| encoded(l.clone().into()))
            .collect();
        let tag_sizes: Vec<usize> = span
            .tags
            .iter()
            .map(|t| encoded(t.clone().into()))
            .collect();
        let mut bare = span.clone();
        bare.logs.clear();
        bare.tags.clear();
        bare.tags.push(marker(&bare));
        let mut size = encoded(bare.into()) + SLACK;
        let fits = |sizes: &[usize], size: &mut usize| {
            sizes
                .iter()
                .take_while(|&&n| {
                    let fits = *size + n <= budget;
                    if fits {
                        *size += n;
                    }
                    fits
                })
                .count()
        };
        let keep_tags = fits(&tag_sizes, &mut size);
        let keep_logs = fits(&log_sizes, &mut size);
        span.tags.truncate(keep_tags);
        span.logs.truncate(keep_logs);
        loop {
            let mut marked = span.clone();
            marked.tags.push(marker(span));
            let len = encoded(marked.clone().into());
            if len <= budget {
                *span = marked;
                return len;
            }
            if span.logs.pop().is_none() && span.tags.pop().is_none() {
                // Only the name is left to cut.
                let keep = span.operation_name.len() / 2;
                span.operation_name = thrift::truncate(&span.operation_name, keep).to_owned();
            }
        }
    }
}

/// An `emitBatch` datagram split around its list of spans: every span is encoded once, into
/// its own bytes, and a datagram is `head`, the list header, the spans' bytes, `tail`. (Thrift
/// encodes a nested struct without reference to what surrounds it, in both protocols, so the
/// bytes of a span are the same wherever it goes.)
struct Envelope {
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl Envelope {
    /// Encodes the message with an empty span list, and cuts it at that list.
    fn new(protocol: Protocol, process: jaeger::Process) -> Result<Envelope, SinkError> {
        let batch = jaeger::Batch {
            process,
            spans: Vec::new(),
        };
        let mut bytes = Vec::new();
        protocol.encode(&Message::from(agent::EmitBatchNotification { batch }), &mut bytes)?;
        // The empty list of structs, then the stops of the batch and of the call's arguments.
        let empty_list: &[u8] = match protocol {
            Protocol::Compact => &[0x0C],
            Protocol::Binary => &[0x0C, 0, 0, 0, 0],
        };
        let tail = [0, 0];
        let cut = bytes.len() - empty_list.len() - tail.len();
        if bytes[cut..cut + empty_list.len()] != *empty_list || bytes[cut + empty_list.len()..] != tail {
            return Err(SinkError::new("unexpected emitBatch encoding (a thrift_codec change?)"));
        }
        bytes.truncate(cut);
        Ok(Envelope {
            head: bytes,
            tail: tail.to_vec(),
        })
    }

    /// The list header for `count` structs, written into `out`.
    fn list_header(protocol: Protocol, count: usize, out: &mut Vec<u8>) {
        match protocol {
            Protocol::Compact if count < 15 => {
                // Compact: the count in the high nibble when it fits. `count < 15` fits a u8.
                out.push(u8::try_from(count << 4).unwrap_or(0xF0) | 0x0C);
            }
            Protocol::Compact => {
                out.push(0xFC);
                let mut n = count;
                while n >= 0x80 {
                    out.push(u8::try_from(n & 0x7F).unwrap_or(0) | 0x80);
                    n >>= 7;
                }
                out.push(u8::try_from(n).unwrap_or(0));
            }
            Protocol::Binary => {
                out.push(0x0C);
                out.extend_from_slice(&i32::try_from(count).unwrap_or(i32::MAX).to_be_bytes());
            }
        }
    }

    /// Bytes around `count` spans at most: head, the longest list header, tail.
    fn overhead(&self) -> usize {
        self.head.len() + 5 + self.tail.len()
    }
}

impl AgentSink {
    fn encode_span(&self, span: jaeger::Span, out: &mut Vec<u8>) -> Result<(), SinkError> {
        let span = Struct::from(span);
        match self.protocol {
            Protocol::Compact => span.compact_encode(out),
            Protocol::Binary => span.binary_encode(out),
        }
        .map_err(|e| SinkError::new(format_args!("thrift encoding failed: {e}")))
    }

    fn send_datagram(
        &self,
        envelope: &Envelope,
        spans: &[u8],
        count: usize,
        out: &mut Vec<u8>,
        sent: &mut Sent,
    ) -> Result<(), SinkError> {
        out.clear();
        out.extend_from_slice(&envelope.head);
        Envelope::list_header(self.protocol, count, out);
        out.extend_from_slice(spans);
        out.extend_from_slice(&envelope.tail);
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
        let envelope = Envelope::new(self.protocol, thrift::process(batch.process()))?;
        let budget = self.max_packet_size.saturating_sub(envelope.overhead());
        let mut sent = Sent::default();
        let mut out = Vec::with_capacity(self.max_packet_size);
        // The encoded spans of the datagram being filled.
        let mut spans = Vec::with_capacity(self.max_packet_size);
        let mut count = 0;
        let mut one = Vec::new();
        for span in batch.spans() {
            one.clear();
            self.encode_span(thrift::span(span, &self.limits), &mut one)?;
            if one.len() > budget {
                let mut shortened = thrift::span(span, &self.limits);
                self.shorten(&mut shortened, budget);
                one.clear();
                self.encode_span(shortened, &mut one)?;
            }
            if count > 0 && spans.len() + one.len() > budget {
                self.send_datagram(&envelope, &spans, count, &mut out, &mut sent)?;
                spans.clear();
                count = 0;
            }
            spans.extend_from_slice(&one);
            count += 1;
        }
        if count > 0 {
            self.send_datagram(&envelope, &spans, count, &mut out, &mut sent)?;
        }
        Ok(sent)
    }
}
