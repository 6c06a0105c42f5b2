//! The Jaeger agent sink: `emitBatch` over UDP, thrift compact (port 6831) or binary (6832),
//! every datagram within the agent's size limit.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};

use super::encode::{self, Envelope};
use super::sink::{Batch, Sent, Sink, SinkError};
use super::thrift::{self, Limits};
use crate::tag::Tag;

/// A thrift protocol of the Jaeger wire: compact (the agent's port 6831) or binary (its port
/// 6832, and the collector's HTTP endpoint). traced-collector decodes with the same type.
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

impl AgentSink {
    /// The agent's default datagram limit (`--processor.jaeger-compact.server-max-packet-size`).
    pub const DEFAULT_MAX_PACKET_SIZE: usize = 65_000;

    /// The default cut of string tag values, in bytes, for every Jaeger sink ([`AgentSink`],
    /// [`CollectorSink`](super::CollectorSink)) and [`Config`](crate::Config): Jaeger's Go
    /// client's.
    pub const DEFAULT_MAX_TAG_VALUE_LENGTH: usize = 256;

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
            max_packet_size: Self::DEFAULT_MAX_PACKET_SIZE,
            limits: Limits::default(),
        })
    }

    /// Keeps every datagram within `bytes` (default 65,000).
    #[must_use]
    pub fn max_packet_size(mut self, bytes: usize) -> Self {
        self.max_packet_size = bytes;
        self
    }

    /// Cuts string tag values longer than `bytes` (default
    /// [`AgentSink::DEFAULT_MAX_TAG_VALUE_LENGTH`], 256), as Jaeger's Go client does.
    #[must_use]
    pub fn max_tag_value_length(mut self, bytes: usize) -> Self {
        self.limits.max_tag_value_length = bytes;
        self
    }

    /// The agent's address, as resolved when the sink was made.
    pub(crate) fn agent(&self) -> SocketAddr {
        self.agent
    }
}

impl AgentSink {
    /// Cuts a span too large for one datagram until it fits: logs first (last first), then
    /// tags, then the operation name; a `traced.truncated` tag says what was cut. Returns its
    /// encoded length. A span is never split over datagrams (the agent could not join them) and
    /// never silently lost.
    fn shorten(&self, span: &mut thrift::Span, budget: usize) -> usize {
        let (logs, tags) = (span.logs.len(), span.tags.len());
        let marker = |span: &thrift::Span| {
            Tag::new(
                "traced.truncated",
                format!(
                    "span larger than a {}-byte datagram: {} of {logs} logs and {} of {tags} tags cut",
                    self.max_packet_size,
                    logs - span.logs.len(),
                    tags - span.tags.len()
                ),
            )
        };
        // Each item is measured once; what a list header grows by with the count (a few bytes)
        // is covered by the slack, and the result is measured whole at the end.
        const SLACK: usize = 32;
        let protocol = self.protocol;
        let mut scratch = Vec::new();
        let mut measure = |write: &dyn Fn(&mut Vec<u8>)| {
            scratch.clear();
            write(&mut scratch);
            scratch.len()
        };
        let log_sizes: Vec<usize> = span
            .logs
            .iter()
            .map(|l| measure(&|out| encode::log_struct(out, protocol, l)))
            .collect();
        let tag_sizes: Vec<usize> = span
            .tags
            .iter()
            .map(|t| measure(&|out| encode::tag_struct(out, protocol, t)))
            .collect();
        let mut bare = span.clone();
        bare.logs.clear();
        bare.tags.clear();
        bare.tags.push(marker(&bare));
        let mut size = measure(&|out| encode::owned_span(out, protocol, &bare)) + SLACK;
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
            let len = measure(&|out| encode::owned_span(out, protocol, &marked));
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

impl AgentSink {
    fn send_datagram(
        &self,
        envelope: &Envelope,
        spans: &[u8],
        count: usize,
        out: &mut Vec<u8>,
        sent: &mut Sent,
    ) -> Result<(), SinkError> {
        envelope.write(spans, count, out);
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
        let envelope = Envelope::emit_batch(batch.process(), self.protocol);
        let budget = self.max_packet_size.saturating_sub(envelope.overhead());
        let mut sent = Sent::default();
        let mut out = Vec::with_capacity(self.max_packet_size);
        // The encoded spans of the datagram being filled.
        let mut spans = Vec::with_capacity(self.max_packet_size);
        let mut count = 0;
        let mut one = Vec::new();
        for span in batch.spans() {
            one.clear();
            encode::span(&mut one, self.protocol, span, &self.limits);
            if one.len() > budget {
                let mut shortened = thrift::span(span, &self.limits);
                self.shorten(&mut shortened, budget);
                one.clear();
                encode::owned_span(&mut one, self.protocol, &shortened);
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
