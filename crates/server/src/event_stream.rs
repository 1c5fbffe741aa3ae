//! AWS event-stream framing (`application/vnd.amazon.eventstream`), the
//! body of InvokeWithResponseStream, as botocore's `eventstream.py` reads it:
//!
//! ```text
//! total length u32 | headers length u32 | prelude CRC32 u32
//! headers: name length u8, name, type 7 (string), value length u16, value
//! payload
//! message CRC32 u32 (of everything before it)
//! ```
//!
//! Only string headers are written; Lambda's events need no others.

use bytes::{BufMut, Bytes, BytesMut};

/// Header value type 7: a UTF-8 string with a u16 length.
const STRING_HEADER: u8 = 7;
/// Prelude (12 bytes) and message CRC (4 bytes).
const FRAMING_BYTES: usize = 16;

/// One encoded message.
pub fn message(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    let headers_len: usize = headers.iter().map(|(name, value)| 1 + name.len() + 1 + 2 + value.len()).sum();
    let total = FRAMING_BYTES + headers_len + payload.len();
    let mut out = BytesMut::with_capacity(total);
    out.put_u32(total as u32);
    out.put_u32(headers_len as u32);
    out.put_u32(crc32fast::hash(&out[..8]));
    for (name, value) in headers {
        // Names and values here are our own constants and short strings.
        out.put_u8(name.len() as u8);
        out.put_slice(name.as_bytes());
        out.put_u8(STRING_HEADER);
        out.put_u16(value.len() as u16);
        out.put_slice(value.as_bytes());
    }
    out.put_slice(payload);
    out.put_u32(crc32fast::hash(&out));
    out.freeze()
}

/// Lambda's `PayloadChunk` event: raw bytes of the function's response.
pub fn payload_chunk(bytes: &[u8]) -> Bytes {
    message(
        &[(":event-type", "PayloadChunk"), (":content-type", "application/octet-stream"), (":message-type", "event")],
        bytes,
    )
}

/// What ends an InvokeWithResponseStream body.
#[derive(Debug, Default, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InvokeComplete {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_details: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_result: Option<String>,
}

/// Lambda's `InvokeComplete` event, a JSON payload.
pub fn invoke_complete(done: &InvokeComplete) -> Bytes {
    let json = serde_json::to_vec(done).unwrap_or_else(|_| b"{}".to_vec());
    message(
        &[(":event-type", "InvokeComplete"), (":content-type", "application/json"), (":message-type", "event")],
        &json,
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // Known messages from botocore's tests/unit/test_eventstream.py.
    #[test]
    fn empty_message() {
        assert_eq!(&message(&[], b"")[..], b"\x00\x00\x00\x10\x00\x00\x00\x00\x05\xc2H\xeb}\x98\xc8\xff");
    }

    #[test]
    fn payload_without_headers() {
        assert_eq!(
            &message(&[], b"{'foo':'bar'}")[..],
            b"\x00\x00\x00\x1d\x00\x00\x00\x00\xfdR\x8cZ{'foo':'bar'}\xc3e96"
        );
    }

    #[test]
    fn payload_with_one_string_header() {
        assert_eq!(
            &message(&[("content-type", "application/json")], b"{'foo':'bar'}")[..],
            &b"\x00\x00\x00=\x00\x00\x00 \x07\xfd\x83\x96\x0ccontent-type\x07\x00\x10application/json{'foo':'bar'}\x8d\x9c\x08\xb1"[..]
        );
    }

    #[test]
    fn error_message_headers() {
        let expected: &[u8] = b"\x00\x00\x00\x52\x00\x00\x00\x42\xbf\x23\x63\x7e\x0d:message-type\x07\x00\x05error\x0b:error-code\x07\x00\x04code\x0e:error-message\x07\x00\x07message\x6b\x6c\xea\x3d";
        assert_eq!(
            &message(&[(":message-type", "error"), (":error-code", "code"), (":error-message", "message")], b"")[..],
            expected
        );
    }

    #[test]
    fn initial_response_event() {
        let expected: &[u8] = b"\x00\x00\x00~\x00\x00\x00O\xc5\xa3\xdd\xc6\r:message-type\x07\x00\x05event\x0b:event-type\x07\x00\x10initial-response\r:content-type\x07\x00\ttext/json{\"InitialResponse\": \"sometext\"}\xf6\x98$\x83";
        let got = message(
            &[(":message-type", "event"), (":event-type", "initial-response"), (":content-type", "text/json")],
            b"{\"InitialResponse\": \"sometext\"}",
        );
        assert_eq!(&got[..], expected);
    }

    #[test]
    fn invoke_complete_omits_absent_fields() {
        let m = invoke_complete(&InvokeComplete { error_code: Some("Unhandled".into()), ..Default::default() });
        let headers_len = u32::from_be_bytes(m[4..8].try_into().unwrap()) as usize;
        let payload = &m[12 + headers_len..m.len() - 4];
        assert_eq!(payload, br#"{"ErrorCode":"Unhandled"}"#);
        assert_eq!(u32::from_be_bytes(m[0..4].try_into().unwrap()) as usize, m.len());
    }
}
