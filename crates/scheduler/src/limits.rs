//! Concurrency and memory admission.
//!
//! - [`Concurrency`]: the account limit, shared by every function without a
//!   reservation, and per-function reserved concurrency, which both caps the
//!   function and is carved out of the account's pool. Over a limit an
//!   invocation is refused with Lambda's throttle reason.
//! - [`Capacity`]: the memory the host gives sandboxes. Every live sandbox
//!   holds a [`MemoryLease`] for its MemorySize; a cold start that does not
//!   fit first evicts idle sandboxes (least recently used), then waits
//!   briefly for one to finish, then is throttled.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

pub const RESERVED_LIMIT_EXCEEDED: &str = "ReservedFunctionConcurrentInvocationLimitExceeded";
pub const ACCOUNT_LIMIT_EXCEEDED: &str = "ConcurrentInvocationLimitExceeded";

#[derive(Default)]
struct State {
    reserved: HashMap<String, u32>,
    total_reserved: u32,
    running: HashMap<String, u32>,
    unreserved_running: u32,
}

pub struct Concurrency {
    account: u32,
    state: Arc<Mutex<State>>,
}

/// One admitted execution; released when dropped.
pub struct Permit {
    function: String,
    reserved: bool,
    state: Arc<Mutex<State>>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut s = self.state.lock();
        if let Some(n) = s.running.get_mut(&self.function) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                s.running.remove(&self.function);
            }
        }
        if !self.reserved {
            s.unreserved_running = s.unreserved_running.saturating_sub(1);
        }
    }
}

impl Concurrency {
    pub fn new(account: u32) -> Self {
        Self { account, state: Arc::default() }
    }

    pub fn account_limit(&self) -> u32 {
        self.account
    }

    /// Lambda keeps this much of the account unreserved (100 of the default 1000).
    pub fn minimum_unreserved(&self) -> u32 {
        (self.account / 10).min(100)
    }

    /// Account limit minus every reservation.
    pub fn unreserved(&self) -> u32 {
        self.account.saturating_sub(self.state.lock().total_reserved)
    }

    /// Admits one execution of `function`, or names the limit it hit.
    pub fn admit(&self, function: &str) -> Result<Permit, &'static str> {
        let mut s = self.state.lock();
        let running = s.running.get(function).copied().unwrap_or(0);
        let reserved = match s.reserved.get(function) {
            Some(&limit) => {
                if running >= limit {
                    return Err(RESERVED_LIMIT_EXCEEDED);
                }
                true
            }
            None => {
                if s.unreserved_running >= self.account.saturating_sub(s.total_reserved) {
                    return Err(ACCOUNT_LIMIT_EXCEEDED);
                }
                s.unreserved_running += 1;
                false
            }
        };
        *s.running.entry(function.to_string()).or_insert(0) += 1;
        Ok(Permit { function: function.to_string(), reserved, state: self.state.clone() })
    }

    /// Executions of one function running now.
    pub fn running(&self, function: &str) -> u32 {
        self.state.lock().running.get(function).copied().unwrap_or(0)
    }

    pub fn running_by_function(&self) -> Vec<(String, u32)> {
        self.state.lock().running.iter().map(|(f, n)| (f.clone(), *n)).collect()
    }

    pub fn total_running(&self) -> u32 {
        self.state.lock().running.values().sum()
    }

    pub fn reserved(&self, function: &str) -> Option<u32> {
        self.state.lock().reserved.get(function).copied()
    }

    /// Sets or clears a reservation; refuses one that would leave the
    /// account less than its minimum unreserved concurrency.
    pub fn set_reserved(&self, function: &str, limit: Option<u32>) -> Result<(), String> {
        let min = self.minimum_unreserved();
        let mut s = self.state.lock();
        let old = s.reserved.get(function).copied().unwrap_or(0);
        let new_total = s.total_reserved - old + limit.unwrap_or(0);
        if limit.is_some() && self.account.saturating_sub(new_total) < min {
            return Err(format!(
                "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{min}]."
            ));
        }
        s.total_reserved = new_total;
        match limit {
            Some(l) => s.reserved.insert(function.to_string(), l),
            None => s.reserved.remove(function),
        };
        Ok(())
    }
}

/// Memory for sandboxes, in MiB.
pub struct Capacity {
    limit_mib: u64,
    used: Arc<Mutex<u64>>,
    freed: Arc<tokio::sync::Notify>,
}

/// A live sandbox's share of [`Capacity`]; returned when dropped.
pub struct MemoryLease {
    mib: u64,
    used: Arc<Mutex<u64>>,
    freed: Arc<tokio::sync::Notify>,
}

impl Drop for MemoryLease {
    fn drop(&mut self) {
        *self.used.lock() -= self.mib;
        self.freed.notify_waiters();
    }
}

impl Capacity {
    pub fn new(limit_mib: u64) -> Self {
        Self { limit_mib, used: Arc::default(), freed: Arc::default() }
    }

    pub fn limit_mib(&self) -> u64 {
        self.limit_mib
    }

    pub fn used_mib(&self) -> u64 {
        *self.used.lock()
    }

    /// Takes `mib` if it fits now.
    pub fn try_lease(&self, mib: u64) -> Option<MemoryLease> {
        let mut used = self.used.lock();
        if *used + mib > self.limit_mib {
            return None;
        }
        *used += mib;
        Some(MemoryLease { mib, used: self.used.clone(), freed: self.freed.clone() })
    }

    /// Wakes cold starts waiting for memory: a sandbox became idle, so one
    /// can be evicted now.
    pub fn evictable(&self) {
        self.freed.notify_waiters();
    }

    /// Signalled when some lease was returned or a sandbox became
    /// evictable. Create the `notified()` future before checking, so a
    /// signal between the check and the wait is not lost.
    pub fn changes(&self) -> &tokio::sync::Notify {
        &self.freed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_functions_are_capped_and_carved_out_of_the_account() {
        let c = Concurrency::new(20);
        c.set_reserved("r", Some(2)).unwrap();
        assert_eq!(c.unreserved(), 18);
        let a = c.admit("r").unwrap();
        let _b = c.admit("r").unwrap();
        assert_eq!(c.admit("r").err(), Some(RESERVED_LIMIT_EXCEEDED));
        drop(a);
        assert!(c.admit("r").is_ok());
        let others: Vec<_> = (0..18).map(|i| c.admit(&format!("f{i}")).unwrap()).collect();
        assert_eq!(c.admit("g").err(), Some(ACCOUNT_LIMIT_EXCEEDED));
        drop(others);
        assert!(c.admit("g").is_ok());
    }

    #[test]
    fn reservations_keep_the_minimum_unreserved() {
        let c = Concurrency::new(1000);
        assert!(c.set_reserved("a", Some(900)).is_ok());
        assert!(c.set_reserved("b", Some(1)).is_err());
        assert!(c.set_reserved("a", Some(899)).is_ok());
        assert!(c.set_reserved("b", Some(1)).is_ok());
        c.set_reserved("a", None).unwrap();
        assert_eq!(c.unreserved(), 999);
    }

    #[test]
    fn zero_reserved_throttles_everything() {
        let c = Concurrency::new(10);
        c.set_reserved("z", Some(0)).unwrap();
        assert_eq!(c.admit("z").err(), Some(RESERVED_LIMIT_EXCEEDED));
    }

    #[test]
    fn capacity_leases_return_on_drop() {
        let cap = Capacity::new(256);
        let a = cap.try_lease(128).unwrap();
        let _b = cap.try_lease(128).unwrap();
        assert!(cap.try_lease(128).is_none());
        drop(a);
        assert!(cap.try_lease(128).is_some());
    }
}
