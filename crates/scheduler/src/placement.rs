//! Where a new sandbox goes when the server runs shards (`lamina_core::shard`).
//!
//! A sandbox's Runtime API is served by one shard's runtime, and when the
//! shards are pinned the sandbox runs on that shard's CPU. Starting each
//! sandbox on the shard whose connection asked for it put all the sandboxes
//! of a client on one CPU, because all that client's connections land on
//! the shard of the CPU it runs on: a burst of 200 Python cold starts then
//! ran on one CPU of two. So the sandboxes of each function version are
//! spread over the shards: a new one goes to the shard with the fewest live
//! sandboxes of that version, and to the asking shard on a tie. A
//! sequential client's one sandbox is still on its own shard, and a warm
//! invocation still prefers an idle sandbox of its own shard
//! (`Scheduler::take_idle`), which saves two cross-CPU wake-ups; when its
//! own shard has none idle, it takes another shard's, which also spreads
//! the load of a client that sits on one CPU.
//!
//! Without shards (`--shards 0`) there is nothing to choose: a sandbox is
//! served by the runtime that starts it and inherits that thread's CPUs.

use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use tokio::runtime::Handle;

use crate::PoolKey;

/// The shards serving now, and how many live sandboxes of each version each serves.
#[derive(Default)]
pub struct Placement {
    /// By shard index; `None` once a shard has stopped.
    shards: RwLock<Vec<Option<Shard>>>,
    live: Mutex<HashMap<PoolKey, Vec<usize>>>,
}

#[derive(Clone)]
struct Shard {
    runtime: Handle,
    cpu: Option<usize>,
}

impl Placement {
    /// Registers the calling thread's shard, served by `runtime` (pinned to
    /// `cpu`, if it is), for as long as the returned seat is kept.
    pub fn seat(self: &Arc<Self>, index: usize, runtime: Handle, cpu: Option<usize>) -> Seat {
        let mut shards = self.shards.write();
        if shards.len() <= index {
            shards.resize(index + 1, None);
        }
        shards[index] = Some(Shard { runtime, cpu });
        Seat { placement: self.clone(), index }
    }

    /// Chooses the shard for a new sandbox of `key`; counted until the site is dropped.
    pub(crate) fn place(self: &Arc<Self>, key: &PoolKey) -> Site {
        let here = lamina_core::shard::current();
        let shards = self.shards.read();
        let mut live = self.live.lock();
        let count = |i: usize| live.get(key).and_then(|counts| counts.get(i)).copied().unwrap_or(0);
        let chosen = shards
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, s)))
            .min_by_key(|&(i, _)| (count(i), Some(i) != here));
        let Some((index, shard)) = chosen else {
            return Site { counted: None, shard: None, cpu: None, runtime: None };
        };
        let counts = live.entry(key.clone()).or_default();
        if counts.len() <= index {
            counts.resize(index + 1, 0);
        }
        counts[index] += 1;
        Site {
            counted: Some((self.clone(), key.clone())),
            shard: Some(index),
            cpu: shard.cpu,
            runtime: Some(shard.runtime.clone()),
        }
    }

    fn release(&self, key: &PoolKey, shard: usize) {
        let mut live = self.live.lock();
        if let Some(counts) = live.get_mut(key) {
            if let Some(n) = counts.get_mut(shard) {
                *n = n.saturating_sub(1);
            }
            if counts.iter().all(|&n| n == 0) {
                live.remove(key);
            }
        }
    }
}

/// A shard's place in the [`Placement`]; new sandboxes stop going there once dropped.
pub struct Seat {
    placement: Arc<Placement>,
    index: usize,
}

impl Drop for Seat {
    fn drop(&mut self) {
        if let Some(slot) = self.placement.shards.write().get_mut(self.index) {
            *slot = None;
        }
    }
}

/// Where one sandbox lives: the shard serving its Runtime API and the CPU it runs on.
pub(crate) struct Site {
    counted: Option<(Arc<Placement>, PoolKey)>,
    /// `None` without shards.
    pub(crate) shard: Option<usize>,
    /// `None` when the shard is not pinned (or there are no shards).
    pub(crate) cpu: Option<usize>,
    runtime: Option<Handle>,
}

impl Site {
    /// Runs `task` on the site's shard: here if this thread is that shard
    /// (or there are no shards), else on the shard's runtime.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        task: impl Future<Output = T> + Send + 'static,
    ) -> std::io::Result<T> {
        match &self.runtime {
            Some(runtime) if self.shard != lamina_core::shard::current() => {
                runtime.spawn(task).await.map_err(|_| std::io::Error::other("the sandbox's shard stopped"))
            }
            _ => Ok(task.await),
        }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        if let (Some((placement, key)), Some(shard)) = (&self.counted, self.shard) {
            placement.release(key, shard);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> PoolKey {
        PoolKey { name: name.into(), version: "$LATEST".into(), revision: "r1".into() }
    }

    #[tokio::test]
    async fn a_versions_sandboxes_spread_over_the_shards_starting_with_the_asking_one() {
        let placement = Arc::new(Placement::default());
        let (_a, _b) = (placement.seat(0, Handle::current(), Some(0)), placement.seat(1, Handle::current(), Some(1)));
        let asked_from_shard_1 = std::thread::spawn({
            let placement = placement.clone();
            move || {
                lamina_core::shard::enter(1);
                let sites: Vec<Site> = (0..3).map(|_| placement.place(&key("f"))).collect();
                let placed = sites.iter().map(|s| (s.shard, s.cpu)).collect::<Vec<_>>();
                // Another version starts from zero, on the asking shard.
                let other = placement.place(&key("g")).shard;
                drop(sites);
                let after_drop = placement.place(&key("f")).shard;
                (placed, other, after_drop)
            }
        })
        .join()
        .unwrap();
        assert_eq!(
            asked_from_shard_1,
            (vec![(Some(1), Some(1)), (Some(0), Some(0)), (Some(1), Some(1))], Some(1), Some(1))
        );
    }

    #[tokio::test]
    async fn a_stopped_shard_gets_no_new_sandboxes_and_without_shards_there_is_no_choice() {
        let placement = Arc::new(Placement::default());
        let stopped = placement.seat(0, Handle::current(), None);
        let _running = placement.seat(1, Handle::current(), None);
        drop(stopped);
        let sites: Vec<Site> = (0..2).map(|_| placement.place(&key("f"))).collect();
        assert!(sites.iter().all(|s| s.shard == Some(1) && s.cpu.is_none()), "placed on the running shard");
        drop(sites);
        let unsharded = Arc::new(Placement::default()).place(&key("f"));
        assert_eq!((unsharded.shard, unsharded.cpu), (None, None));
        assert!(placement.live.lock().is_empty(), "dropped sites are no longer counted");
        assert_eq!(unsharded.run(async { 7 }).await.unwrap(), 7);
    }
}
