//! The client that delivers to http and https endpoints.
//!
//! TLS is rustls on the `ring` provider (aws-lc-rs would need cmake and a
//! long build). The trusted roots are the system's, read once at start by
//! `rustls-native-certs`, which honours `SSL_CERT_FILE` and `SSL_CERT_DIR`
//! (when either is set, only those certificates are trusted: that is how an
//! operator trusts a private CA). When no system roots can be read at all,
//! the Mozilla roots compiled in (`webpki-roots`) are used instead, so a
//! bare container still reaches public endpoints.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use rustls::RootCertStore;

/// One client for both schemes: `http://` goes in the clear, `https://` over TLS.
pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The process's delivery client, built on the first http/https delivery
/// (reading the system's certificates is start-up work most servers never
/// need); `None` only when rustls refuses its own default configuration.
pub fn shared() -> Option<&'static HttpClient> {
    static CLIENT: OnceLock<Option<HttpClient>> = OnceLock::new();
    CLIENT.get_or_init(client).as_ref()
}

/// Builds the delivery client; `None` when TLS cannot be set up, which is logged.
fn client() -> Option<HttpClient> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = match rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions() {
        Ok(builder) => builder.with_root_certificates(trusted_roots()).with_no_client_auth(),
        Err(e) => {
            tracing::error!(error = %e, "cannot set up TLS; http and https endpoints will get nothing");
            return None;
        }
    };
    let connector =
        hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config).https_or_http().enable_http1().build();
    Some(Client::builder(TokioExecutor::new()).build(connector))
}

/// The system's roots (or `SSL_CERT_FILE` / `SSL_CERT_DIR`), else webpki-roots.
fn trusted_roots() -> RootCertStore {
    let native = rustls_native_certs::load_native_certs();
    for e in &native.errors {
        tracing::warn!(error = %e, "a trusted certificate could not be read");
    }
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    if added > 0 {
        tracing::debug!(roots = added, ignored, "https endpoints: trusting the system's certificates");
        return roots;
    }
    tracing::warn!("no system certificates found; https endpoints are checked against the built-in Mozilla roots");
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots
}
