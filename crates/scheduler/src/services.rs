//! One instance of an embedded service (queues, topics, the object store,
//! metrics) per scheduler.
//!
//! A service is reached from several places — its own router, another
//! service's router (bucket notifications publish to topics, alarms notify
//! topics), the server's wiring — and all of them must share one instance
//! with one database handle. Keying by scheduler (rather than one global)
//! keeps servers started side by side in one process, as tests do, apart.

use parking_lot::Mutex;
use std::sync::{Arc, Weak};

use crate::Scheduler;

/// A registry holding `T`'s instance per live scheduler; use it in a
/// `static`.
pub struct PerScheduler<T>(Mutex<Vec<(Weak<Scheduler>, Arc<T>)>>);

impl<T> PerScheduler<T> {
    pub const fn new() -> Self {
        Self(Mutex::new(Vec::new()))
    }

    /// The instance for `scheduler`, if one was opened.
    pub fn get(&self, scheduler: &Arc<Scheduler>) -> Option<Arc<T>> {
        let instances = self.0.lock();
        instances.iter().find(|(s, _)| same_scheduler(s, scheduler)).map(|(_, instance)| instance.clone())
    }

    /// The instance for `scheduler`, opened with `open` on first use.
    /// Instances of dropped schedulers are released on the way.
    pub fn get_or_open<E>(
        &self,
        scheduler: &Arc<Scheduler>,
        open: impl FnOnce() -> Result<Arc<T>, E>,
    ) -> Result<Arc<T>, E> {
        let mut instances = self.0.lock();
        instances.retain(|(s, _)| s.strong_count() > 0);
        if let Some((_, instance)) = instances.iter().find(|(s, _)| same_scheduler(s, scheduler)) {
            return Ok(instance.clone());
        }
        let instance = open()?;
        instances.push((Arc::downgrade(scheduler), instance.clone()));
        Ok(instance)
    }
}

fn same_scheduler(registered: &Weak<Scheduler>, scheduler: &Arc<Scheduler>) -> bool {
    registered.upgrade().is_some_and(|s| Arc::ptr_eq(&s, scheduler))
}

impl<T> Default for PerScheduler<T> {
    fn default() -> Self {
        Self::new()
    }
}
