//! The Runtime API as a runtime sees it: a real loopback listener, plain
//! HTTP/1.1 over a TCP stream.

use bytes::Bytes;
use lamina_runtime::{InitOutcome, Invocation, Outcome, RuntimeApi};
use std::io::{Read, Write};
use std::net::TcpStream;

fn http(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    // Read until the headers and the announced body are in.
    loop {
        let n = s.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&out);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length: ").map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if body.len() >= len {
                break;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn invocation(id: &str) -> Invocation {
    Invocation {
        request_id: id.into(),
        payload: Bytes::from_static(b"{\"x\":1}"),
        deadline_ms: 1_900_000_000_000,
        invoked_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
        trace_id: "Root=1-00000000-000000000000000000000000;Sampled=0".into(),
        client_context: Some("e30=".into()),
        cognito_identity: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn next_carries_the_event_and_its_headers_and_response_resolves_the_outcome() {
    let (api, link, init) = RuntimeApi::start(None).await.unwrap();
    let addr = api.address();
    let rx = link.dispatch(invocation("req-1"));
    let a = addr.clone();
    let next = tokio::task::spawn_blocking(move || {
        http(&a, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
    });
    assert_eq!(init.await.unwrap(), InitOutcome::Ready);
    let next = next.await.unwrap().to_ascii_lowercase();
    assert!(next.starts_with("http/1.1 200"), "{next}");
    for h in [
        "content-type: application/json",
        "lambda-runtime-aws-request-id: req-1",
        "lambda-runtime-deadline-ms: 1900000000000",
        "lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:000000000000:function:f",
        "lambda-runtime-trace-id: root=1-",
        "lambda-runtime-client-context: e30=",
    ] {
        assert!(next.contains(h), "missing {h} in {next}");
    }
    assert!(next.ends_with("{\"x\":1}"));

    // Another request id is refused; the right one is accepted.
    let a = addr.clone();
    let wrong = tokio::task::spawn_blocking(move || {
        http(
            &a,
            "POST /2018-06-01/runtime/invocation/other/response HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nno",
        )
    })
    .await
    .unwrap();
    assert!(wrong.starts_with("HTTP/1.1 400"), "{wrong}");
    let a = addr.clone();
    let ok = tokio::task::spawn_blocking(move || {
        http(
            &a,
            "POST /2018-06-01/runtime/invocation/req-1/response HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n\"ok\"",
        )
    })
    .await
    .unwrap();
    assert!(ok.starts_with("HTTP/1.1 202"), "{ok}");
    assert_eq!(rx.await.unwrap(), Outcome::Response(Bytes::from_static(b"\"ok\"")));
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_keep_their_type_header() {
    let (api, link, _init) = RuntimeApi::start(None).await.unwrap();
    let addr = api.address();
    let rx = link.dispatch(invocation("req-2"));
    let a = addr.clone();
    tokio::task::spawn_blocking(move || {
        http(&a, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
    })
    .await
    .unwrap();
    let body = r#"{"errorMessage":"boom","errorType":"ValueError"}"#;
    let req = format!(
        "POST /2018-06-01/runtime/invocation/req-2/error HTTP/1.1\r\nHost: x\r\nLambda-Runtime-Function-Error-Type: ValueError\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let reply = tokio::task::spawn_blocking(move || http(&addr, &req)).await.unwrap();
    assert!(reply.starts_with("HTTP/1.1 202"), "{reply}");
    assert_eq!(rx.await.unwrap(), Outcome::Error { error_type: Some("ValueError".into()), body: Bytes::from(body) });
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_from_another_user_are_refused() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let (api, link, _init) = RuntimeApi::start(Some(me.wrapping_add(4242))).await.unwrap();
    let _rx = link.dispatch(invocation("secret"));
    let addr = api.address();
    let reply = tokio::task::spawn_blocking(move || {
        http(&addr, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
    })
    .await
    .unwrap();
    assert!(!reply.contains("secret"), "a foreign user fetched the invocation: {reply}");
    assert!(reply.is_empty(), "connection should be closed without an answer: {reply}");
}
