//! The HTTP gateway's cost: the same function invoked directly, through an
//! HTTP API route and through its function URL, one sequential client each.
//!
//! The API has [`ROUTES`] routes besides the quick-create `$default` one, so
//! the number shows what a large route table costs per request. The three
//! targets are measured in interleaved rounds so that drift on a shared
//! machine hits all three alike; the report is the p50 of all rounds and the
//! difference of each route's p50 to the direct Invoke's.

use anyhow::Context;
use bytes::Bytes;
use hyper::Method;
use std::time::Duration;

use super::load::{percentile, print_header, print_row, run_clients, WARMUP};
use crate::client::call;

/// Extra routes on the benched API.
const ROUTES: usize = 1000;
/// Interleaved rounds per target.
const ROUNDS: u32 = 5;

/// The gateway objects created for one function, deleted after the measurement.
struct Routes {
    api_id: String,
    direct: hyper::Uri,
    api: hyper::Uri,
    url: hyper::Uri,
}

/// Measures and prints the routing overhead for the function `name`.
pub(super) async fn bench_gateway(endpoint: &str, name: &str, duration: Duration) -> anyhow::Result<()> {
    let routes = create_routes(endpoint, name).await;
    let result = match &routes {
        Ok(r) => measure(r, duration).await,
        Err(_) => Ok(()),
    };
    delete_routes(endpoint, name, routes.as_ref().ok()).await;
    routes?;
    result
}

async fn measure(r: &Routes, duration: Duration) -> anyhow::Result<()> {
    let targets = [("direct Invoke", &r.direct), ("HTTP API route", &r.api), ("function URL", &r.url)];
    for (_, url) in &targets {
        run_clients(url, 1, WARMUP).await?;
    }
    let mut samples = vec![Vec::new(); targets.len()];
    for _ in 0..ROUNDS {
        for (i, (_, url)) in targets.iter().enumerate() {
            samples[i].extend(run_clients(url, 1, duration / ROUNDS).await?);
        }
    }
    for s in &mut samples {
        s.sort();
    }
    println!();
    println!("== gateway routing overhead ({} API routes, {ROUNDS} interleaved rounds, 1 client)", ROUTES + 1);
    print_header();
    let direct_p50 = percentile(&samples[0], 0.5);
    for ((label, _), s) in targets.iter().zip(&samples) {
        print_row(label, s, None);
    }
    for ((label, _), s) in targets.iter().zip(&samples).skip(1) {
        let delta = percentile(s, 0.5).as_secs_f64() - direct_p50.as_secs_f64();
        println!("  {label}: {:+.1} µs p50 over direct Invoke (budget ≤ 50 µs)", delta * 1e6);
    }
    Ok(())
}

/// Quick-creates an HTTP API targeting the function, adds [`ROUTES`] routes
/// to its integration, and creates the function's URL.
async fn create_routes(endpoint: &str, name: &str) -> anyhow::Result<Routes> {
    let function = json_call(endpoint, Method::GET, &format!("/2015-03-31/functions/{name}"), None).await?;
    let arn = function["Configuration"]["FunctionArn"].as_str().context("GetFunction without FunctionArn")?;
    let api = serde_json::json!({"name": "lamina-bench", "protocolType": "HTTP", "target": arn});
    let api = json_call(endpoint, Method::POST, "/v2/apis", Some(api)).await?;
    let api_id = api["apiId"].as_str().context("CreateApi without apiId")?.to_string();
    let integrations = json_call(endpoint, Method::GET, &format!("/v2/apis/{api_id}/integrations"), None).await?;
    let integration = integrations["items"][0]["integrationId"].as_str().context("quick-create made no integration")?;
    eprintln!("(creating {ROUTES} routes on the bench API)");
    for i in 0..ROUTES {
        let route = serde_json::json!({
            "routeKey": format!("GET /bench/r{i}/{{id}}"), "target": format!("integrations/{integration}"),
        });
        json_call(endpoint, Method::POST, &format!("/v2/apis/{api_id}/routes"), Some(route)).await?;
    }
    let _ = call(endpoint, Method::DELETE, &format!("/2021-10-31/functions/{name}/url"), &[], Bytes::new()).await;
    let url = serde_json::json!({"AuthType": "NONE"});
    let url = json_call(endpoint, Method::POST, &format!("/2021-10-31/functions/{name}/url"), Some(url)).await?;
    let url_id = url["FunctionUrl"]
        .as_str()
        .and_then(|u| u.strip_prefix("http://"))
        .and_then(|u| u.split('.').next())
        .context("CreateFunctionUrlConfig without FunctionUrl")?
        .to_string();
    let base = endpoint.trim_end_matches('/');
    Ok(Routes {
        direct: format!("{base}/2015-03-31/functions/{name}/invocations").parse()?,
        // A POST the `$default` route catches, after the API's other routes were tried.
        api: format!("{base}/_api/{api_id}/bench/invoke").parse()?,
        url: format!("{base}/_url/{url_id}/bench/invoke").parse()?,
        api_id,
    })
}

async fn delete_routes(endpoint: &str, name: &str, routes: Option<&Routes>) {
    if let Some(r) = routes {
        let _ = call(endpoint, Method::DELETE, &format!("/v2/apis/{}", r.api_id), &[], Bytes::new()).await;
    }
    let _ = call(endpoint, Method::DELETE, &format!("/2021-10-31/functions/{name}/url"), &[], Bytes::new()).await;
}

async fn json_call(
    endpoint: &str,
    method: Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<serde_json::Value> {
    let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
    let reply = call(endpoint, method, path, &[("content-type", "application/json")], body).await?;
    serde_json::from_slice(&reply.body).with_context(|| format!("{path} answered non-JSON"))
}
