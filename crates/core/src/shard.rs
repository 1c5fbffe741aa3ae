//! Which shard of the server the current thread serves, if any.
//!
//! With `lamina server --shards N` the HTTP data path runs on N threads,
//! each with its own single-threaded async runtime and its own listening
//! socket on the API port (SO_REUSEPORT spreads connections over them). A
//! request is then handled start to finish on one thread, and the
//! scheduler prefers a warm sandbox whose Runtime API is served by the same
//! thread, so an invocation's hand-offs stay on one core instead of waking
//! another (where new sandboxes go: `lamina_scheduler::placement`). Threads
//! outside the shards (the control runtime, background work) have no shard
//! and take any sandbox.

use std::cell::Cell;

thread_local! {
    static SHARD: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Marks the current thread as shard `index` for the rest of its life.
pub fn enter(index: usize) {
    SHARD.with(|s| s.set(Some(index)));
}

/// The current thread's shard, if it is one.
pub fn current() -> Option<usize> {
    SHARD.with(Cell::get)
}

#[cfg(test)]
mod tests {
    #[test]
    fn shards_are_per_thread() {
        assert_eq!(super::current(), None);
        super::enter(3);
        assert_eq!(super::current(), Some(3));
        assert_eq!(std::thread::spawn(super::current).join().ok(), Some(None));
    }
}
