//! Durations as Jaeger's query API and UI write them (`minDuration=1.2s`, `lookback=2d`): Go's
//! syntax plus `d` for days. Read here, not by traced: a client's `JAEGER_*` variables take
//! Go's syntax alone, and the query API is the collector's own surface.

use std::time::Duration;

/// Parses a number and a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), possibly fractional,
/// possibly several (`1m30.5s`), or a number of days alone (`2d`, Jaeger's lookbacks).
///
/// ```
/// use std::time::Duration;
/// use traced_collector::duration::parse;
///
/// assert_eq!(parse("1m30.5s"), Some(Duration::from_millis(90_500)));
/// assert_eq!(parse("2d"), Some(Duration::from_secs(2 * 86_400)));
/// assert_eq!(parse("10"), None, "a unit is needed");
/// ```
pub fn parse(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if let Some(days) = rest.strip_suffix('d').and_then(|d| d.parse::<f64>().ok()) {
        return Duration::try_from_secs_f64(days * 86_400.0).ok();
    }
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

#[cfg(test)]
mod tests {
    use super::parse;
    use std::time::Duration;

    #[test]
    fn go_durations_and_days_parse_and_anything_else_does_not() {
        assert_eq!(parse(" 250ms "), Some(Duration::from_millis(250)));
        assert_eq!(parse("1h2us"), Some(Duration::new(3600, 2_000)));
        assert_eq!(parse("3µs"), Some(Duration::from_micros(3)));
        assert_eq!(parse("0.5d"), Some(Duration::from_secs(43_200)));
        for bad in ["", "10", "d", "1w", "1h2d", "-1s"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }
}
