//! The small HTTP/1.1 client the HTTP sinks share (the Jaeger collector's and OTLP's): one
//! `POST` at a time over `std::net`, from the reporter thread, bounded in time and in what it
//! reads back.
//!
//! The reporter thread is synchronous and sends one request at a time, so it needs nothing more
//! (plain `http://`; put a TLS-terminating proxy or an agent in front of an `https://` backend).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::collector::Endpoint;

/// Most bytes of an answer read (status line, headers and body together).
const MAX_ANSWER: u64 = 64 * 1024;

/// What the backend answered.
#[derive(Debug)]
// The Jaeger collector sink reads the status alone; OTLP's reads the rest too.
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) struct Answer {
    pub(crate) status: u16,
    /// How long `Retry-After` asks to wait (seconds, or until an HTTP date), when the answer
    /// carries one.
    pub(crate) retry_after: Option<Duration>,
    /// The body, as far as it was read (bounded).
    pub(crate) body: Vec<u8>,
}

/// Resolves the endpoint's host now.
pub(crate) fn resolve(endpoint: &Endpoint) -> io::Result<Vec<SocketAddr>> {
    let addresses: Vec<SocketAddr> = (endpoint.host.as_str(), endpoint.port)
        .to_socket_addrs()?
        .collect();
    if addresses.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            "the host resolved to nothing",
        ));
    }
    Ok(addresses)
}

/// One `POST` of `body` to `endpoint` with the given headers (besides `Host`,
/// `Content-Length`, `Connection` and `User-Agent`), each step bounded by `timeout`: the
/// answer, or why there was none.
pub(crate) fn post(
    endpoint: &Endpoint,
    timeout: Duration,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Answer> {
    let addresses = resolve(endpoint)?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host resolved to nothing");
    let mut stream = None;
    for address in addresses {
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let mut stream = stream.ok_or(last)?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    let mut head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\
         User-Agent: traced/{}\r\n",
        endpoint.path,
        endpoint.host_header(),
        body.len(),
        env!("CARGO_PKG_VERSION"),
    );
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()?;
    read_answer(BufReader::new(stream.take(MAX_ANSWER)))
}

/// Reads the status line, the headers that matter and the body (by `Content-Length`, chunked,
/// or up to the close); the rest is read and dropped so the backend is not cut off mid-write.
fn read_answer(mut reader: impl BufRead) -> io::Result<Answer> {
    let mut status = String::new();
    reader.read_line(&mut status)?;
    let code = status
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|_| status.starts_with("HTTP/"))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "not an HTTP answer: {:?}",
                    status.chars().take(64).collect::<String>()
                ),
            )
        })?;
    let (mut length, mut chunked, mut retry_after) = (None, false, None);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.parse::<u64>().ok(),
            "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
            "retry-after" => {
                retry_after = match value.parse::<u64>() {
                    Ok(seconds) => Some(Duration::from_secs(seconds)),
                    Err(_) => http_date(value).map(|at| {
                        at.duration_since(SystemTime::now())
                            .unwrap_or(Duration::ZERO)
                    }),
                }
            }
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            if reader.read_line(&mut size)? == 0 {
                break;
            }
            let size = size.trim().split(';').next().unwrap_or_default();
            let size = u64::from_str_radix(size, 16)
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "a bad chunk size"))?;
            if size == 0 {
                break;
            }
            (&mut reader).take(size).read_to_end(&mut body)?;
            let mut end = String::new();
            reader.read_line(&mut end)?;
        }
    } else if let Some(length) = length {
        (&mut reader).take(length).read_to_end(&mut body)?;
    } else {
        reader.read_to_end(&mut body)?;
    }
    let _ = io::copy(&mut reader, &mut io::sink());
    Ok(Answer {
        status: code,
        retry_after,
        body,
    })
}

/// An HTTP date in its one current form (IMF-fixdate, `Sun, 06 Nov 1994 08:49:37 GMT`).
fn http_date(text: &str) -> Option<SystemTime> {
    let mut parts = text.split_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = parts.next()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == month)? as u64
        + 1;
    let year: u64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':').map(|n| n.parse::<u64>().ok());
    let (h, m, s) = (clock.next()??, clock.next()??, clock.next()??);
    if parts.next()? != "GMT"
        || !(1..=31).contains(&day)
        || year < 1970
        || h > 23
        || m > 59
        || s > 60
    {
        return None;
    }
    // Days since the epoch of a civil date (Howard Hinnant's algorithm), years from March.
    let (y, mp) = if month > 2 {
        (year, month - 3)
    } else {
        (year - 1, month + 9)
    };
    let era = y / 400;
    let yoe = y % 400;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(UNIX_EPOCH + Duration::from_secs(days * 86_400 + h * 3600 + m * 60 + s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_by_length_chunked_or_to_the_close() {
        let by_length = read_answer(
            &b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\ncontent-length: 3\r\n\r\nabcdef"
                [..],
        )
        .unwrap();
        assert_eq!(by_length.status, 429);
        assert_eq!(by_length.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(by_length.body, b"abc");
        let chunked = read_answer(
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n"[..],
        )
        .unwrap();
        assert_eq!(
            (chunked.status, chunked.body.as_slice()),
            (200, &b"abcde"[..])
        );
        let closed = read_answer(&b"HTTP/1.0 200 OK\r\n\r\nall of it"[..]).unwrap();
        assert_eq!(closed.body, b"all of it");
        assert_eq!(closed.retry_after, None);
        // A date gone by: retry now; one far ahead: wait (the sink caps the wait).
        let past = read_answer(
            &b"HTTP/1.1 503 x\r\nRetry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\n\r\n"[..],
        )
        .unwrap();
        assert_eq!(past.retry_after, Some(Duration::ZERO));
        let ahead = read_answer(
            &b"HTTP/1.1 503 x\r\nRetry-After: Fri, 01 Jan 2100 00:00:00 GMT\r\n\r\n"[..],
        )
        .unwrap();
        assert!(ahead.retry_after.unwrap() > Duration::from_secs(50 * 365 * 86_400));
        assert!(read_answer(&b"SSH-2.0-OpenSSH\r\n"[..])
            .unwrap_err()
            .to_string()
            .contains("not an HTTP answer"));
    }

    #[test]
    fn http_dates_are_read() {
        let unix = |text| http_date(text).map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs());
        assert_eq!(unix("Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(unix("Wed, 21 Oct 2015 07:28:00 GMT"), Some(1_445_412_480));
        assert_eq!(unix("Thu, 29 Feb 2024 23:59:59 GMT"), Some(1_709_251_199));
        assert_eq!(unix("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(unix("Sun, 06 Nov 1994 08:49:37 PST"), None);
        assert_eq!(unix("Sunday, 06-Nov-94 08:49:37 GMT"), None);
        assert_eq!(unix("Sun, 06 Nov 1994 25:49:37 GMT"), None);
    }
}
