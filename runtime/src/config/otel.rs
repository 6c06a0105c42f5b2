//! The OpenTelemetry SDK's variables (`OTEL_*`), read after the `JAEGER_*` ones.
//!
//! The rule when both name a setting: **the `OTEL_*` variable wins**, as in OpenTelemetry's
//! SDKs (which read only theirs), whatever the `JAEGER_*` one says:
//!
//! | setting | `OTEL_*` (wins when set) | `JAEGER_*` |
//! | --- | --- | --- |
//! | service name | `OTEL_SERVICE_NAME`, else `service.name` in `OTEL_RESOURCE_ATTRIBUTES` | `JAEGER_SERVICE_NAME` |
//! | process tags / resource | `OTEL_RESOURCE_ATTRIBUTES` (a key in both: its value) | `JAEGER_TAGS` |
//! | sampler | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | `JAEGER_SAMPLER_TYPE`, `JAEGER_SAMPLER_PARAM` |
//! | off | `OTEL_SDK_DISABLED` | `JAEGER_DISABLED` |
//! | destination | `OTEL_TRACES_EXPORTER`; unset, an `OTEL_EXPORTER_OTLP_*ENDPOINT` means `otlp` | `JAEGER_ENDPOINT`, `JAEGER_AGENT_*` |
//!
//! `OTEL_TRACES_EXPORTER=jaeger` keeps the `JAEGER_*` destination (agent or collector), and
//! with no `OTEL_*` variable at all nothing changes. A bad value is an error naming the variable
//! and the value, in either family, even when the other family's variable would win.

use super::env::{invalid, parse_bool};
use super::{Config, Destination};
use crate::error::Error;
use crate::propagation::Format;
use crate::report::ConsoleSink;
use crate::sampler::Sampler;
use crate::tag::TagValue;

/// Where spans go, by `OTEL_TRACES_EXPORTER`.
#[derive(Debug, PartialEq, Eq)]
enum Exporter {
    Otlp,
    Jaeger,
    Console,
    None,
}

/// Applies the `OTEL_*` variables over `config` (already read from the `JAEGER_*` ones).
pub(super) fn apply(
    config: &mut Config,
    var: &impl Fn(&str) -> Option<String>,
) -> Result<(), Error> {
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());

    if let Some(value) = set("OTEL_SDK_DISABLED") {
        config.disabled = parse_bool("OTEL_SDK_DISABLED", &value)?;
    }

    if let Some(text) = set("OTEL_RESOURCE_ATTRIBUTES") {
        for (key, value) in key_values("OTEL_RESOURCE_ATTRIBUTES", &text)? {
            if key == "service.name" {
                config.service_name = value;
                continue;
            }
            config.tags.retain(|(k, _)| *k != key);
            config.tags.push((key, TagValue::from(value)));
        }
    }
    if let Some(name) = set("OTEL_SERVICE_NAME") {
        config.service_name = name.trim().to_owned();
    }

    if let Some(kind) = set("OTEL_TRACES_SAMPLER") {
        config.sampler = sampler(&kind, set("OTEL_TRACES_SAMPLER_ARG"))?;
    }

    if let Some(text) = set("OTEL_PROPAGATORS") {
        config.propagation = Some(propagators(&text)?);
    }

    let (exporter, also_console) = match set("OTEL_TRACES_EXPORTER") {
        Some(text) => exporters(&text)?,
        None if set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
            || set("OTEL_EXPORTER_OTLP_ENDPOINT").is_some() =>
        {
            (Exporter::Otlp, false)
        }
        None => (Exporter::Jaeger, false),
    };
    config.log_spans |= also_console;
    match exporter {
        Exporter::Jaeger => {}
        Exporter::Console => {
            config.destination = Destination::Sink(Box::new(ConsoleSink::stdout()))
        }
        // Spans are still made (ids for the headers sent on), and dropped.
        Exporter::None => config.destination = Destination::Sink(Box::new(crate::testing::Discard)),
        Exporter::Otlp => config.destination = otlp(&set)?,
    }
    Ok(())
}

/// `true` when a variable names the service, for [`Config::default_service_name`].
pub(super) fn names_service(var: &impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| var(name).is_some_and(|v| !v.trim().is_empty());
    set("JAEGER_SERVICE_NAME")
        || set("OTEL_SERVICE_NAME")
        || var("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|text| {
            key_values("OTEL_RESOURCE_ATTRIBUTES", &text)
                .is_ok_and(|pairs| pairs.iter().any(|(k, _)| k == "service.name"))
        })
}

fn sampler(kind: &str, arg: Option<String>) -> Result<Sampler, Error> {
    let ratio = || -> Result<Sampler, Error> {
        let Some(text) = &arg else {
            return Ok(Sampler::always());
        };
        let ratio = text.trim().parse::<f64>().map_err(|_| {
            invalid(
                "OTEL_TRACES_SAMPLER_ARG",
                text,
                "expected a probability from 0 to 1",
            )
        })?;
        Sampler::probabilistic(ratio)
            .map_err(|e| invalid("OTEL_TRACES_SAMPLER_ARG", text, e.to_string()))
    };
    // traced's sampler decides only at a trace's root, and children follow their parent's
    // decision: every sampler here is parent-based, with or without the prefix.
    match kind.trim().to_ascii_lowercase().as_str() {
        "always_on" | "parentbased_always_on" => Ok(Sampler::always()),
        "always_off" | "parentbased_always_off" => Ok(Sampler::never()),
        "traceidratio" | "parentbased_traceidratio" => ratio(),
        _ => Err(invalid(
            "OTEL_TRACES_SAMPLER",
            kind,
            "expected always_on, always_off, traceidratio, parentbased_always_on, \
             parentbased_always_off or parentbased_traceidratio",
        )),
    }
}

fn propagators(text: &str) -> Result<Vec<Format>, Error> {
    let mut formats = Vec::new();
    let names: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    for name in &names {
        let format = match name.to_ascii_lowercase().as_str() {
            "none" if names.len() == 1 => continue,
            "none" => {
                return Err(invalid(
                    "OTEL_PROPAGATORS",
                    text,
                    "none cannot be listed with others",
                ))
            }
            // traced's W3C format carries traceparent, tracestate and baggage together.
            "tracecontext" | "baggage" => Format::W3C,
            "b3" => Format::B3Single,
            "b3multi" => Format::B3Multi,
            "jaeger" => Format::Jaeger,
            _ => {
                return Err(invalid(
                    "OTEL_PROPAGATORS",
                    text,
                    format!(
                        "{name:?} is not one of tracecontext, baggage, b3, b3multi, jaeger, none"
                    ),
                ))
            }
        };
        if !formats.contains(&format) {
            formats.push(format);
        }
    }
    Ok(formats)
}

/// The exporter, and whether `console` was listed beside it.
fn exporters(text: &str) -> Result<(Exporter, bool), Error> {
    let mut chosen = None;
    let mut console = false;
    for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let exporter = match name.to_ascii_lowercase().as_str() {
            "otlp" => Exporter::Otlp,
            "jaeger" => Exporter::Jaeger,
            "none" => Exporter::None,
            "console" | "logging" => {
                console = true;
                continue;
            }
            _ => {
                return Err(invalid(
                    "OTEL_TRACES_EXPORTER",
                    text,
                    format!("{name:?} is not one of otlp, jaeger, console, none"),
                ))
            }
        };
        if chosen.is_some() {
            return Err(invalid(
                "OTEL_TRACES_EXPORTER",
                text,
                "name one of otlp, jaeger and none (and console beside it, if wanted)",
            ));
        }
        chosen = Some(exporter);
    }
    Ok(match chosen {
        Some(Exporter::None) if console => (Exporter::Console, false),
        Some(exporter) => (exporter, console),
        None if console => (Exporter::Console, false),
        None => (Exporter::None, false),
    })
}

/// The OTLP destination from the `OTEL_EXPORTER_OTLP_*` variables, the traces-specific ones
/// winning over the general ones.
#[cfg(feature = "otlp")]
fn otlp(set: &impl Fn(&str) -> Option<String>) -> Result<Destination, Error> {
    use std::time::Duration;

    use crate::report::{Compression, OtlpProtocol, OtlpSink};

    let specific = |general: &'static str, traces: &'static str| {
        set(traces)
            .map(|v| (traces, v))
            .or_else(|| set(general).map(|v| (general, v)))
    };
    let (variable, url) = match set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        // The traces endpoint is used as it is; the general one is a base for every signal.
        Some(url) => ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url.trim().to_owned()),
        None => match set("OTEL_EXPORTER_OTLP_ENDPOINT") {
            Some(base) => (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("{}/v1/traces", base.trim().trim_end_matches('/')),
            ),
            None => (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                OtlpSink::DEFAULT_ENDPOINT.to_owned(),
            ),
        },
    };
    let mut sink = OtlpSink::new(&url).map_err(|e| {
        let reason = e.to_string();
        let reason = reason.split_once(": ").map_or(reason.as_str(), |(_, r)| r);
        invalid(variable, &set(variable).unwrap_or(url.clone()), reason)
    })?;

    if let Some((variable, value)) = specific(
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    ) {
        sink = sink.protocol(match value.trim() {
            "http/protobuf" => OtlpProtocol::Protobuf,
            "http/json" => OtlpProtocol::Json,
            "grpc" => {
                return Err(invalid(
                    variable,
                    &value,
                    "grpc is not supported: use http/protobuf (port 4318) or http/json",
                ))
            }
            _ => {
                return Err(invalid(
                    variable,
                    &value,
                    "expected http/protobuf or http/json",
                ))
            }
        });
    }
    if let Some((variable, value)) = specific(
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    ) {
        sink = sink.compression(match value.trim() {
            "gzip" => Compression::Gzip,
            "none" => Compression::None,
            _ => return Err(invalid(variable, &value, "expected gzip or none")),
        });
    }
    if let Some((variable, value)) = specific(
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    ) {
        let millis = value
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|ms| *ms > 0)
            .ok_or_else(|| invalid(variable, &value, "expected milliseconds, more than 0"))?;
        sink = sink.timeout(Duration::from_millis(millis));
    }
    // Every header of the general variable, then the traces-specific ones, which replace a
    // header of the same name.
    let mut headers: Vec<(String, String)> = Vec::new();
    for variable in [
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    ] {
        if let Some(text) = set(variable) {
            for (name, value) in key_values(variable, &text)? {
                headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
                headers.push((name, value));
            }
        }
    }
    for (name, value) in headers {
        sink = sink
            .header(name, value)
            .map_err(|e| invalid_secret(header_variable(set), e.to_string()))?;
    }
    Ok(Destination::Otlp(sink))
}

/// The headers variable that is set, for an error about a header (its value is not shown:
/// headers hold credentials).
#[cfg(feature = "otlp")]
fn header_variable(set: &impl Fn(&str) -> Option<String>) -> &'static str {
    if set("OTEL_EXPORTER_OTLP_TRACES_HEADERS").is_some() {
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
    } else {
        "OTEL_EXPORTER_OTLP_HEADERS"
    }
}

#[cfg(feature = "otlp")]
fn invalid_secret(variable: &'static str, reason: String) -> Error {
    invalid(variable, "***", reason)
}

#[cfg(not(feature = "otlp"))]
fn otlp(set: &impl Fn(&str) -> Option<String>) -> Result<Destination, Error> {
    let reason = "traced was built without its otlp feature: enable it, or set \
                  OTEL_TRACES_EXPORTER=jaeger";
    for variable in [
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ] {
        if let Some(value) = set(variable) {
            return Err(invalid(variable, &value, reason));
        }
    }
    Err(invalid("OTEL_TRACES_EXPORTER", "", reason))
}

/// `k=v,k2=v2` with percent-encoded values (the W3C Baggage format the OpenTelemetry
/// specification gives `OTEL_RESOURCE_ATTRIBUTES` and `OTEL_EXPORTER_OTLP_HEADERS`).
fn key_values(variable: &'static str, text: &str) -> Result<Vec<(String, String)>, Error> {
    let secret = variable.contains("HEADERS");
    let shown = if secret { "***" } else { text };
    let mut pairs = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((key, value)) = item
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .filter(|(k, _)| !k.is_empty())
        else {
            let item = if secret {
                item.split('=').next().unwrap_or_default()
            } else {
                item
            };
            return Err(invalid(
                variable,
                shown,
                format!("{item:?} is not key=value"),
            ));
        };
        let value = percent_decode(value).ok_or_else(|| {
            invalid(
                variable,
                shown,
                format!("the value of {key:?} has a bad %-escape"),
            )
        })?;
        pairs.push((key.to_owned(), value));
    }
    Ok(pairs)
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::super::env::test_vars::{error, from};
    use super::*;
    use crate::report::{Batch, Process, Sink};

    fn sampler(vars: &[(&str, &str)]) -> String {
        format!("{:?}", from(vars).unwrap().sampler)
    }

    /// What the destination is: `agent ...`, `collector ...`, `otlp <url>`, `console` or
    /// `discard` (told apart by what they answer for an empty batch).
    fn destination(config: Config) -> String {
        match config.destination {
            Destination::Agent { address, .. } => format!("agent {address}"),
            Destination::Collector { endpoint, .. } => format!("collector {endpoint}"),
            #[cfg(feature = "otlp")]
            Destination::Otlp(sink) => format!("otlp {}", sink.url()),
            Destination::Sink(mut sink) => {
                let process = Process::new("test");
                let sent = sink.send(&Batch::new(&process, &[])).unwrap();
                if sent.batches == 1 {
                    "console"
                } else {
                    "discard"
                }
                .to_owned()
            }
        }
    }

    #[test]
    fn reads_the_otel_variables() {
        let config = from(&[
            ("OTEL_SERVICE_NAME", "gallery-api"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=prod, team=image%20store,service.version=1.2",
            ),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ("OTEL_PROPAGATORS", "tracecontext,baggage,b3multi"),
            ("OTEL_SDK_DISABLED", "false"),
        ])
        .unwrap();
        assert_eq!(config.service_name, "gallery-api");
        assert_eq!(
            config.tags,
            vec![
                ("deployment.environment".to_owned(), TagValue::from("prod")),
                ("team".to_owned(), TagValue::from("image store")),
                ("service.version".to_owned(), TagValue::from("1.2")),
            ]
        );
        assert_eq!(
            format!("{:?}", config.sampler),
            "Sampler::probabilistic(0.25)"
        );
        assert_eq!(config.propagation, Some(vec![Format::W3C, Format::B3Multi]));
        assert!(!config.disabled);
        assert!(from(&[("OTEL_SDK_DISABLED", "TRUE")]).unwrap().disabled);
        assert_eq!(
            from(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-resource")])
                .unwrap()
                .service_name,
            "from-resource"
        );
    }

    #[test]
    fn every_sampler_by_name() {
        let with = |name, arg: Option<&str>| {
            let mut vars = vec![("OTEL_TRACES_SAMPLER", name)];
            vars.extend(arg.map(|a| ("OTEL_TRACES_SAMPLER_ARG", a)));
            sampler(&vars)
        };
        assert_eq!(with("always_on", None), "Sampler::const(true)");
        assert_eq!(with("parentbased_always_on", None), "Sampler::const(true)");
        assert_eq!(with("always_off", Some("0.5")), "Sampler::const(false)");
        assert_eq!(
            with("parentbased_always_off", None),
            "Sampler::const(false)"
        );
        assert_eq!(
            with("traceidratio", Some("0.1")),
            "Sampler::probabilistic(0.1)"
        );
        assert_eq!(
            with("traceidratio", None),
            "Sampler::const(true)",
            "the ratio is 1 by default"
        );
        assert_eq!(
            with("parentbased_traceidratio", Some(" 0 ")),
            "Sampler::probabilistic(0)"
        );
        assert_eq!(
            sampler(&[("OTEL_TRACES_SAMPLER_ARG", "0.5")]),
            "Sampler::const(true)"
        );
    }

    #[test]
    fn every_propagator_by_name() {
        let formats = |text| {
            from(&[("OTEL_PROPAGATORS", text)])
                .unwrap()
                .propagation
                .unwrap()
        };
        assert_eq!(
            formats("jaeger, b3, b3multi, tracecontext"),
            [
                Format::Jaeger,
                Format::B3Single,
                Format::B3Multi,
                Format::W3C
            ]
        );
        assert_eq!(formats("baggage"), [Format::W3C]);
        assert_eq!(formats("none"), []);
        assert_eq!(from(&[]).unwrap().propagation, None);
    }

    #[test]
    fn exporters_choose_the_destination() {
        let to = |vars: &[(&str, &str)]| destination(from(vars).unwrap());
        assert_eq!(to(&[]), "agent 127.0.0.1:6831", "nothing set: as before");
        assert_eq!(to(&[("OTEL_TRACES_EXPORTER", "console")]), "console");
        assert_eq!(to(&[("OTEL_TRACES_EXPORTER", "none")]), "discard");
        assert_eq!(to(&[("OTEL_TRACES_EXPORTER", "none,console")]), "console");
        assert_eq!(
            to(&[
                ("OTEL_TRACES_EXPORTER", "jaeger"),
                ("JAEGER_AGENT_HOST", "agent")
            ]),
            "agent agent:6831"
        );
        let logged = from(&[("OTEL_TRACES_EXPORTER", "jaeger,console")]).unwrap();
        assert!(logged.log_spans);
        assert_eq!(destination(logged), "agent 127.0.0.1:6831");
    }

    #[test]
    fn otel_wins_over_jaeger_for_what_both_name() {
        let config = from(&[
            ("JAEGER_SERVICE_NAME", "from-jaeger"),
            ("OTEL_SERVICE_NAME", "from-otel"),
            ("JAEGER_TAGS", "region=eu,pod=p1"),
            ("OTEL_RESOURCE_ATTRIBUTES", "region=us"),
            ("JAEGER_SAMPLER_TYPE", "probabilistic"),
            ("JAEGER_SAMPLER_PARAM", "0.5"),
            ("OTEL_TRACES_SAMPLER", "always_off"),
            ("JAEGER_DISABLED", "true"),
            ("OTEL_SDK_DISABLED", "false"),
        ])
        .unwrap();
        assert_eq!(config.service_name, "from-otel");
        assert_eq!(
            config.tags,
            vec![
                ("pod".to_owned(), TagValue::from("p1")),
                ("region".to_owned(), TagValue::from("us")),
            ]
        );
        assert_eq!(format!("{:?}", config.sampler), "Sampler::const(false)");
        assert!(!config.disabled);
        // service.name in the resource beats JAEGER_SERVICE_NAME, and OTEL_SERVICE_NAME beats it.
        let named = |vars: &[(&str, &str)]| from(vars).unwrap().service_name;
        assert_eq!(
            named(&[
                ("JAEGER_SERVICE_NAME", "j"),
                ("OTEL_RESOURCE_ATTRIBUTES", "service.name=r")
            ]),
            "r"
        );
        assert_eq!(
            named(&[
                ("OTEL_SERVICE_NAME", "o"),
                ("OTEL_RESOURCE_ATTRIBUTES", "service.name=r")
            ]),
            "o"
        );
        // Without OTEL_* the Jaeger variables decide, as before.
        let jaeger = from(&[("JAEGER_SERVICE_NAME", "j"), ("JAEGER_DISABLED", "true")]).unwrap();
        assert_eq!((jaeger.service_name.as_str(), jaeger.disabled), ("j", true));
    }

    #[test]
    fn bad_otel_values_name_the_variable_and_the_value() {
        assert_eq!(
            error(&[("OTEL_TRACES_SAMPLER", "jaeger_remote")]),
            "OTEL_TRACES_SAMPLER=\"jaeger_remote\" is invalid: expected always_on, always_off, \
             traceidratio, parentbased_always_on, parentbased_always_off or \
             parentbased_traceidratio"
        );
        assert_eq!(
            error(&[
                ("OTEL_TRACES_SAMPLER", "traceidratio"),
                ("OTEL_TRACES_SAMPLER_ARG", "half")
            ]),
            "OTEL_TRACES_SAMPLER_ARG=\"half\" is invalid: expected a probability from 0 to 1"
        );
        assert!(error(&[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "1.5")
        ])
        .starts_with("OTEL_TRACES_SAMPLER_ARG=\"1.5\" is invalid: sampling probability 1.5"));
        assert_eq!(
            error(&[("OTEL_PROPAGATORS", "tracecontext,xray")]),
            "OTEL_PROPAGATORS=\"tracecontext,xray\" is invalid: \"xray\" is not one of \
             tracecontext, baggage, b3, b3multi, jaeger, none"
        );
        assert!(error(&[("OTEL_PROPAGATORS", "none,b3")]).contains("none cannot be listed"));
        assert_eq!(
            error(&[("OTEL_SDK_DISABLED", "yes")]),
            "OTEL_SDK_DISABLED=\"yes\" is invalid: expected true or false"
        );
        assert_eq!(
            error(&[("OTEL_TRACES_EXPORTER", "zipkin")]),
            "OTEL_TRACES_EXPORTER=\"zipkin\" is invalid: \"zipkin\" is not one of otlp, \
             jaeger, console, none"
        );
        assert!(error(&[("OTEL_TRACES_EXPORTER", "otlp,jaeger")])
            .starts_with("OTEL_TRACES_EXPORTER=\"otlp,jaeger\" is invalid: name one of"));
        assert_eq!(
            error(&[("OTEL_RESOURCE_ATTRIBUTES", "a=1,oops")]),
            "OTEL_RESOURCE_ATTRIBUTES=\"a=1,oops\" is invalid: \"oops\" is not key=value"
        );
        assert!(error(&[("OTEL_RESOURCE_ATTRIBUTES", "a=%zz")]).contains("bad %-escape"));
    }

    #[cfg(feature = "otlp")]
    #[test]
    fn otlp_exporter_variables() {
        use crate::report::{Compression, OtlpProtocol};

        let otlp = |vars: &[(&str, &str)]| match from(vars).unwrap().destination {
            Destination::Otlp(sink) => sink,
            _ => panic!("an OTLP destination for {vars:?}"),
        };
        // The general endpoint gets /v1/traces; the traces one is used as it is, and wins.
        assert_eq!(
            otlp(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")]).url(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            otlp(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://tempo:4318/custom/path"
                ),
            ])
            .url(),
            "http://tempo:4318/custom/path"
        );
        assert_eq!(
            otlp(&[("OTEL_TRACES_EXPORTER", "otlp")]).url(),
            "http://localhost:4318/v1/traces"
        );
        // An OTLP endpoint wins over the Jaeger destination, unless the exporter says jaeger.
        assert_eq!(
            otlp(&[
                ("JAEGER_AGENT_HOST", "agent"),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ])
            .url(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            destination(
                from(&[
                    ("JAEGER_ENDPOINT", "http://jaeger:14268/api/traces"),
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
                    ("OTEL_TRACES_EXPORTER", "jaeger"),
                ])
                .unwrap()
            ),
            "collector http://jaeger:14268/api/traces"
        );
        let sink = otlp(&[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "api-key=general,x-tenant=acme%20corp",
            ),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "API-Key=traces"),
        ]);
        let debug = format!("{sink:?}");
        assert!(
            debug.contains(&format!("protocol: {:?}", OtlpProtocol::Json)),
            "{debug}"
        );
        assert!(
            debug.contains(&format!("compression: {:?}", Compression::Gzip)),
            "{debug}"
        );
        assert!(debug.contains("timeout: 2.5s"), "{debug}");
        assert!(
            debug.contains(r#"headers: ["x-tenant", "API-Key"]"#),
            "the traces header replaces the general one of the same name: {debug}"
        );
        assert!(
            !debug.contains("general") && !debug.contains("acme"),
            "{debug}"
        );
        assert_eq!(sink.header_value("x-tenant"), Some("acme corp"));
        assert_eq!(sink.header_value("API-Key"), Some("traces"));
    }

    #[cfg(feature = "otlp")]
    #[test]
    fn bad_otlp_values_name_the_variable_and_the_value() {
        assert_eq!(
            error(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318")]),
            "OTEL_EXPORTER_OTLP_ENDPOINT=\"https://collector:4318\" is invalid: https is not \
             supported: give an http:// endpoint (a TLS-terminating proxy in front of the \
             collector), or report to an agent"
        );
        assert!(
            error(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4318")])
                .starts_with("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=\"collector:4318\" is invalid")
        );
        let otlp = |name, value| error(&[("OTEL_TRACES_EXPORTER", "otlp"), (name, value)]);
        assert_eq!(
            otlp("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            "OTEL_EXPORTER_OTLP_PROTOCOL=\"grpc\" is invalid: grpc is not supported: use \
             http/protobuf (port 4318) or http/json"
        );
        assert_eq!(
            otlp("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "thrift"),
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=\"thrift\" is invalid: expected http/protobuf \
             or http/json"
        );
        assert_eq!(
            otlp("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
            "OTEL_EXPORTER_OTLP_COMPRESSION=\"zstd\" is invalid: expected gzip or none"
        );
        assert_eq!(
            otlp("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "10s"),
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT=\"10s\" is invalid: expected milliseconds, more \
             than 0"
        );
        // Headers hold credentials: the value is not repeated.
        let headers = otlp("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s3cr3t,broken");
        assert_eq!(
            headers,
            "OTEL_EXPORTER_OTLP_HEADERS=\"***\" is invalid: \"broken\" is not key=value"
        );
        let headers = otlp("OTEL_EXPORTER_OTLP_HEADERS", "bad name=s3cr3t");
        assert!(
            headers.starts_with("OTEL_EXPORTER_OTLP_HEADERS=\"***\" is invalid: header name")
                && !headers.contains("s3cr3t"),
            "{headers}"
        );
    }

    #[cfg(not(feature = "otlp"))]
    #[test]
    fn choosing_otlp_without_the_feature_names_the_variable() {
        assert!(error(&[("OTEL_TRACES_EXPORTER", "otlp")]).starts_with(
            "OTEL_TRACES_EXPORTER=\"otlp\" is invalid: traced was built without its otlp feature"
        ));
        assert!(error(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")])
            .starts_with("OTEL_EXPORTER_OTLP_ENDPOINT=\"http://c:4318\" is invalid: traced was"));
    }
}
