//! The `JAEGER_*` variables every Jaeger client reads, as `Config::from_env` reads them (the
//! table is on [`Config`]); `otel.rs` applies the `OTEL_*` ones over the result.

use std::time::Duration;

use super::{otel, Config, Destination};
use crate::error::Error;
use crate::report::{Auth, Protocol};
use crate::sampler::Sampler;
use crate::tag::TagValue;

impl Config {
    /// The settings the `JAEGER_*` and then the `OTEL_*` variables make, each read through
    /// `var` (the process environment, or a test's map).
    pub(crate) fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let service_name = var("JAEGER_SERVICE_NAME")
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(executable_name);
        let mut config = Config::new(service_name);

        if let Some(value) = var("JAEGER_DISABLED") {
            config.disabled = parse_bool("JAEGER_DISABLED", &value)?;
        }

        let host = var("JAEGER_AGENT_HOST").filter(|h| !h.trim().is_empty());
        let port = match var("JAEGER_AGENT_PORT") {
            Some(value) => value
                .trim()
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| {
                    invalid(
                        "JAEGER_AGENT_PORT",
                        &value,
                        "expected a port number from 1 to 65535",
                    )
                })?,
            None => Protocol::Compact.default_port(),
        };
        let host = host.as_deref().map_or("127.0.0.1", str::trim);
        let address = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}") // a bare IPv6 address
        } else {
            format!("{host}:{port}")
        };
        config.destination = Destination::Agent {
            address,
            protocol: Protocol::Compact,
        };

        if let Some(endpoint) = var("JAEGER_ENDPOINT").filter(|e| !e.trim().is_empty()) {
            crate::report::collector_endpoint(&endpoint)
                .map_err(|reason| invalid("JAEGER_ENDPOINT", &endpoint, reason))?;
            config.destination = Destination::Collector {
                endpoint,
                auth: auth_from(&var)?,
            };
        }

        config.sampler = sampler_from(var("JAEGER_SAMPLER_TYPE"), var("JAEGER_SAMPLER_PARAM"))?;

        if let Some(value) = var("JAEGER_REPORTER_MAX_QUEUE_SIZE") {
            config.queue_size = value
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=1 << 20).contains(n))
                .ok_or_else(|| {
                    invalid(
                        "JAEGER_REPORTER_MAX_QUEUE_SIZE",
                        &value,
                        "expected a number of spans from 1 to 1048576",
                    )
                })?;
        }
        if let Some(value) = var("JAEGER_REPORTER_FLUSH_INTERVAL") {
            config.flush_interval =
                parse_duration(&value)
                    .filter(|d| !d.is_zero())
                    .ok_or_else(|| {
                        invalid(
                            "JAEGER_REPORTER_FLUSH_INTERVAL",
                            &value,
                            "expected a duration such as 1s or 500ms",
                        )
                    })?;
        }
        if let Some(value) = var("JAEGER_REPORTER_LOG_SPANS") {
            config.log_spans = parse_bool("JAEGER_REPORTER_LOG_SPANS", &value)?;
        }

        if let Some(value) = var("JAEGER_TAGS") {
            config.tags = parse_tags(&value, &var)?;
        }
        otel::apply(&mut config, &var)?;
        Ok(config)
    }
}

pub(super) fn invalid(variable: &'static str, value: &str, reason: impl Into<String>) -> Error {
    Error::InvalidVariable {
        variable,
        value: value.to_owned(),
        reason: reason.into(),
    }
}

fn executable_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "unknown_service".to_owned())
}

/// The collector's authentication from `JAEGER_USER`/`JAEGER_PASSWORD` or `JAEGER_AUTH_TOKEN`.
fn auth_from(var: &impl Fn(&str) -> Option<String>) -> Result<Auth, Error> {
    let set = |name: &str| var(name).filter(|v| !v.is_empty());
    match (
        set("JAEGER_USER"),
        set("JAEGER_PASSWORD"),
        set("JAEGER_AUTH_TOKEN"),
    ) {
        (None, None, None) => Ok(Auth::None),
        (None, None, Some(token)) => Ok(Auth::Bearer(token)),
        (Some(user), Some(password), None) => Ok(Auth::Basic { user, password }),
        (Some(user), None, _) => Err(invalid(
            "JAEGER_USER",
            &user,
            "JAEGER_PASSWORD must be set with it",
        )),
        (None, Some(_), _) => Err(invalid(
            "JAEGER_PASSWORD",
            "***",
            "JAEGER_USER must be set with it",
        )),
        (Some(user), Some(_), Some(_)) => Err(invalid(
            "JAEGER_USER",
            &user,
            "set either JAEGER_USER and JAEGER_PASSWORD or JAEGER_AUTH_TOKEN, not both",
        )),
    }
}

/// Parses Go's duration syntax, as Jaeger's clients write `JAEGER_REPORTER_FLUSH_INTERVAL`: a
/// number and a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), possibly fractional, possibly
/// several (`1m30.5s`).
fn parse_duration(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * seconds;
    }
    Duration::try_from_secs_f64(total).ok()
}

pub(super) fn parse_bool(variable: &'static str, value: &str) -> Result<bool, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" | "" => Ok(false),
        _ => Err(invalid(variable, value, "expected true or false")),
    }
}

fn sampler_from(kind: Option<String>, param: Option<String>) -> Result<Sampler, Error> {
    let param_value = match &param {
        Some(text) => Some(
            text.trim()
                .parse::<f64>()
                .map_err(|_| invalid("JAEGER_SAMPLER_PARAM", text, "expected a number"))?,
        ),
        None => None,
    };
    let param_text = param.as_deref().unwrap_or_default();
    let kind_text = kind.as_deref().map(str::trim).unwrap_or("const");
    match kind_text {
        "const" | "" => match param_value {
            None => Ok(Sampler::always()),
            Some(1.0) => Ok(Sampler::always()),
            Some(0.0) => Ok(Sampler::never()),
            Some(_) => Err(invalid(
                "JAEGER_SAMPLER_PARAM",
                param_text,
                "the const sampler takes 0 or 1",
            )),
        },
        "probabilistic" => {
            let p = param_value.unwrap_or(0.001);
            Sampler::probabilistic(p)
                .map_err(|e| invalid("JAEGER_SAMPLER_PARAM", param_text, e.to_string()))
        }
        "ratelimiting" => {
            let rate = param_value.unwrap_or(1.0);
            Sampler::rate_limiting(rate)
                .map_err(|e| invalid("JAEGER_SAMPLER_PARAM", param_text, e.to_string()))
        }
        other => Err(invalid(
            "JAEGER_SAMPLER_TYPE",
            other,
            "expected const, probabilistic or ratelimiting (remote sampling is not supported)",
        )),
    }
}

/// Parses `k=v,k2=v2`; a value `${NAME}` or `${NAME:default}` is read from the environment.
///
/// As jaeger-client-go's `parseTags` (config/config_env.go): an unset or empty `NAME` takes
/// the default, and `${NAME:}` asks for an empty value. Without a default, jaeger-client-go
/// stops the program (it indexes the missing default, a panic at start-up); here an unset or
/// empty `NAME` is an error naming it, rather than a tag with an empty value that no one asked
/// for (a pod's name missing from every span of a misconfigured deployment).
fn parse_tags(
    text: &str,
    var: &impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, TagValue)>, Error> {
    let mut tags = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (key, value) = item
            .split_once('=')
            .map(|(k, v)| (k.trim(), v.trim()))
            .filter(|(k, _)| !k.is_empty())
            .ok_or_else(|| invalid("JAEGER_TAGS", text, format!("{item:?} is not key=value")))?;
        let value = match value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
            Some(reference) => {
                let (name, default) = match reference.split_once(':') {
                    Some((name, default)) => (name, Some(default)),
                    None => (reference, None),
                };
                if name.is_empty() {
                    return Err(invalid(
                        "JAEGER_TAGS",
                        text,
                        format!("{item:?} names no variable"),
                    ));
                }
                match (var(name).filter(|v| !v.is_empty()), default) {
                    (Some(value), _) => value,
                    (None, Some(default)) => default.to_owned(),
                    (None, None) => {
                        return Err(invalid(
                            "JAEGER_TAGS",
                            text,
                            format!(
                                "{item:?}: {name} is unset or empty; \
                                 write ${{{name}:default}} to give a value for that case"
                            ),
                        ))
                    }
                }
            }
            None => value.to_owned(),
        };
        tags.push((key.to_owned(), TagValue::from(value)));
    }
    Ok(tags)
}

/// A test's environment: the configuration its variables make, or its error's text (shared by
/// the tests of the `JAEGER_*` and the `OTEL_*` variables).
#[cfg(test)]
pub(super) mod test_vars {
    use std::collections::HashMap;

    use crate::config::Config;
    use crate::error::Error;

    pub(in crate::config) fn from(vars: &[(&str, &str)]) -> Result<Config, Error> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    pub(in crate::config) fn error(vars: &[(&str, &str)]) -> String {
        from(vars).unwrap_err().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::test_vars::{error, from};
    use super::*;

    #[test]
    fn reads_every_jaeger_variable() {
        let config = from(&[
            ("JAEGER_SERVICE_NAME", "gallery"),
            ("JAEGER_AGENT_HOST", "jaeger-agent"),
            ("JAEGER_AGENT_PORT", "6900"),
            ("JAEGER_SAMPLER_TYPE", "probabilistic"),
            ("JAEGER_SAMPLER_PARAM", "0.25"),
            (
                "JAEGER_TAGS",
                "region=eu, pod=${POD_NAME:unknown}, user=${USER_X}",
            ),
            ("USER_X", "alice"),
            ("JAEGER_DISABLED", "false"),
        ])
        .unwrap();
        assert_eq!(config.service_name, "gallery");
        assert!(
            matches!(&config.destination, Destination::Agent { address, .. } if address == "jaeger-agent:6900")
        );
        assert_eq!(
            format!("{:?}", config.sampler),
            "Sampler::probabilistic(0.25)"
        );
        assert_eq!(
            config.tags,
            vec![
                ("region".to_owned(), TagValue::from("eu")),
                ("pod".to_owned(), TagValue::from("unknown")),
                ("user".to_owned(), TagValue::from("alice")),
            ]
        );
        assert!(!config.disabled);
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let config = from(&[]).unwrap();
        assert!(!config.service_name.is_empty());
        assert!(
            matches!(&config.destination, Destination::Agent { address, .. } if address == "127.0.0.1:6831")
        );
        assert_eq!(format!("{:?}", config.sampler), "Sampler::const(true)");
        assert!(from(&[("JAEGER_DISABLED", "true")]).unwrap().disabled);
        assert_eq!(
            format!(
                "{:?}",
                from(&[("JAEGER_SAMPLER_PARAM", "0")]).unwrap().sampler
            ),
            "Sampler::const(false)"
        );
    }

    #[test]
    fn bad_values_name_the_variable_and_the_value() {
        assert_eq!(
            error(&[("JAEGER_AGENT_PORT", "68x1")]),
            "JAEGER_AGENT_PORT=\"68x1\" is invalid: expected a port number from 1 to 65535"
        );
        assert!(error(&[("JAEGER_AGENT_PORT", "70000")]).starts_with("JAEGER_AGENT_PORT=\"70000\""));
        assert!(error(&[("JAEGER_SAMPLER_TYPE", "remote")])
            .starts_with("JAEGER_SAMPLER_TYPE=\"remote\" is invalid"));
        assert!(error(&[("JAEGER_SAMPLER_PARAM", "lots")])
            .starts_with("JAEGER_SAMPLER_PARAM=\"lots\" is invalid"));
        assert!(error(&[
            ("JAEGER_SAMPLER_TYPE", "probabilistic"),
            ("JAEGER_SAMPLER_PARAM", "2")
        ])
        .starts_with("JAEGER_SAMPLER_PARAM=\"2\" is invalid: sampling probability 2"));
        assert!(
            error(&[("JAEGER_SAMPLER_PARAM", "0.5")]).contains("the const sampler takes 0 or 1")
        );
        assert!(error(&[("JAEGER_DISABLED", "yes please")])
            .starts_with("JAEGER_DISABLED=\"yes please\""));
        assert!(error(&[("JAEGER_TAGS", "a=1,oops")]).contains("\"oops\" is not key=value"));
        assert!(error(&[("JAEGER_TAGS", "a=${:x}")]).contains("names no variable"));
    }

    #[test]
    fn collector_and_reporter_variables() {
        let config = from(&[
            ("JAEGER_ENDPOINT", "http://jaeger:14268/api/traces"),
            ("JAEGER_USER", "ann"),
            ("JAEGER_PASSWORD", "secret"),
            ("JAEGER_REPORTER_MAX_QUEUE_SIZE", "100"),
            ("JAEGER_REPORTER_FLUSH_INTERVAL", "1m30.5s"),
            ("JAEGER_REPORTER_LOG_SPANS", "true"),
        ])
        .unwrap();
        assert!(matches!(
            &config.destination,
            Destination::Collector { endpoint, auth: Auth::Basic { user, password } }
                if endpoint == "http://jaeger:14268/api/traces" && user == "ann" && password == "secret"
        ));
        assert_eq!(config.queue_size, 100);
        assert_eq!(config.flush_interval, Duration::from_millis(90_500));
        assert!(config.log_spans);
        let bearer = from(&[
            ("JAEGER_ENDPOINT", "http://c/api/traces"),
            ("JAEGER_AUTH_TOKEN", "t0k3n"),
        ])
        .unwrap();
        assert!(
            matches!(&bearer.destination, Destination::Collector { auth: Auth::Bearer(t), .. } if t == "t0k3n")
        );
        assert_eq!(
            from(&[("JAEGER_REPORTER_FLUSH_INTERVAL", "250ms")])
                .unwrap()
                .flush_interval,
            Duration::from_millis(250)
        );
    }

    #[test]
    fn bad_collector_and_reporter_values_name_the_variable_and_the_value() {
        assert!(
            error(&[("JAEGER_ENDPOINT", "https://jaeger/api/traces")]).starts_with(
                "JAEGER_ENDPOINT=\"https://jaeger/api/traces\" is invalid: https is not supported"
            )
        );
        assert!(error(&[("JAEGER_ENDPOINT", "jaeger:14268")])
            .starts_with("JAEGER_ENDPOINT=\"jaeger:14268\" is invalid: expected http://"));
        assert!(
            error(&[("JAEGER_ENDPOINT", "http://c/"), ("JAEGER_USER", "ann")])
                .starts_with("JAEGER_USER=\"ann\" is invalid: JAEGER_PASSWORD must be set")
        );
        let password = error(&[
            ("JAEGER_ENDPOINT", "http://c/"),
            ("JAEGER_PASSWORD", "hunter2"),
        ]);
        assert!(!password.contains("hunter2"), "{password}");
        assert_eq!(
            error(&[("JAEGER_REPORTER_MAX_QUEUE_SIZE", "lots")]),
            "JAEGER_REPORTER_MAX_QUEUE_SIZE=\"lots\" is invalid: expected a number of spans from 1 to 1048576"
        );
        assert!(error(&[("JAEGER_REPORTER_MAX_QUEUE_SIZE", "0")]).contains("from 1"));
        assert_eq!(
            error(&[("JAEGER_REPORTER_FLUSH_INTERVAL", "soon")]),
            "JAEGER_REPORTER_FLUSH_INTERVAL=\"soon\" is invalid: expected a duration such as 1s or 500ms"
        );
        assert!(error(&[("JAEGER_REPORTER_FLUSH_INTERVAL", "10")]).contains("expected a duration"));
        assert!(error(&[("JAEGER_REPORTER_FLUSH_INTERVAL", "0s")]).contains("expected a duration"));
        assert!(error(&[("JAEGER_REPORTER_LOG_SPANS", "loud")])
            .starts_with("JAEGER_REPORTER_LOG_SPANS=\"loud\""));
    }

    #[test]
    fn a_tag_naming_an_unset_variable_without_a_default_is_an_error_naming_it() {
        for vars in [
            &[("JAEGER_TAGS", "region=eu,pod=${POD_NAME}")][..],
            &[
                ("JAEGER_TAGS", "region=eu,pod=${POD_NAME}"),
                ("POD_NAME", ""),
            ],
        ] {
            assert_eq!(
                error(vars),
                "JAEGER_TAGS=\"region=eu,pod=${POD_NAME}\" is invalid: \"pod=${POD_NAME}\": \
                 POD_NAME is unset or empty; write ${POD_NAME:default} to give a value for that case"
            );
        }
    }

    #[test]
    fn a_tag_naming_an_unset_or_empty_variable_takes_its_default_as_jaeger_client_go_does() {
        let tags = |vars: &[(&str, &str)]| from(vars).unwrap().tags;
        let pod = |value: &str| vec![("pod".to_owned(), TagValue::from(value.to_owned()))];
        assert_eq!(
            tags(&[("JAEGER_TAGS", "pod=${POD_NAME:unknown}")]),
            pod("unknown")
        );
        assert_eq!(
            tags(&[("JAEGER_TAGS", "pod=${POD_NAME:unknown}"), ("POD_NAME", "")]),
            pod("unknown")
        );
        assert_eq!(
            tags(&[
                ("JAEGER_TAGS", "pod=${POD_NAME:unknown}"),
                ("POD_NAME", "api-7")
            ]),
            pod("api-7")
        );
        // An empty default is asked for, so an empty value is what was meant.
        assert_eq!(tags(&[("JAEGER_TAGS", "pod=${POD_NAME:}")]), pod(""));
    }

    #[test]
    fn flush_intervals_read_gos_duration_syntax() {
        assert_eq!(
            parse_duration("1m30.5s"),
            Some(Duration::from_millis(90_500))
        );
        assert_eq!(parse_duration(" 250ms "), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("1h2us"), Some(Duration::new(3600, 2_000)));
        assert_eq!(parse_duration("3µs"), Some(Duration::from_micros(3)));
        assert_eq!(parse_duration("10"), None, "a unit is needed");
        assert_eq!(parse_duration("5d"), None, "Go has no days");
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn ipv6_agent_hosts_get_brackets() {
        let config = from(&[("JAEGER_AGENT_HOST", "::1")]).unwrap();
        assert!(
            matches!(&config.destination, Destination::Agent { address, .. } if address == "[::1]:6831")
        );
    }
}
