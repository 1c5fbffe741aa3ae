//! Streamed `/response` as a runtime sends it: a chunked body written over
//! a raw TCP stream, read by the scheduler's side chunk by chunk.

#![allow(clippy::unwrap_used)]

use bytes::Bytes;
use lamina_runtime::{Invocation, Outcome, RuntimeApi, StreamEvent};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn invocation(id: &str) -> Invocation {
    Invocation {
        request_id: id.into(),
        payload: Bytes::from_static(b"{}"),
        deadline_ms: 1_900_000_000_000,
        invoked_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
        trace_id: "Root=1-00000000-000000000000000000000000;Sampled=0".into(),
        client_context: None,
        cognito_identity: None,
    }
}

/// Fetches the invocation with `/next` on `s` (which stays open).
fn next(s: &mut TcpStream) {
    s.write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
}

fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

const STREAM_HEAD: &str = "POST /2018-06-01/runtime/invocation/req/response HTTP/1.1\r\nHost: x\r\n\
    Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\
    Content-Type: text/plain\r\nTrailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n";

#[tokio::test(flavor = "multi_thread")]
async fn chunks_reach_the_caller_before_the_body_ends() {
    let (api, link, _init) = RuntimeApi::start(None).await.unwrap();
    let addr = api.address();
    let rx = link.dispatch(invocation("req"));
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let runtime = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        next(&mut s);
        s.write_all(STREAM_HEAD.as_bytes()).unwrap();
        s.write_all(&chunk(b"one")).unwrap();
        // The second chunk waits until the caller has seen the first.
        go_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        s.write_all(&chunk(b"two")).unwrap();
        s.write_all(b"0\r\n\r\n").unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    });
    let Outcome::Streamed(mut stream) = rx.await.unwrap() else { panic!("not a stream") };
    assert_eq!(stream.content_type.as_deref(), Some("text/plain"));
    assert_eq!(stream.next().await, Some(StreamEvent::Data(Bytes::from_static(b"one"))));
    go_tx.send(()).unwrap();
    assert_eq!(stream.next().await, Some(StreamEvent::Data(Bytes::from_static(b"two"))));
    assert_eq!(stream.next().await, Some(StreamEvent::Finished));
    assert_eq!(stream.next().await, None);
    assert!(runtime.await.unwrap().starts_with("HTTP/1.1 202"));
}

#[tokio::test(flavor = "multi_thread")]
async fn error_trailers_end_the_stream_with_a_failure() {
    let (api, link, _init) = RuntimeApi::start(None).await.unwrap();
    let addr = api.address();
    let rx = link.dispatch(invocation("req"));
    let runtime = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        next(&mut s);
        s.write_all(STREAM_HEAD.as_bytes()).unwrap();
        s.write_all(&chunk(b"partial")).unwrap();
        // base64 of {"errorMessage":"boom","errorType":"Boom"}
        s.write_all(
            b"0\r\nLambda-Runtime-Function-Error-Type: Boom\r\n\
              Lambda-Runtime-Function-Error-Body: eyJlcnJvck1lc3NhZ2UiOiJib29tIiwiZXJyb3JUeXBlIjoiQm9vbSJ9\r\n\r\n",
        )
        .unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    });
    let Outcome::Streamed(mut stream) = rx.await.unwrap() else { panic!("not a stream") };
    assert_eq!(stream.next().await, Some(StreamEvent::Data(Bytes::from_static(b"partial"))));
    assert_eq!(
        stream.next().await,
        Some(StreamEvent::Failed {
            error_type: Some("Boom".into()),
            body: Bytes::from_static(br#"{"errorMessage":"boom","errorType":"Boom"}"#),
        })
    );
    assert_eq!(stream.next().await, None);
    assert!(runtime.await.unwrap().starts_with("HTTP/1.1 202"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_for_another_request_id_is_refused() {
    let (api, link, _init) = RuntimeApi::start(None).await.unwrap();
    let addr = api.address();
    let _rx = link.dispatch(invocation("req"));
    let reply = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        next(&mut s);
        s.write_all(STREAM_HEAD.replace("/req/", "/other/").as_bytes()).unwrap();
        s.write_all(b"0\r\n\r\n").unwrap();
        let mut buf = [0u8; 1024];
        let n = s.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    })
    .await
    .unwrap();
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    assert!(reply.contains("InvalidRequestID"));
}
