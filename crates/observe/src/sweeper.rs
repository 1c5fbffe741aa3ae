//! The retention sweeper: one background task that, every period, deletes
//! the events older than their group's retention (PutRetentionPolicy), so
//! log storage stays bounded. Groups without a policy keep everything, as
//! in CloudWatch Logs ("Never expire").

use std::sync::Arc;
use std::time::Duration;

use crate::db::LogDb;

/// Environment variable setting the sweep period in seconds (fractions allowed).
pub const SWEEP_ENV: &str = "LAMINA_LOG_SWEEP_SECS";
pub const DEFAULT_SWEEP_SECS: u64 = 60;

/// The sweep period: `LAMINA_LOG_SWEEP_SECS` if it is a positive number, else the default.
pub fn period_from_env() -> Duration {
    let default = Duration::from_secs(DEFAULT_SWEEP_SECS);
    match std::env::var(SWEEP_ENV) {
        Err(_) => default,
        Ok(text) => match text.trim().parse::<f64>() {
            Ok(secs) if secs.is_finite() && secs > 0.0 => Duration::from_secs_f64(secs),
            _ => {
                tracing::warn!(value = %text, "ignoring {SWEEP_ENV}: not a positive number of seconds");
                default
            }
        },
    }
}

/// Starts sweeping on the current tokio runtime (none: no sweeper, said loudly).
pub fn start(db: Arc<LogDb>, period: Duration) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("no async runtime: log retention will not be enforced");
        return;
    };
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let db = db.clone();
            match tokio::task::spawn_blocking(move || db.sweep(lamina_core::now_ms())).await {
                Ok(Ok(0)) => {}
                Ok(Ok(deleted)) => tracing::info!(deleted, "expired log events deleted"),
                Ok(Err(e)) => tracing::warn!(error = %e, "log retention sweep failed"),
                Err(e) => tracing::warn!(error = %e, "log retention sweep panicked"),
            }
        }
    });
}
