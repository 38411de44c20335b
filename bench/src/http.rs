//! The framing of the hello-world HTTP/1.1 keep-alive servers: find the
//! complete requests in what was read, and the fixed response to each.
//!
//! Every HTTP server (bureau, smol, tokio, raw `polling`) calls the same
//! code here, so they differ only in their runtime; the hyper servers share
//! [`hyper_hello`], the same response through hyper. It must never do I/O.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use std::convert::Infallible;

/// The response to every request.
pub const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, world!";

/// The hyper servers' service: [`RESPONSE`]'s status, body and
/// `Content-Type` for every request (hyper adds `Content-Length` and
/// `Date`).
pub async fn hyper_hello<B>(
    _request: hyper::Request<B>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(b"Hello, world!")));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(response)
}

/// Counts the complete requests (headers ending in a blank line; the
/// benchmark sends no bodies) in `buf[..filled]`, moves the unfinished rest
/// to the front of `buf`, and returns the count and the rest's length.
///
/// A rest as long as `buf` means a request too large to frame: close the
/// connection.
pub fn take_requests(buf: &mut [u8], filled: usize) -> (usize, usize) {
    let mut count = 0;
    let mut consumed = 0;
    while let Some(end) = find_blank_line(&buf[consumed..filled]) {
        consumed += end;
        count += 1;
    }
    buf.copy_within(consumed..filled, 0);
    (count, filled - consumed)
}

/// The index just past the first `\r\n\r\n` in `bytes`.
fn find_blank_line(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_whole_requests_and_keeps_the_rest() {
        let mut buf = [0u8; 64];
        let input = b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\nGET /";
        buf[..input.len()].copy_from_slice(input);
        let (count, rest) = take_requests(&mut buf, input.len());
        assert_eq!((count, rest), (2, 5));
        assert_eq!(&buf[..rest], b"GET /");
    }
}
