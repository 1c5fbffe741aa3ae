//! Schedules compatible with EventBridge Scheduler (botocore `scheduler`,
//! rest-json) that invoke Lamina functions.
//!
//! - The API ([`api`]): Create/Get/Update/Delete/ListSchedules, schedule
//!   groups (`default` always exists) and group tags, under `/schedules`,
//!   `/schedule-groups` and `/tags`. Requests are checked by [`validate`];
//!   errors leave through [`error::ScheduleError`].
//! - When a schedule fires ([`expr`], [`cron`]): `rate(...)`, AWS's
//!   six-field `cron(...)` and `at(...)`, in an IANA time zone with
//!   EventBridge Scheduler's DST rules, between StartDate and EndDate, with
//!   an optional flexible window.
//! - State ([`service::Schedules`]): every schedule in memory, with its
//!   next fire time in a min-heap; persisted in `<data_dir>/schedules.sqlite`
//!   ([`store`]) with that time, so a restart keeps schedules and fires
//!   each one that came due while the server was down exactly once.
//! - Delivery ([`ticker`]): one tokio task sleeps until the earliest fire
//!   and queues an async invocation of the target function
//!   ([`lamina_scheduler::Scheduler::enqueue`]); the platform's async queue
//!   then runs it with its retries and destinations.
//!
//! [`router`] is what the server merges into its router; it opens the
//! store and starts the ticker, once per scheduler.

pub mod api;
pub mod cron;
pub mod error;
pub mod expr;
pub mod model;
pub mod service;
pub mod store;
pub mod ticker;
pub mod validate;

use axum::routing::{get, post};
use axum::Router;
use lamina_scheduler::Scheduler;
use parking_lot::Mutex;
use service::Schedules;
use std::sync::{Arc, Weak};

/// The schedules of this process, shared by every router built for the
/// same scheduler so that only one ticker runs.
static SHARED: Mutex<Option<(Weak<Scheduler>, Weak<Schedules>)>> = Mutex::new(None);

fn shared(scheduler: &Arc<Scheduler>) -> Arc<Schedules> {
    let mut slot = SHARED.lock();
    if let Some((s, sc)) = slot.as_ref() {
        if let (Some(s), Some(sc)) = (s.upgrade(), sc.upgrade()) {
            if Arc::ptr_eq(&s, scheduler) {
                return sc;
            }
        }
    }
    let config = scheduler.config();
    let now = lamina_core::now_ms();
    let path = config.data_dir.join("schedules.sqlite");
    let opened = store::Store::open(&path)
        .map_err(error::ScheduleError::from)
        .and_then(|st| Schedules::open(st, &config.region, &config.account_id, now));
    let schedules = match opened {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "cannot open the schedule store; schedules will not persist");
            let memory = store::Store::in_memory()
                .map_err(error::ScheduleError::from)
                .and_then(|st| Schedules::open(st, &config.region, &config.account_id, now));
            match memory {
                Ok(s) => s,
                // An in-memory SQLite database failing to open means the
                // process cannot allocate; nothing sensible remains.
                Err(e) => panic!("cannot create an in-memory schedule store: {e}"),
            }
        }
    };
    let schedules = Arc::new(schedules);
    ticker::spawn(schedules.clone(), Arc::downgrade(scheduler));
    *slot = Some((Arc::downgrade(scheduler), Arc::downgrade(&schedules)));
    schedules
}

/// The EventBridge Scheduler API (`/schedules...`, `/schedule-groups...`,
/// `/tags/{arn}`), merged into the main router by path; starts the ticker.
pub fn router(scheduler: Arc<Scheduler>) -> Router {
    let schedules = shared(&scheduler);
    routes(schedules)
}

/// The routes over a given [`Schedules`] (tests drive this without a
/// scheduler or a socket).
pub fn routes(schedules: Arc<Schedules>) -> Router {
    Router::new()
        .route("/schedules", get(api::list))
        .route("/schedules/{name}", post(api::create).get(api::get).put(api::update).delete(api::delete))
        .route("/schedule-groups", get(api::list_groups))
        .route("/schedule-groups/{name}", post(api::create_group).get(api::get_group).delete(api::delete_group))
        .route("/tags/{arn}", get(api::list_tags).post(api::tag).delete(api::untag))
        .with_state(schedules)
}
