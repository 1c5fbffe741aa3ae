//! The gateway service: the authoritative model of APIs and function URLs
//! (kept in [`Store`] and in memory), and the read-mostly snapshot that
//! request serving uses.
//!
//! Control operations take the `control` lock, write SQLite first, then
//! update the model and rebuild only the affected API's [`ServedApi`] — so
//! serving a request costs a read lock, a hash lookup and a trie walk,
//! however many APIs and routes exist.

use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use crate::error::GatewayError;
use crate::model::{Api, Cors, Integration, Route, Stage, UrlConfig};
use crate::store::{Kind, Store, StoreError};
use crate::table::{RouteKey, Table};
use lamina_scheduler::Scheduler;

/// Everything about one API, as the control plane sees it.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub api: Api,
    pub routes: BTreeMap<String, Route>,
    pub integrations: BTreeMap<String, Integration>,
    pub stages: BTreeMap<String, Stage>,
}

/// The function an integration or URL invokes.
#[derive(Debug, Clone)]
pub struct Target {
    pub function: String,
    pub qualifier: Option<String>,
    /// Payload format 1.0 (else 2.0).
    pub v1: bool,
    pub timeout: Duration,
}

#[derive(Debug)]
pub struct RouteEntry {
    pub route_key: String,
    pub target: Option<Arc<Target>>,
}

/// One API, ready to serve.
pub struct ServedApi {
    pub api_id: String,
    pub cors: Option<Cors>,
    /// Stage name → stage variables. `$default` serves paths unprefixed.
    pub stages: HashMap<String, BTreeMap<String, String>>,
    pub table: Table<RouteEntry>,
}

/// One function URL, ready to serve.
#[derive(Debug)]
pub struct ServedUrl {
    pub url_id: String,
    pub target: Target,
    pub cors: Option<Cors>,
    /// InvokeMode `RESPONSE_STREAM`.
    pub streaming: bool,
}

pub(crate) struct Control {
    pub store: Store,
    pub apis: BTreeMap<String, ApiState>,
    pub urls: BTreeMap<String, UrlConfig>,
}

#[derive(Default)]
struct Served {
    apis: HashMap<String, Arc<ServedApi>>,
    urls: HashMap<String, Arc<ServedUrl>>,
}

pub struct Gateway {
    pub scheduler: Arc<Scheduler>,
    control: Mutex<Control>,
    served: RwLock<Served>,
    /// `:port` of the public URL (empty for port 80), for endpoints we hand out.
    pub port_suffix: String,
}

/// Why a stored resource could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Gateway {
    /// Opens `<data_dir>/gateway.sqlite` and loads everything in it.
    pub fn open(scheduler: Arc<Scheduler>) -> Result<Self, LoadError> {
        let path = scheduler.config().data_dir.join("gateway.sqlite");
        let store = Store::open(&path)?;
        Self::with_store(scheduler, store)
    }

    pub fn with_store(scheduler: Arc<Scheduler>, store: Store) -> Result<Self, LoadError> {
        let mut apis: BTreeMap<String, ApiState> = BTreeMap::new();
        for (_, api) in store.load::<Api>(Kind::Api)? {
            let state = ApiState {
                api: api.clone(),
                routes: BTreeMap::new(),
                integrations: BTreeMap::new(),
                stages: BTreeMap::new(),
            };
            apis.insert(api.api_id.clone(), state);
        }
        for (parent, r) in store.load::<Route>(Kind::Route)? {
            if let Some(a) = apis.get_mut(&parent) {
                a.routes.insert(r.route_id.clone(), r);
            }
        }
        for (parent, i) in store.load::<Integration>(Kind::Integration)? {
            if let Some(a) = apis.get_mut(&parent) {
                a.integrations.insert(i.integration_id.clone(), i);
            }
        }
        for (parent, s) in store.load::<Stage>(Kind::Stage)? {
            if let Some(a) = apis.get_mut(&parent) {
                a.stages.insert(s.stage_name.clone(), s);
            }
        }
        let mut urls = BTreeMap::new();
        for (_, u) in store.load::<UrlConfig>(Kind::Url)? {
            urls.insert(u.target.url_id.clone(), u);
        }
        let port_suffix = port_suffix(&scheduler.config().public_url);
        let me = Self {
            scheduler,
            control: Mutex::new(Control { store, apis, urls }),
            served: RwLock::new(Served::default()),
            port_suffix,
        };
        {
            let ctl = me.control.lock();
            for id in ctl.apis.keys() {
                me.publish_api(&ctl, id);
            }
            for id in ctl.urls.keys() {
                me.publish_url(&ctl, id);
            }
            tracing::info!(apis = ctl.apis.len(), function_urls = ctl.urls.len(), "gateway loaded");
        }
        Ok(me)
    }

    /// Runs a control operation under the control lock.
    pub(crate) fn control<T>(&self, f: impl FnOnce(&mut Control) -> T) -> T {
        f(&mut self.control.lock())
    }

    /// Like [`Self::control`], then re-publishes one API for serving.
    pub(crate) fn change_api<T>(
        &self,
        api_id: &str,
        f: impl FnOnce(&mut Control) -> Result<T, GatewayError>,
    ) -> Result<T, GatewayError> {
        let mut ctl = self.control.lock();
        let out = f(&mut ctl)?;
        self.publish_api(&ctl, api_id);
        Ok(out)
    }

    pub(crate) fn change_url<T, E>(&self, url_id: &str, f: impl FnOnce(&mut Control) -> Result<T, E>) -> Result<T, E> {
        let mut ctl = self.control.lock();
        let out = f(&mut ctl)?;
        self.publish_url(&ctl, url_id);
        Ok(out)
    }

    pub fn api(&self, api_id: &str) -> Option<Arc<ServedApi>> {
        self.served.read().apis.get(api_id).cloned()
    }

    pub fn url(&self, url_id: &str) -> Option<Arc<ServedUrl>> {
        self.served.read().urls.get(url_id).cloned()
    }

    fn publish_api(&self, ctl: &Control, api_id: &str) {
        let Some(state) = ctl.apis.get(api_id) else {
            self.served.write().apis.remove(api_id);
            return;
        };
        let served = Arc::new(build_served_api(state));
        self.served.write().apis.insert(api_id.to_string(), served);
    }

    fn publish_url(&self, ctl: &Control, url_id: &str) {
        let Some(cfg) = ctl.urls.get(url_id) else {
            self.served.write().urls.remove(url_id);
            return;
        };
        let served = Arc::new(ServedUrl {
            url_id: url_id.to_string(),
            target: Target {
                function: cfg.target.function.clone(),
                qualifier: cfg.target.qualifier.clone(),
                v1: false,
                timeout: URL_TIMEOUT,
            },
            cors: cfg.cors.as_ref().map(Cors::from),
            streaming: cfg.invoke_mode == "RESPONSE_STREAM",
        });
        self.served.write().urls.insert(url_id.to_string(), served);
    }
}

/// Function URLs have no integration timeout of their own; the function's
/// timeout (at most 15 minutes) ends them.
const URL_TIMEOUT: Duration = Duration::from_secs(16 * 60);

fn build_served_api(state: &ApiState) -> ServedApi {
    let targets: HashMap<&str, Arc<Target>> = state
        .integrations
        .values()
        .filter_map(|i| {
            let (function, qualifier) = crate::apigw::function_of_uri(&i.integration_uri).ok()?;
            let t = Target {
                function,
                qualifier,
                v1: i.payload_format_version == "1.0",
                timeout: Duration::from_millis(u64::from(i.timeout_in_millis)),
            };
            Some((i.integration_id.as_str(), Arc::new(t)))
        })
        .collect();
    let mut table = Table::default();
    for r in state.routes.values() {
        let Ok(key) = RouteKey::parse(&r.route_key) else { continue };
        let target =
            r.target.as_deref().and_then(|t| t.strip_prefix("integrations/")).and_then(|id| targets.get(id).cloned());
        // Duplicates were refused when the route was created.
        let _ = table.insert(&key, RouteEntry { route_key: r.route_key.clone(), target });
    }
    ServedApi {
        api_id: state.api.api_id.clone(),
        cors: state.api.cors_configuration.clone(),
        stages: state.stages.values().map(|s| (s.stage_name.clone(), s.stage_variables.clone())).collect(),
        table,
    }
}

/// `:9000` from `http://127.0.0.1:9000` (empty when the URL has no port).
fn port_suffix(public_url: &str) -> String {
    let authority = public_url.split("://").nth(1).unwrap_or(public_url);
    let authority = authority.split('/').next().unwrap_or("");
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() => {
            format!(":{port}")
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    #[test]
    fn port_suffix_of_public_urls() {
        assert_eq!(super::port_suffix("http://127.0.0.1:9000"), ":9000");
        assert_eq!(super::port_suffix("http://example.com/"), "");
        assert_eq!(super::port_suffix("http://[::1]:8080"), ":8080");
    }
}
