//! `Content-Encoding: aws-chunked` bodies, which the AWS CLI v2 and current
//! SDKs send for streaming uploads (`x-amz-content-sha256:
//! STREAMING-UNSIGNED-PAYLOAD-TRAILER` or `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`).
//!
//! The wire form is `hex-size[;chunk-signature=..]\r\n data \r\n` repeated,
//! a zero-size chunk, then optional trailer lines (`x-amz-checksum-crc32:..`)
//! and a blank line. [`Decoder`] is fed the body as it arrives and hands
//! back the payload bytes; it holds at most one header/trailer line, never
//! the payload. Signatures are not checked (Lamina has no auth yet).

use bytes::{Buf, Bytes, BytesMut};

/// Longest chunk header or trailer line accepted.
const MAX_LINE: usize = 4096;

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Reading a `size[;ext]` line.
    Size,
    /// Inside a chunk's data, this many bytes left.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// After the last (zero) chunk: trailer lines until a blank one.
    Trailers,
    Done,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed aws-chunked body: {0}")]
pub struct ChunkError(&'static str);

pub struct Decoder {
    state: State,
    line: BytesMut,
    pending: BytesMut,
    /// Trailer headers, lowercase names.
    pub trailers: Vec<(String, String)>,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    pub fn new() -> Self {
        Self { state: State::Size, line: BytesMut::new(), pending: BytesMut::new(), trailers: Vec::new() }
    }

    /// Feeds the next piece of the body; returns the payload bytes in it.
    pub fn feed(&mut self, input: Bytes) -> Result<Vec<Bytes>, ChunkError> {
        let mut out = Vec::new();
        let mut input = input;
        if !self.pending.is_empty() {
            self.pending.extend_from_slice(&input);
            input = self.pending.split().freeze();
        }
        while input.has_remaining() {
            match self.state {
                State::Data(left) => {
                    let take = (left.min(input.len() as u64)) as usize;
                    out.push(input.split_to(take));
                    let left = left - take as u64;
                    self.state = if left == 0 { State::DataEnd } else { State::Data(left) };
                }
                State::DataEnd => {
                    if input.len() < 2 {
                        self.pending.extend_from_slice(&input);
                        break;
                    }
                    if &input[..2] != b"\r\n" {
                        return Err(ChunkError("chunk data not followed by CRLF"));
                    }
                    input.advance(2);
                    self.state = State::Size;
                }
                State::Size | State::Trailers => {
                    let Some(line) = self.take_line(&mut input)? else { break };
                    self.on_line(&line)?;
                }
                State::Done => return Err(ChunkError("data after the end of the body")),
            }
        }
        Ok(out)
    }

    /// Checks the body ended where the encoding says it ends.
    pub fn finish(&self) -> Result<(), ChunkError> {
        // Some clients end with the zero chunk and no trailer section.
        if self.state == State::Done || (self.state == State::Trailers && self.line.is_empty()) {
            Ok(())
        } else {
            Err(ChunkError("body ended inside a chunk"))
        }
    }

    /// The next complete line (without CRLF), or `None` when `input` ran out first.
    fn take_line(&mut self, input: &mut Bytes) -> Result<Option<Vec<u8>>, ChunkError> {
        match input.iter().position(|&b| b == b'\n') {
            Some(i) => {
                self.line.extend_from_slice(&input[..i]);
                input.advance(i + 1);
                let mut line = self.line.split().to_vec();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                Ok(Some(line))
            }
            None => {
                self.line.extend_from_slice(input);
                input.advance(input.len());
                if self.line.len() > MAX_LINE {
                    return Err(ChunkError("line too long"));
                }
                Ok(None)
            }
        }
    }

    fn on_line(&mut self, line: &[u8]) -> Result<(), ChunkError> {
        let line = std::str::from_utf8(line).map_err(|_| ChunkError("line is not UTF-8"))?;
        if self.state == State::Trailers {
            if line.is_empty() {
                self.state = State::Done;
            } else {
                let (name, value) = line.split_once(':').ok_or(ChunkError("trailer without a colon"))?;
                self.trailers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
            }
            return Ok(());
        }
        let size = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size, 16).map_err(|_| ChunkError("chunk size is not hex"))?;
        self.state = if size == 0 { State::Trailers } else { State::Data(size) };
        Ok(())
    }
}

/// Whether a request body is aws-chunked.
pub fn is_aws_chunked(headers: &http::HeaderMap) -> bool {
    let encoded = headers
        .get(http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().eq_ignore_ascii_case("aws-chunked")));
    let streaming =
        headers.get("x-amz-content-sha256").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("STREAMING-"));
    encoded || streaming
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const BODY: &[u8] = b"5;chunk-signature=abc\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";

    fn decode_in_pieces(body: &[u8], piece: usize) -> (Vec<u8>, Decoder) {
        let mut d = Decoder::new();
        let mut out = Vec::new();
        for chunk in body.chunks(piece) {
            for b in d.feed(Bytes::copy_from_slice(chunk)).unwrap() {
                out.extend_from_slice(&b);
            }
        }
        d.finish().unwrap();
        (out, d)
    }

    #[test]
    fn decodes_whatever_the_split() {
        for piece in 1..BODY.len() {
            let (out, d) = decode_in_pieces(BODY, piece);
            assert_eq!(out, b"hello world", "piece {piece}");
            assert_eq!(d.trailers, vec![("x-amz-checksum-crc32".to_string(), "DUoRhQ==".to_string())]);
        }
    }

    #[test]
    fn rejects_malformed_bodies() {
        let mut d = Decoder::new();
        assert!(d.feed(Bytes::from_static(b"zz\r\n")).is_err());
        let mut d = Decoder::new();
        assert!(d.feed(Bytes::from_static(b"2\r\nabXX")).is_err());
        let mut d = Decoder::new();
        d.feed(Bytes::from_static(b"5\r\nhel")).unwrap();
        assert!(d.finish().is_err());
    }
}
