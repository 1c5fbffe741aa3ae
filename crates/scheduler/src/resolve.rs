//! From "function name + qualifier" to the version that runs.
//!
//! A qualifier is absent or `$LATEST`, a version number, or an alias; an
//! alias with routing weights picks its second version with the given
//! probability. Results are cached per (function, qualifier) until a
//! control operation calls [`Scheduler::forget`], so the invoke hot path
//! reads no database.

use lamina_core::{FunctionVersion, LATEST};
use lamina_store::StoreError;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

use crate::{InvokeError, Scheduler};

/// A resolved invocation target.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub version: Arc<FunctionVersion>,
    /// The ARN as invoked: unqualified, or with the version or alias.
    pub invoked_arn: String,
}

#[derive(Debug, Clone)]
enum Target {
    Version(Arc<FunctionVersion>),
    Alias { primary: Arc<FunctionVersion>, extra: Option<(Arc<FunctionVersion>, f64)> },
}

#[derive(Default)]
pub(crate) struct Cache {
    map: Mutex<HashMap<(String, String), Target>>,
}

impl Cache {
    pub(crate) fn forget(&self, name: &str) {
        self.map.lock().retain(|(n, _), _| n != name);
    }
}

impl Scheduler {
    /// Finds the version an invocation of `name:qualifier` runs.
    pub fn resolve(&self, name: &str, qualifier: Option<&str>) -> Result<Resolved, InvokeError> {
        let q = qualifier.unwrap_or(LATEST);
        let key = (name.to_string(), q.to_string());
        let cached = self.cache.map.lock().get(&key).cloned();
        let target = match cached {
            Some(t) => t,
            None => {
                let t = self.load_target(name, q)?;
                self.cache.map.lock().insert(key, t.clone());
                t
            }
        };
        let version = match target {
            Target::Version(v) => v,
            Target::Alias { primary, extra: Some((other, weight)) } => {
                if fastrand::f64() < weight {
                    other
                } else {
                    primary
                }
            }
            Target::Alias { primary, extra: None } => primary,
        };
        let partition = self.config.partition();
        let invoked_arn = match qualifier {
            Some(q) => partition.qualified_arn(name, q),
            None => partition.function_arn(name),
        };
        Ok(Resolved { version, invoked_arn })
    }

    fn load_target(&self, name: &str, q: &str) -> Result<Target, InvokeError> {
        let not_found = |what: String| InvokeError::NotFound(what);
        let arn = self.config.partition().qualified_arn(name, q);
        let version = |v: &str| -> Result<Arc<FunctionVersion>, InvokeError> {
            match self.store.get_version(name, v) {
                Ok(v) => Ok(Arc::new(v)),
                Err(StoreError::NotFound) => Err(not_found(format!("Function not found: {arn}"))),
                Err(e) => Err(InvokeError::Platform(e.to_string())),
            }
        };
        if q == LATEST || q.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Target::Version(version(q)?));
        }
        let alias = match self.store.get_alias(name, q) {
            Ok(a) => a,
            Err(StoreError::NotFound) => return Err(not_found(format!("Function not found: {arn}"))),
            Err(e) => return Err(InvokeError::Platform(e.to_string())),
        };
        let primary = version(&alias.version)?;
        let extra = match alias.weights.iter().next() {
            Some((v, w)) => Some((version(v)?, *w)),
            None => None,
        };
        Ok(Target::Alias { primary, extra })
    }
}
