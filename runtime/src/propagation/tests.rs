//! Every format read and written, hostile input, and round trips (including a property test).

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;
use crate::ids::{SpanId, TraceId};

fn headers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN: &str = "00f067aa0ba902b7";
const PARENT: &str = "00000000000004d2";

fn only(format: Format) -> Propagator {
    Propagator::new()
        .extract_formats([format])
        .inject_formats([format])
}

fn ids(cx: &Context) -> (String, String, Option<String>, bool, bool) {
    (
        cx.trace_id().to_string(),
        cx.span_id().to_string(),
        cx.parent_id().map(|p| p.to_string()),
        cx.is_sampled(),
        cx.is_debug(),
    )
}

#[test]
fn jaeger_header_gives_ids_parent_and_flags() {
    let p = only(Format::Jaeger);
    let cx = p.extract(&headers(&[(
        "uber-trace-id",
        &format!("{TRACE}:{SPAN}:4d2:3"),
    )]));
    assert_eq!(
        ids(&cx),
        (TRACE.into(), SPAN.into(), Some(PARENT.into()), true, true)
    );
    // 64-bit ids, short hex, URL-encoded colons, a root's parent 0, unsampled.
    let cx = p.extract(&headers(&[("Uber-Trace-Id", "abc%3A1f%3A0%3A0")]));
    assert_eq!(
        ids(&cx),
        (
            "0000000000000abc".into(),
            "000000000000001f".into(),
            None,
            false,
            false
        )
    );
    assert_eq!(p.errors(), 0);

    let mut out = HashMap::new();
    p.inject(&cx.with_baggage("Tenant", "a b,c"), &mut out);
    assert_eq!(
        out["uber-trace-id"],
        "0000000000000abc:000000000000001f:0:0"
    );
    assert_eq!(out["uberctx-tenant"], "a%20b%2Cc");
}

#[test]
fn jaeger_baggage_comes_from_uberctx_and_jaeger_baggage_headers() {
    let p = only(Format::Jaeger);
    let cx = p.extract(&headers(&[
        ("uber-trace-id", &format!("{TRACE}:{SPAN}:0:1")),
        ("uberctx-user", "ann+lee"),
        ("jaeger-baggage", "k1=v1, k2=v%202"),
    ]));
    assert_eq!(
        cx.baggage("user"),
        Some("ann lee"),
        "Go encodes spaces as +"
    );
    assert_eq!(cx.baggage("k1"), Some("v1"));
    assert_eq!(cx.baggage("k2"), Some("v 2"));
}

#[test]
fn jaeger_debug_id_forces_a_sampled_debug_root_that_records_it() {
    let p = only(Format::Jaeger);
    let cx = p.extract(&headers(&[("jaeger-debug-id", "ticket-42")]));
    assert!(!cx.is_valid());
    assert!(cx.is_sampled() && cx.is_debug());
    assert_eq!(cx.debug_id(), Some("ticket-42"));

    let capture = crate::testing::Capture::with_config(
        crate::Config::new("test").sampler(crate::Sampler::never()),
    );
    #[crate::traced(crate = crate)]
    fn handler(_cx: &Context) {
        child();
    }
    #[crate::traced(crate = crate)]
    fn child() {}
    handler(&cx);
    let root = capture.span("handler");
    let child = capture.span("child");
    assert_eq!(root.parent_id(), None);
    assert_eq!(root.tag("jaeger-debug-id"), Some("ticket-42".into()));
    assert_eq!(
        child.tag("jaeger-debug-id"),
        None,
        "recorded on the first span only"
    );
    assert_eq!(child.trace_id(), root.trace_id());
    assert_eq!(root.flags() & 2, 2, "debug flag kept");
}

#[test]
fn w3c_traceparent_tracestate_and_baggage() {
    let p = only(Format::W3C);
    let cx = p.extract(&headers(&[
        ("traceparent", &format!("00-{TRACE}-{SPAN}-01")),
        ("tracestate", "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
        (
            "baggage",
            "userId=alice,serverNode=DF%2028;prop=1, isProduction=false",
        ),
    ]));
    assert_eq!(ids(&cx), (TRACE.into(), SPAN.into(), None, true, false));
    assert_eq!(
        cx.tracestate(),
        Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
    );
    assert_eq!(cx.baggage("serverNode"), Some("DF 28"));
    assert_eq!(cx.baggage("isProduction"), Some("false"));

    let mut out = HashMap::new();
    p.inject(&cx, &mut out);
    assert_eq!(out["traceparent"], format!("00-{TRACE}-{SPAN}-01"));
    assert_eq!(out["tracestate"], "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
    assert_eq!(
        out["baggage"],
        "userId=alice,serverNode=DF%2028,isProduction=false"
    );

    // A future version with an extra field is read for the fields it shares.
    let cx = p.extract(&headers(&[(
        "traceparent",
        &format!("01-{TRACE}-{SPAN}-00-what-ever"),
    )]));
    assert_eq!(ids(&cx), (TRACE.into(), SPAN.into(), None, false, false));
    // A 64-bit trace id is written padded to 32 digits.
    let short = Context::remote(TraceId::new(0, 0xabc), SpanId::new(1), true).unwrap();
    let mut out = HashMap::new();
    p.inject(&short, &mut out);
    assert_eq!(
        out["traceparent"],
        "00-00000000000000000000000000000abc-0000000000000001-01"
    );
}

#[test]
fn b3_single_in_all_its_shapes() {
    let p = only(Format::B3Single);
    let read = |v: &str| p.extract(&headers(&[("b3", v)]));
    assert_eq!(
        ids(&read(&format!("{TRACE}-{SPAN}-1-{PARENT}"))),
        (TRACE.into(), SPAN.into(), Some(PARENT.into()), true, false)
    );
    assert_eq!(
        ids(&read(&format!("{TRACE}-{SPAN}-d"))),
        (TRACE.into(), SPAN.into(), None, true, true)
    );
    assert_eq!(
        ids(&read("a3ce929d0e0e4736-00f067aa0ba902b7-0")),
        ("a3ce929d0e0e4736".into(), SPAN.into(), None, false, false)
    );
    // A decision alone: deny makes an unsampled root, accept a sampled one.
    let deny = read("0");
    assert!(!deny.is_valid() && !deny.starts_spans());
    let accept = read("1");
    assert!(!accept.is_valid() && accept.is_sampled());
    assert_eq!(p.errors(), 0);

    let cx = read(&format!("{TRACE}-{SPAN}-d-{PARENT}"));
    let mut out = HashMap::new();
    p.inject(&cx, &mut out);
    assert_eq!(out["b3"], format!("{TRACE}-{SPAN}-d-{PARENT}"));
}

#[test]
fn b3_multi_headers() {
    let p = only(Format::B3Multi);
    let cx = p.extract(&headers(&[
        ("X-B3-TraceId", TRACE),
        ("X-B3-SpanId", SPAN),
        ("X-B3-ParentSpanId", PARENT),
        ("X-B3-Sampled", "1"),
    ]));
    assert_eq!(
        ids(&cx),
        (TRACE.into(), SPAN.into(), Some(PARENT.into()), true, false)
    );
    let debug = p.extract(&headers(&[
        ("x-b3-traceid", TRACE),
        ("x-b3-spanid", SPAN),
        ("x-b3-flags", "1"),
    ]));
    assert!(debug.is_debug() && debug.is_sampled());
    let mut out = HashMap::new();
    p.inject(&debug, &mut out);
    assert_eq!(out["x-b3-flags"], "1");
    assert!(!out.contains_key("x-b3-sampled"));
    let mut out = HashMap::new();
    p.inject(&cx, &mut out);
    assert_eq!(
        out,
        headers(&[
            ("x-b3-traceid", TRACE),
            ("x-b3-spanid", SPAN),
            ("x-b3-parentspanid", PARENT),
            ("x-b3-sampled", "1"),
        ])
    );
    // One id without the other is inconsistent.
    let half = p.extract(&headers(&[("x-b3-traceid", TRACE)]));
    assert!(!half.is_valid());
    assert_eq!(p.errors(), 1);
}

#[test]
fn extraction_takes_the_first_valid_format_in_the_configured_order() {
    let jaeger = format!("{TRACE}:{SPAN}:0:1");
    let other = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let both = headers(&[("uber-trace-id", &jaeger), ("traceparent", other)]);
    let default = Propagator::new();
    assert_eq!(default.extract(&both).trace_id().to_string(), TRACE);
    assert_eq!(default.errors(), 1, "the disagreement is counted");
    let w3c_first = Propagator::new().extract_formats([Format::W3C, Format::Jaeger]);
    assert_eq!(
        w3c_first.extract(&both).trace_id().to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    // A malformed first format falls through to the next valid one.
    let broken = headers(&[("uber-trace-id", "garbage"), ("traceparent", other)]);
    let cx = default.extract(&broken);
    assert_eq!(cx.span_id().to_string(), "b7ad6b7169203331");
    // Formats not configured are not read.
    assert!(!only(Format::B3Single).extract(&both).is_valid());
}

#[test]
fn hostile_headers_give_a_fresh_root_and_a_count_never_a_panic() {
    let huge = "a".repeat(1 << 20);
    let cases: Vec<(&str, String)> = vec![
        ("uber-trace-id", "xyz:1:0:1".into()),
        ("uber-trace-id", format!("{TRACE}:0:0:1")),
        ("uber-trace-id", format!("0:{SPAN}:0:1")),
        ("uber-trace-id", format!("{TRACE}{TRACE}:{SPAN}:0:1")),
        ("uber-trace-id", format!("{TRACE}:{SPAN}:0")),
        ("uber-trace-id", format!("{TRACE}:{SPAN}:0:1:9")),
        ("uber-trace-id", format!("{TRACE}:{SPAN}:0:100")),
        ("uber-trace-id", huge.clone()),
        ("traceparent", format!("00-{TRACE}-{SPAN}-1")),
        ("traceparent", format!("00-{}-{SPAN}-01", "0".repeat(32))),
        ("traceparent", format!("00-{TRACE}-{}-01", "0".repeat(16))),
        (
            "traceparent",
            format!("00-{}-{SPAN}-01", TRACE.to_uppercase()),
        ),
        ("traceparent", format!("ff-{TRACE}-{SPAN}-01")),
        ("traceparent", format!("00-{TRACE}-{SPAN}-01-extra")),
        ("traceparent", format!("0g-{TRACE}-{SPAN}-01")),
        ("traceparent", format!("00_{TRACE}_{SPAN}_01")),
        ("traceparent", "00-ü".repeat(20)),
        ("traceparent", huge.clone()),
        ("b3", format!("{TRACE}-{SPAN}-x")),
        ("b3", format!("{TRACE}-{SPAN}-1-{SPAN}-9")),
        ("b3", "abc-def".into()),
        ("b3", String::new()),
        ("b3", huge.clone()),
        ("x-b3-spanid", SPAN.into()),
        ("x-b3-sampled", "maybe".into()),
    ];
    for (name, value) in cases {
        let p = Propagator::new();
        let cx = p.extract(&headers(&[(name, &value)]));
        let shown: String = value.chars().take(60).collect();
        assert!(!cx.is_valid(), "{name}: {shown}");
        assert_eq!(p.errors(), 1, "{name}: {shown}");
    }
    assert!(crate::metrics().propagation_errors >= 25);
}

#[test]
fn baggage_is_capped_by_count_and_bytes_with_drops_counted() {
    let mut many: Vec<(String, String)> = (0..10_000)
        .map(|i| (format!("uberctx-k{i}"), "v".to_owned()))
        .collect();
    many.push(("baggage".into(), format!("big={}", "x".repeat(1 << 20))));
    let p = Propagator::new();
    let cx = p.extract(&many);
    assert_eq!(cx.baggage_items().count(), 64);
    assert_eq!(p.baggage_dropped(), 10_000 - 64 + 1);

    let p = Propagator::new().baggage_limits(BaggageLimits {
        max_items: 100,
        max_bytes: 30,
        max_value_bytes: 10,
    });
    let cx = p.extract(&headers(&[(
        "baggage",
        "a=0123456789,b=0123456789,c=01234567890,d=0123456789",
    )]));
    let kept: Vec<_> = cx.baggage_items().map(|(k, _)| k.to_owned()).collect();
    assert_eq!(
        kept,
        ["a", "b"],
        "c's value is too long, d passes the bytes"
    );
    assert_eq!(p.baggage_dropped(), 2);
}

#[test]
fn baggage_flows_to_descendants_and_out_again() {
    let capture = crate::testing::Capture::install();
    let p = Propagator::new();
    let incoming = p.extract(&headers(&[
        ("uber-trace-id", &format!("{TRACE}:{SPAN}:0:1")),
        ("uberctx-tenant", "acme"),
    ]));
    #[crate::traced(crate = crate)]
    fn server(_cx: &Context) -> HashMap<String, String> {
        client()
    }
    #[crate::traced(crate = crate)]
    fn client() -> HashMap<String, String> {
        let mut out = HashMap::new();
        Propagator::new().inject(&Context::current(), &mut out);
        assert_eq!(Context::current().baggage("tenant"), Some("acme"));
        out
    }
    let out = server(&incoming);
    let server_span = capture.span("server");
    let client_span = capture.span("client");
    assert_eq!(
        server_span.parent_id().map(|p| p.to_string()).as_deref(),
        Some(SPAN)
    );
    assert_eq!(
        out["uber-trace-id"],
        format!(
            "{TRACE}:{}:{}:1",
            client_span.span_id(),
            server_span.span_id()
        )
    );
    assert_eq!(out["uberctx-tenant"], "acme");
    assert_eq!(out["baggage"], "tenant=acme");
}

fn hex(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(b"0123456789abcdef".to_vec()), len)
        .prop_map(|bytes| String::from_utf8(bytes).expect("ascii"))
}

fn any_context() -> impl Strategy<Value = Context> {
    (
        any::<(u64, u64)>(),
        1..=u64::MAX,
        any::<u64>(),
        0u8..4,
        proptest::collection::vec(("[a-z0-9_.-]{1,12}", "\\PC{0,20}"), 0..4),
        proptest::option::of("[a-z0-9]{1,8}=[a-zA-Z0-9]{1,16}"),
    )
        .prop_filter("a valid trace id", |((h, l), ..)| *h != 0 || *l != 0)
        .prop_map(|((high, low), span, parent, flags, baggage, state)| {
            let cx = Context::remote(TraceId::new(high, low), SpanId::new(span), false)
                .expect("valid ids")
                .with_flags(flags);
            let mut cx = Context {
                parent_id: SpanId::new(parent),
                ..cx
            };
            for (k, v) in baggage {
                cx.set_baggage(k, v);
            }
            match state {
                Some(state) => cx.with_tracestate(state),
                None => cx,
            }
        })
}

proptest! {
    // 2,000 cases in the normal suite; the documented long run sets PROPTEST_CASES=1000000.
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(2000)
    ))]

    #[test]
    fn every_format_round_trips_what_it_can_carry(cx in any_context()) {
        for format in Format::ALL {
            let p = only(format);
            let mut out = Vec::new();
            p.inject(&cx, &mut out);
            let back = p.extract(&out);
            prop_assert_eq!(back.trace_id(), cx.trace_id(), "{:?} {:?}", format, out);
            prop_assert_eq!(back.span_id(), cx.span_id());
            prop_assert_eq!(back.is_sampled(), cx.is_sampled());
            if format != Format::W3C {
                prop_assert_eq!(back.parent_id(), cx.parent_id());
                prop_assert_eq!(back.is_debug(), cx.is_debug());
            }
            if matches!(format, Format::W3C) {
                prop_assert_eq!(back.tracestate(), cx.tracestate());
            }
            if matches!(format, Format::Jaeger | Format::W3C) {
                for (k, v) in cx.baggage_items() {
                    let k = if format == Format::Jaeger { k.to_ascii_lowercase() } else { k.to_owned() };
                    prop_assert_eq!(back.baggage(&k), Some(v), "{:?} {:?}", format, out);
                }
            }
            prop_assert_eq!(p.errors(), 0);
            // inject(extract(x)) == x for the headers themselves.
            let mut again = Vec::new();
            p.inject(&back, &mut again);
            out.sort();
            again.sort();
            prop_assert_eq!(out, again);
        }
    }

    #[test]
    fn valid_headers_are_read_whatever_their_digits(trace in hex(32..=32), span in hex(16..=16), flags in 0u8..2) {
        prop_assume!(trace.bytes().any(|b| b != b'0') && span.bytes().any(|b| b != b'0'));
        let header = format!("00-{trace}-{span}-{flags:02x}");
        let p = only(Format::W3C);
        let cx = p.extract(&headers(&[("traceparent", &header)]));
        let mut out = HashMap::new();
        p.inject(&cx, &mut out);
        prop_assert_eq!(&out["traceparent"], &header);
    }

    #[test]
    fn arbitrary_header_values_never_panic(
        value in "\\PC{0,200}",
        name in proptest::sample::select(vec![
            "uber-trace-id", "traceparent", "tracestate", "baggage", "b3", "x-b3-traceid",
            "x-b3-spanid", "x-b3-sampled", "x-b3-flags", "jaeger-baggage", "uberctx-k",
            "jaeger-debug-id",
        ]),
    ) {
        let p = Propagator::new();
        let cx = p.extract(&headers(&[(name, &value)]));
        let mut out = Vec::new();
        p.inject(&cx, &mut out);
    }
}

#[test]
fn a_callers_decision_without_ids_is_followed_not_resampled() {
    #[crate::traced(crate = crate)]
    fn handler(_cx: &Context) {
        child();
    }
    #[crate::traced(crate = crate)]
    fn child() {}

    let p = only(Format::B3Single);
    // `b3: 0` under a tracer that samples everything: nothing is recorded.
    let capture = crate::testing::Capture::install();
    handler(&p.extract(&headers(&[("b3", "0")])));
    assert!(capture.spans().is_empty(), "{:?}", capture.spans());
    drop(capture);
    // `b3: 1` under a tracer that samples nothing: recorded, as one trace.
    let capture = crate::testing::Capture::with_config(
        crate::Config::new("test").sampler(crate::Sampler::never()),
    );
    handler(&p.extract(&headers(&[("b3", "1")])));
    let (root, child) = (capture.span("handler"), capture.span("child"));
    assert_eq!(child.parent_id(), Some(root.span_id()));
    assert_eq!(root.parent_id(), None);
}
