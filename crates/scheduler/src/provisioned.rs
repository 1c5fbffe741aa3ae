//! Provisioned concurrency: keep N sandboxes of a version (or of the
//! version an alias points at) initialised and idle, exempt from the
//! keep-alive, so those invocations never pay a cold start.
//!
//! Configurations live in the store (setting `provisioned:<qualifier>`).
//! [`Scheduler::provision`] (re)fills one; the reaper calls
//! [`Scheduler::top_up_provisioned`] so sandboxes lost to a timeout or a
//! crash are replaced. Status goes IN_PROGRESS → READY (or FAILED).

use lamina_core::LATEST;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::sandbox::{self, InitType};
use crate::{PoolKey, Scheduler};

pub const SETTING_PREFIX: &str = "provisioned:";

/// What the store keeps for one configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProvisionedConfig {
    pub requested: u32,
    pub last_modified_ms: i64,
}

/// The live state of one configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionedStatus {
    pub requested: u32,
    pub allocated: u32,
    pub status: &'static str,
    pub reason: Option<String>,
    pub last_modified_ms: i64,
}

/// Counts the live sandboxes of one configuration; each provisioned
/// sandbox holds a [`Member`].
#[derive(Default)]
pub(crate) struct Slot {
    live: AtomicU32,
    failed: Mutex<Option<String>>,
}

pub(crate) struct Member(Arc<Slot>);

impl Drop for Member {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::AcqRel);
    }
}

/// (function, qualifier) → its configuration and live-sandbox count.
type Slots = HashMap<(String, String), (ProvisionedConfig, Arc<Slot>)>;

#[derive(Default)]
pub(crate) struct Registry {
    slots: Mutex<Slots>,
}

impl Scheduler {
    /// Loads every configuration from the store and provisions it (start-up).
    pub fn restore_provisioned(self: &Arc<Self>) {
        let Ok(settings) = self.store.settings_with_prefix(SETTING_PREFIX) else { return };
        for (function, key, value) in settings {
            let Ok(config) = serde_json::from_str::<ProvisionedConfig>(&value) else { continue };
            let qualifier = key.trim_start_matches(SETTING_PREFIX).to_string();
            self.provision(&function, &qualifier, config);
        }
    }

    /// Starts (or re-targets) provisioning for `function:qualifier`.
    pub fn provision(self: &Arc<Self>, function: &str, qualifier: &str, config: ProvisionedConfig) {
        let slot = {
            let mut slots = self.provisioned.slots.lock();
            let entry = slots.entry((function.to_string(), qualifier.to_string())).or_default();
            entry.0 = config;
            entry.1.failed.lock().take();
            entry.1.clone()
        };
        let me = self.clone();
        let (function, qualifier) = (function.to_string(), qualifier.to_string());
        tokio::spawn(async move { me.fill(&function, &qualifier, slot).await });
    }

    /// Stops provisioning and drops the idle provisioned sandboxes.
    pub fn unprovision(&self, function: &str, qualifier: &str) {
        self.provisioned.slots.lock().remove(&(function.to_string(), qualifier.to_string()));
        self.drop_idle(|k, w| k.name == function && w.provisioned_for(qualifier));
    }

    pub fn provisioned_status(&self, function: &str, qualifier: &str) -> Option<ProvisionedStatus> {
        let slots = self.provisioned.slots.lock();
        let (config, slot) = slots.get(&(function.to_string(), qualifier.to_string()))?;
        let allocated = slot.live.load(Ordering::Acquire).min(config.requested);
        let failed = slot.failed.lock().clone();
        let status = match (&failed, allocated >= config.requested) {
            (Some(_), _) => "FAILED",
            (None, true) => "READY",
            (None, false) => "IN_PROGRESS",
        };
        Some(ProvisionedStatus {
            requested: config.requested,
            allocated,
            status,
            reason: failed,
            last_modified_ms: config.last_modified_ms,
        })
    }

    pub(crate) fn provisioned_qualifiers(&self, function: &str) -> Vec<String> {
        self.provisioned.slots.lock().keys().filter(|(f, _)| f == function).map(|(_, q)| q.clone()).collect()
    }

    /// Re-provisions every configuration of a function after its versions
    /// or aliases changed.
    pub(crate) fn reprovision(self: &Arc<Self>, function: &str) {
        let configs: Vec<(String, ProvisionedConfig)> = self
            .provisioned
            .slots
            .lock()
            .iter()
            .filter(|((f, _), _)| f == function)
            .map(|((_, q), (c, _))| (q.clone(), c.clone()))
            .collect();
        for (q, c) in configs {
            self.provision(function, &q, c);
        }
    }

    /// Replaces provisioned sandboxes that died (called by the reaper).
    pub(crate) fn top_up_provisioned(self: &Arc<Self>) {
        let short: Vec<(String, String, Arc<Slot>)> = self
            .provisioned
            .slots
            .lock()
            .iter()
            .filter(|(_, (c, s))| s.live.load(Ordering::Acquire) < c.requested && s.failed.lock().is_none())
            .map(|((f, q), (_, s))| (f.clone(), q.clone(), s.clone()))
            .collect();
        for (f, q, slot) in short {
            let me = self.clone();
            tokio::spawn(async move { me.fill(&f, &q, slot).await });
        }
    }

    async fn fill(self: Arc<Self>, function: &str, qualifier: &str, slot: Arc<Slot>) {
        let _serial = self.provisioning.lock().await;
        let requested = match self.provisioned.slots.lock().get(&(function.to_string(), qualifier.to_string())) {
            Some((c, s)) if Arc::ptr_eq(s, &slot) => c.requested,
            _ => return,
        };
        let resolved = match self.resolve(function, Some(qualifier)) {
            Ok(r) => r,
            Err(e) => {
                *slot.failed.lock() = Some(e.to_string());
                return;
            }
        };
        let version = resolved.version;
        // Drop provisioned sandboxes of versions the qualifier no longer names.
        self.drop_idle(|k, w| k.name == function && w.provisioned_for(qualifier) && k.version != version.version);
        let key = PoolKey::of(&version);
        while slot.live.load(Ordering::Acquire) < requested {
            let Some(lease) = self.capacity.try_lease(u64::from(version.memory_mib)) else {
                *slot.failed.lock() =
                    Some("Not enough memory on this host for the requested provisioned concurrency".into());
                return;
            };
            slot.live.fetch_add(1, Ordering::AcqRel);
            let member = Member(slot.clone());
            match sandbox::cold_start(&self, &version, lease, InitType::Provisioned(qualifier.to_string(), member))
                .await
            {
                Ok(mut warm) => {
                    warm.last_used = std::time::Instant::now();
                    self.idle.lock().entry(key.clone()).or_default().push(warm);
                }
                Err(_) => {
                    *slot.failed.lock() = Some("FUNCTION_ERROR_INIT_FAILURE".into());
                    return;
                }
            }
        }
        tracing::info!(function, qualifier, requested, "provisioned concurrency ready");
    }
}

/// Provisioned concurrency applies to published versions and aliases only.
pub fn check_qualifier(qualifier: &str) -> Result<(), String> {
    if qualifier == LATEST {
        return Err("Provisioned Concurrency Configs cannot be applied to unpublished function versions.".into());
    }
    Ok(())
}
