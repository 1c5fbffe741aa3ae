//! The web console, served at `/_lamina/console`.
//!
//! This crate owns nothing but static files: the HTML page, its stylesheet
//! and plain ES modules under `assets/`, compiled into the binary with
//! `include_bytes!` so the console works offline, with no CDN and no build
//! step. Everything the console shows it fetches, same origin, from the
//! server's public endpoints (the Lambda API, `/_lamina/logs`, `/usage`,
//! `/status`, `/series`); it has no private API and no state of its own.
//! docs/console.md describes the pages and the files.
//!
//! [`router`] is merged into the server's router. Assets are answered with
//! a compile-time ETag and `Cache-Control: no-cache`, so a browser revalidates
//! each load with a 304 and a new binary is picked up at once. The page
//! ships a strict Content-Security-Policy: the scripts never build HTML from
//! strings, so none of them needs `unsafe-inline`.

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use http::{HeaderMap, HeaderValue, StatusCode};

/// Where the console lives; every asset URL starts with it.
pub const BASE_PATH: &str = "/_lamina/console";

/// No inline script or style, nothing from another origin.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    etag: &'static str,
}

/// FNV-1a, evaluated at compile time: an ETag that changes with the content.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

/// `"` + 16 hex digits + `"`, built at compile time.
const fn quoted_hex(mut n: u64) -> [u8; 18] {
    let digits = b"0123456789abcdef";
    let mut out = [b'"'; 18];
    let mut i = 16;
    while i > 0 {
        out[i] = digits[(n & 0xf) as usize];
        n >>= 4;
        i -= 1;
    }
    out
}

macro_rules! assets {
    ($($path:literal => $type:expr),* $(,)?) => {
        &[$({
            const BODY: &[u8] = include_bytes!(concat!("../assets/", $path));
            const TAG: [u8; 18] = quoted_hex(fnv1a(BODY));
            Asset {
                path: $path,
                content_type: $type,
                body: BODY,
                // The bytes are ASCII hex digits and quotes by construction.
                etag: match std::str::from_utf8(&TAG) { Ok(s) => s, Err(_) => "\"0\"" },
            }
        }),*]
    };
}

const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: &[Asset] = assets! {
    "index.html" => "text/html; charset=utf-8",
    "console.css" => "text/css; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
    "app.js" => JS,
    "api.js" => JS,
    "dom.js" => JS,
    "format.js" => JS,
    "chart.js" => JS,
    "vlist.js" => JS,
    "pages/functions.js" => JS,
    "pages/function.js" => JS,
    "pages/invoke.js" => JS,
    "pages/logs.js" => JS,
    "pages/monitor.js" => JS,
    "pages/usage.js" => JS,
};

/// `GET /_lamina/console` (the page) and `GET /_lamina/console/{*asset}`.
/// Stateless, so it merges into any router.
pub fn router() -> Router {
    Router::new()
        .route(BASE_PATH, get(index))
        .route(&format!("{BASE_PATH}/"), get(index))
        .route(&format!("{BASE_PATH}/{{*asset}}"), get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers)
}

fn serve(path: &str, request: &HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.path == path) else {
        return (StatusCode::NOT_FOUND, [(CONTENT_TYPE, "text/plain; charset=utf-8")], "not found\n").into_response();
    };
    let mut headers = HeaderMap::new();
    headers.insert(ETAG, HeaderValue::from_static(asset.etag));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    if asset.path == "index.html" {
        headers.insert("content-security-policy", HeaderValue::from_static(CSP));
    }
    let fresh = request
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == asset.etag || t.trim() == "*"));
    if fresh {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    (StatusCode::OK, headers, asset.body).into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use axum::body::Body;
    use http::Request;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    async fn get(uri: &str, if_none_match: Option<&str>) -> (StatusCode, HeaderMap, Vec<u8>) {
        let mut req = Request::get(uri);
        if let Some(tag) = if_none_match {
            req = req.header(IF_NONE_MATCH, tag);
        }
        let resp = router().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        let (parts, body) = resp.into_parts();
        (parts.status, parts.headers, body.collect().await.unwrap().to_bytes().to_vec())
    }

    #[tokio::test]
    async fn serves_the_page_with_a_strict_policy() {
        for uri in ["/_lamina/console", "/_lamina/console/"] {
            let (status, headers, body) = get(uri, None).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(headers[CONTENT_TYPE], "text/html; charset=utf-8");
            assert!(headers["content-security-policy"].to_str().unwrap().contains("script-src 'self'"));
            assert!(String::from_utf8(body).unwrap().contains("/_lamina/console/app.js"));
        }
    }

    #[tokio::test]
    async fn serves_modules_and_revalidates_with_etag() {
        let (status, headers, body) = get("/_lamina/console/pages/functions.js", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[CONTENT_TYPE], JS);
        assert!(!body.is_empty());
        let tag = headers[ETAG].to_str().unwrap().to_string();
        assert_eq!(tag.len(), 18);
        let (status, _, body) = get("/_lamina/console/pages/functions.js", Some(&tag)).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn unknown_assets_are_404() {
        for uri in ["/_lamina/console/nope.js", "/_lamina/console/../Cargo.toml", "/_lamina/console/pages/"] {
            assert_eq!(get(uri, None).await.0, StatusCode::NOT_FOUND, "{uri}");
        }
    }

    /// Every `/_lamina/console/...` URL that an asset mentions (imports, the
    /// stylesheet, the icon) is one the router serves: a file added to
    /// `assets/` but not to [`ASSETS`] fails here rather than in a browser.
    #[test]
    fn every_referenced_asset_is_embedded() {
        let prefix = "/_lamina/console/";
        for asset in ASSETS {
            let text = std::str::from_utf8(asset.body).unwrap();
            for (at, _) in text.match_indices(prefix) {
                let rest = &text[at + prefix.len()..];
                let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || "/._-".contains(c))).unwrap_or(rest.len());
                let path = &rest[..end];
                if path.is_empty() || path.ends_with('/') {
                    continue;
                }
                assert!(
                    ASSETS.iter().any(|a| a.path == path),
                    "{} refers to {path}, which is not embedded",
                    asset.path
                );
            }
        }
    }

    #[test]
    fn no_asset_builds_html_from_strings() {
        for asset in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            let text = std::str::from_utf8(asset.body).unwrap();
            for banned in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("] {
                assert!(!text.contains(banned), "{} uses {banned}", asset.path);
            }
        }
    }
}
