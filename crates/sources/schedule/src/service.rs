//! The schedules of this process: their records, their next fire times and
//! the min-heap the ticker sleeps on.
//!
//! One lock guards the map, the heap and the SQLite connection, so a
//! change and its write are one step. The heap holds `(fire_ms, generation,
//! key)`; a schedule's generation changes whenever it is rescheduled,
//! updated or deleted, and heap entries of an older generation are dropped
//! when they surface (lazy deletion). Each fire costs O(log n), whatever
//! the number of schedules.

use parking_lot::Mutex;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::hash::BuildHasher;

use crate::error::ScheduleError;
use crate::expr::Plan;
use crate::model::{secs, Group, Schedule, ScheduleInput, Tag};
use crate::store::{Next, Store};
use crate::validate::{self, DEFAULT_GROUP};

/// `(group, name)`.
pub type Key = (String, String);

struct Entry {
    schedule: Schedule,
    plan: Plan,
    next: Option<Next>,
    generation: u64,
    /// Failed delivery attempts of the current fire (not persisted: after a
    /// restart the fire is simply due again).
    attempts: u32,
}

struct State {
    store: Store,
    groups: BTreeMap<String, Group>,
    schedules: BTreeMap<Key, Entry>,
    heap: BinaryHeap<Reverse<(i64, u64, Key)>>,
    generation: u64,
}

/// One delivery the ticker must make.
#[derive(Debug, Clone)]
pub struct Firing {
    pub key: Key,
    pub generation: u64,
    pub arn: String,
    pub due_ms: i64,
    pub attempt: u32,
    pub target_arn: String,
    pub input: Option<String>,
    pub max_attempts: u32,
    pub max_age_ms: i64,
}

pub struct Schedules {
    region: String,
    account: String,
    state: Mutex<State>,
    /// Woken when the earliest fire time may have changed.
    pub wake: tokio::sync::Notify,
}

/// Delay before retrying a delivery the platform could not accept.
fn retry_delay_ms(attempt: u32) -> i64 {
    1000 * (1i64 << attempt.min(6))
}

impl Schedules {
    /// Loads every stored schedule; those that came due while the server
    /// was down are in the heap with a past time, so the ticker fires each
    /// once at start and then continues from now.
    pub fn open(store: Store, region: &str, account: &str, now_ms: i64) -> Result<Self, ScheduleError> {
        let mut state = State {
            store,
            groups: BTreeMap::new(),
            schedules: BTreeMap::new(),
            heap: BinaryHeap::new(),
            generation: 0,
        };
        for g in state.store.groups()? {
            state.groups.insert(g.name.clone(), g);
        }
        let me =
            Self { region: region.into(), account: account.into(), state: Mutex::new(state), wake: Default::default() };
        let mut st = me.state.lock();
        if !st.groups.contains_key(DEFAULT_GROUP) {
            let g = me.new_group(DEFAULT_GROUP, Vec::new(), now_ms);
            st.store.put_group(&g)?;
            st.groups.insert(DEFAULT_GROUP.into(), g);
        }
        let mut missed = 0;
        for (schedule, next) in st.store.schedules()? {
            let input = restore_input(&schedule);
            let created = millis_of(schedule.creation_date);
            let modified = millis_of(schedule.last_modification_date);
            let arn = schedule.arn.clone();
            let checked = match validate::schedule(
                &schedule.name,
                &schedule.group_name,
                arn,
                input,
                Some(created),
                modified,
            ) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(schedule = schedule.arn, error = %e, "a stored schedule is no longer valid; skipped");
                    continue;
                }
            };
            // Keep the stored record as it was (dates, defaults).
            let plan = checked.plan;
            let key = (schedule.group_name.clone(), schedule.name.clone());
            let next = if schedule.enabled() { next } else { None };
            if matches!(next, Some(n) if n.fire_ms <= now_ms) {
                missed += 1;
            }
            st.generation += 1;
            let generation = st.generation;
            if let Some(n) = next {
                st.heap.push(Reverse((n.fire_ms, generation, key.clone())));
            }
            st.schedules.insert(key, Entry { schedule, plan, next, generation, attempts: 0 });
        }
        tracing::info!(schedules = st.schedules.len(), missed, "schedules loaded");
        drop(st);
        Ok(me)
    }

    fn schedule_arn(&self, group: &str, name: &str) -> String {
        format!("arn:aws:scheduler:{}:{}:schedule/{group}/{name}", self.region, self.account)
    }

    fn group_arn(&self, name: &str) -> String {
        format!("arn:aws:scheduler:{}:{}:schedule-group/{name}", self.region, self.account)
    }

    fn new_group(&self, name: &str, tags: Vec<Tag>, now_ms: i64) -> Group {
        Group {
            arn: self.group_arn(name),
            name: name.into(),
            state: "ACTIVE".into(),
            creation_date: secs(now_ms),
            last_modification_date: secs(now_ms),
            tags,
        }
    }

    // ---- schedules ----

    pub fn create(&self, name: &str, input: ScheduleInput, now_ms: i64) -> Result<String, ScheduleError> {
        let group = input.group_name.clone().unwrap_or_else(|| DEFAULT_GROUP.into());
        validate::name(&group, "groupName")?;
        let arn = self.schedule_arn(&group, name);
        let checked = validate::schedule(name, &group, arn.clone(), input, None, now_ms)?;
        let mut st = self.state.lock();
        if !st.groups.contains_key(&group) {
            return Err(ScheduleError::group_not_found(&group));
        }
        let key = (group, name.to_string());
        if st.schedules.contains_key(&key) {
            return Err(ScheduleError::Conflict(format!("Schedule {name} already exists.")));
        }
        self.install(&mut st, key, checked.schedule, checked.plan, now_ms)?;
        Ok(arn)
    }

    pub fn update(&self, name: &str, input: ScheduleInput, now_ms: i64) -> Result<String, ScheduleError> {
        let group = input.group_name.clone().unwrap_or_else(|| DEFAULT_GROUP.into());
        validate::name(&group, "groupName")?;
        let key = (group.clone(), name.to_string());
        let created = {
            let st = self.state.lock();
            let entry = st.schedules.get(&key).ok_or_else(|| ScheduleError::schedule_not_found(name))?;
            millis_of(entry.schedule.creation_date)
        };
        let arn = self.schedule_arn(&group, name);
        let checked = validate::schedule(name, &group, arn.clone(), input, Some(created), now_ms)?;
        let mut st = self.state.lock();
        if !st.schedules.contains_key(&key) {
            return Err(ScheduleError::schedule_not_found(name));
        }
        self.install(&mut st, key, checked.schedule, checked.plan, now_ms)?;
        Ok(arn)
    }

    /// Stores a new or changed schedule with its first fire time and puts
    /// it in the heap.
    fn install(
        &self,
        st: &mut State,
        key: Key,
        schedule: Schedule,
        plan: Plan,
        now_ms: i64,
    ) -> Result<(), ScheduleError> {
        let next = if schedule.enabled() { next_fire(&schedule, &plan, now_ms - 1) } else { None };
        st.store.put_schedule(&schedule, next)?;
        st.generation += 1;
        let generation = st.generation;
        if let Some(n) = next {
            st.heap.push(Reverse((n.fire_ms, generation, key.clone())));
        }
        st.schedules.insert(key, Entry { schedule, plan, next, generation, attempts: 0 });
        drop_stale(st);
        self.wake.notify_one();
        Ok(())
    }

    pub fn get(&self, group: Option<&str>, name: &str) -> Result<Schedule, ScheduleError> {
        let key = (group.unwrap_or(DEFAULT_GROUP).to_string(), name.to_string());
        let st = self.state.lock();
        st.schedules.get(&key).map(|e| e.schedule.clone()).ok_or_else(|| ScheduleError::schedule_not_found(name))
    }

    pub fn delete(&self, group: Option<&str>, name: &str) -> Result<(), ScheduleError> {
        let key = (group.unwrap_or(DEFAULT_GROUP).to_string(), name.to_string());
        let mut st = self.state.lock();
        if !st.schedules.contains_key(&key) {
            return Err(ScheduleError::schedule_not_found(name));
        }
        st.store.delete_schedule(&key.0, &key.1)?;
        st.schedules.remove(&key);
        drop_stale(&mut st);
        Ok(())
    }

    /// ListSchedules: sorted by group and name; the token is the last key.
    pub fn list(
        &self,
        group: Option<&str>,
        prefix: Option<&str>,
        state: Option<&str>,
        token: Option<&str>,
        max: usize,
    ) -> Result<(Vec<serde_json::Value>, Option<String>), ScheduleError> {
        let st = self.state.lock();
        if let Some(g) = group {
            if !st.groups.contains_key(g) {
                return Err(ScheduleError::group_not_found(g));
            }
        }
        let after = token.map(parse_token).transpose()?;
        let mut out = Vec::new();
        let mut last = None;
        let range = match &after {
            Some(k) => st.schedules.range::<Key, _>((std::ops::Bound::Excluded(k), std::ops::Bound::Unbounded)),
            None => st.schedules.range::<Key, _>(..),
        };
        for (key, e) in range {
            if group.is_some_and(|g| g != key.0)
                || prefix.is_some_and(|p| !key.1.starts_with(p))
                || state.is_some_and(|s| s != e.schedule.state)
            {
                continue;
            }
            if out.len() == max {
                return Ok((out, last.map(|(g, n): &Key| format!("{g}/{n}"))));
            }
            out.push(e.schedule.summary());
            last = Some(key);
        }
        Ok((out, None))
    }

    // ---- groups ----

    pub fn create_group(&self, name: &str, tags: Vec<Tag>, now_ms: i64) -> Result<String, ScheduleError> {
        validate::name(name, "name")?;
        let mut st = self.state.lock();
        if st.groups.contains_key(name) {
            return Err(ScheduleError::Conflict(format!("Schedule group {name} already exists.")));
        }
        let g = self.new_group(name, tags, now_ms);
        st.store.put_group(&g)?;
        let arn = g.arn.clone();
        st.groups.insert(name.into(), g);
        Ok(arn)
    }

    pub fn get_group(&self, name: &str) -> Result<Group, ScheduleError> {
        self.state.lock().groups.get(name).cloned().ok_or_else(|| ScheduleError::group_not_found(name))
    }

    /// Deletes a group and every schedule in it.
    pub fn delete_group(&self, name: &str) -> Result<(), ScheduleError> {
        if name == DEFAULT_GROUP {
            return Err(ScheduleError::Validation("The default schedule group cannot be deleted.".into()));
        }
        let mut st = self.state.lock();
        if !st.groups.contains_key(name) {
            return Err(ScheduleError::group_not_found(name));
        }
        st.store.delete_group(name)?;
        st.groups.remove(name);
        st.schedules.retain(|(g, _), _| g != name);
        drop_stale(&mut st);
        Ok(())
    }

    pub fn list_groups(
        &self,
        prefix: Option<&str>,
        token: Option<&str>,
        max: usize,
    ) -> (Vec<serde_json::Value>, Option<String>) {
        let st = self.state.lock();
        let mut out = Vec::new();
        let mut last: Option<&String> = None;
        for (name, g) in st.groups.iter() {
            if token.is_some_and(|t| name.as_str() <= t) || prefix.is_some_and(|p| !name.starts_with(p)) {
                continue;
            }
            if out.len() == max {
                return (out, last.cloned());
            }
            out.push(g.wire());
            last = Some(name);
        }
        (out, None)
    }

    /// The group a tagging ARN names.
    fn group_of_arn<'a>(&self, arn: &'a str) -> Result<&'a str, ScheduleError> {
        arn.split_once(":schedule-group/")
            .map(|(_, n)| n)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| ScheduleError::Validation(format!("Invalid ResourceArn {arn}: not a schedule group ARN.")))
    }

    pub fn tags(&self, arn: &str) -> Result<Vec<Tag>, ScheduleError> {
        Ok(self.get_group(self.group_of_arn(arn)?)?.tags)
    }

    pub fn tag(&self, arn: &str, tags: Vec<Tag>) -> Result<(), ScheduleError> {
        let name = self.group_of_arn(arn)?;
        let mut st = self.state.lock();
        let mut g = st.groups.get(name).cloned().ok_or_else(|| ScheduleError::group_not_found(name))?;
        for t in tags {
            g.tags.retain(|old| old.key != t.key);
            g.tags.push(t);
        }
        st.store.put_group(&g)?;
        st.groups.insert(name.into(), g);
        Ok(())
    }

    pub fn untag(&self, arn: &str, keys: &[String]) -> Result<(), ScheduleError> {
        let name = self.group_of_arn(arn)?;
        let mut st = self.state.lock();
        let mut g = st.groups.get(name).cloned().ok_or_else(|| ScheduleError::group_not_found(name))?;
        g.tags.retain(|t| !keys.contains(&t.key));
        st.store.put_group(&g)?;
        st.groups.insert(name.into(), g);
        Ok(())
    }

    // ---- the ticker's side ----

    /// Takes every firing due at `now_ms` off the heap; also returns the
    /// earliest fire time still waiting.
    pub fn take_due(&self, now_ms: i64) -> (Vec<Firing>, Option<i64>) {
        let mut st = self.state.lock();
        let mut due = Vec::new();
        while let Some(Reverse((fire_ms, generation, key))) = st.heap.peek() {
            let live = st.schedules.get(key).is_some_and(|e| e.generation == *generation);
            if !live {
                st.heap.pop();
                continue;
            }
            if *fire_ms > now_ms {
                return (due, Some(*fire_ms));
            }
            let Some(Reverse((_, generation, key))) = st.heap.pop() else { break };
            if let Some(e) = st.schedules.get(&key) {
                if let Some(next) = e.next {
                    let retry = e.schedule.target.retry_policy.unwrap_or_default();
                    due.push(Firing {
                        arn: e.schedule.arn.clone(),
                        due_ms: next.due_ms,
                        attempt: e.attempts + 1,
                        target_arn: e.schedule.target.arn.clone(),
                        input: e.schedule.target.input.clone(),
                        max_attempts: retry.maximum_retry_attempts.unwrap_or(crate::model::DEFAULT_MAX_RETRY_ATTEMPTS)
                            as u32
                            + 1,
                        max_age_ms: retry
                            .maximum_event_age_in_seconds
                            .unwrap_or(crate::model::DEFAULT_MAX_EVENT_AGE_SECS)
                            * 1000,
                        key,
                        generation,
                    });
                }
            }
        }
        (due, None)
    }

    /// Records the outcome of a firing. A delivered (or given-up) fire
    /// moves the schedule on to its next time after now — one fire however
    /// many ticks were missed — and stores it; a failed delivery is tried
    /// again after a delay while the retry policy allows.
    pub fn finish(&self, f: &Firing, delivered: bool, now_ms: i64) {
        let mut st = self.state.lock();
        let st = &mut *st;
        let Some(e) = st.schedules.get_mut(&f.key) else { return };
        if e.generation != f.generation {
            return; // changed while firing: the new version has its own time
        }
        st.generation += 1;
        e.generation = st.generation;
        if !delivered && f.attempt < f.max_attempts && now_ms - f.due_ms < f.max_age_ms {
            e.attempts = f.attempt;
            let at = now_ms + retry_delay_ms(f.attempt);
            if let Some(n) = e.next.as_mut() {
                n.fire_ms = at;
            }
            st.heap.push(Reverse((at, e.generation, f.key.clone())));
            return;
        }
        e.attempts = 0;
        let next = next_fire(&e.schedule, &e.plan, now_ms.max(f.due_ms));
        e.next = next;
        if let Some(n) = next {
            st.heap.push(Reverse((n.fire_ms, e.generation, f.key.clone())));
        }
        let result = if next.is_none() && e.schedule.action_after_completion == "DELETE" {
            tracing::info!(schedule = f.arn, "schedule completed; deleting it (ActionAfterCompletion DELETE)");
            st.schedules.remove(&f.key);
            st.store.delete_schedule(&f.key.0, &f.key.1)
        } else {
            st.store.set_next(&f.key.0, &f.key.1, next)
        };
        if let Err(e) = result {
            // The fire was delivered; if the server restarts before a later
            // write succeeds, the schedule fires once more (at least once).
            tracing::error!(schedule = f.arn, error = %e, "cannot record a schedule's next fire time");
        }
    }

    pub fn len(&self) -> usize {
        self.state.lock().schedules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stored next fire of a schedule (tests).
    pub fn stored_next(&self, group: &str, name: &str) -> Option<Next> {
        self.state.lock().store.next_of(group, name).ok().flatten()
    }
}

/// The next fire after `after_ms`, with the flexible window's random delay.
fn next_fire(s: &Schedule, plan: &Plan, after_ms: i64) -> Option<Next> {
    let due_ms = plan.next_after(after_ms)?;
    let window_ms = match (s.flexible_time_window.mode.as_str(), s.flexible_time_window.maximum_window_in_minutes) {
        ("FLEXIBLE", Some(m)) if m > 0 => m * 60_000,
        _ => 0,
    };
    let offset = if window_ms > 0 {
        // Uniform enough for spreading load; RandomState is seeded per call.
        (std::collections::hash_map::RandomState::new().hash_one(due_ms) % window_ms as u64) as i64
    } else {
        0
    };
    Some(Next { due_ms, fire_ms: due_ms + offset })
}

/// Drops dead heap entries once they outnumber the live ones, so a
/// stream of updates cannot grow the heap without bound.
fn drop_stale(st: &mut State) {
    if st.heap.len() > 2 * st.schedules.len() + 1024 {
        let heap = std::mem::take(&mut st.heap);
        st.heap = heap
            .into_iter()
            .filter(|Reverse((_, g, k))| st.schedules.get(k).is_some_and(|e| e.generation == *g))
            .collect();
    }
}

fn parse_token(t: &str) -> Result<Key, ScheduleError> {
    t.split_once('/')
        .map(|(g, n)| (g.to_string(), n.to_string()))
        .ok_or_else(|| ScheduleError::Validation("Invalid NextToken.".into()))
}

fn millis_of(secs: f64) -> i64 {
    crate::model::millis(secs)
}

/// A stored schedule as the request that made it (to rebuild its plan).
fn restore_input(s: &Schedule) -> ScheduleInput {
    ScheduleInput {
        group_name: Some(s.group_name.clone()),
        schedule_expression: Some(s.schedule_expression.clone()),
        schedule_expression_timezone: s.schedule_expression_timezone.clone(),
        start_date: s.start_date.map(serde_json::Value::from),
        end_date: s.end_date.map(serde_json::Value::from),
        description: s.description.clone(),
        state: Some(s.state.clone()),
        kms_key_arn: s.kms_key_arn.clone(),
        target: Some(s.target.clone()),
        flexible_time_window: Some(s.flexible_time_window.clone()),
        action_after_completion: Some(s.action_after_completion.clone()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:f";
    const ROLE: &str = "arn:aws:iam::000000000000:role/r";
    const MIN: i64 = 60_000;

    fn input(expr: &str) -> ScheduleInput {
        input_with(json!({ "ScheduleExpression": expr }))
    }

    fn input_with(extra: serde_json::Value) -> ScheduleInput {
        let mut body = json!({
            "Target": { "Arn": ARN, "RoleArn": ROLE },
            "FlexibleTimeWindow": { "Mode": "OFF" },
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        serde_json::from_value(body).unwrap()
    }

    fn open(path: &std::path::Path, now: i64) -> Schedules {
        Schedules::open(Store::open(path).unwrap(), "us-east-1", "000000000000", now).unwrap()
    }

    fn memory(now: i64) -> Schedules {
        Schedules::open(Store::in_memory().unwrap(), "us-east-1", "000000000000", now).unwrap()
    }

    /// 2026-01-01T00:00:00Z
    const T0: i64 = 1_767_225_600_000;

    #[test]
    fn crud_and_errors() {
        let s = memory(T0);
        let arn = s.create("a", input("rate(5 minutes)"), T0).unwrap();
        assert_eq!(arn, "arn:aws:scheduler:us-east-1:000000000000:schedule/default/a");
        assert!(matches!(s.create("a", input("rate(5 minutes)"), T0), Err(ScheduleError::Conflict(_))));
        assert_eq!(s.get(None, "a").unwrap().schedule_expression, "rate(5 minutes)");
        assert!(matches!(s.get(None, "b"), Err(ScheduleError::NotFound(_))));
        s.update("a", input("cron(0 12 * * ? *)"), T0 + 1000).unwrap();
        assert_eq!(s.stored_next("default", "a").unwrap().due_ms, T0 + 12 * 60 * MIN);
        assert!(matches!(s.update("zz", input("rate(1 hour)"), T0), Err(ScheduleError::NotFound(_))));
        for bad in [
            input("cron(0 12 * * * *)"),
            input("rate(0 minutes)"),
            input("every day"),
            input_with(json!({"ScheduleExpression": "rate(1 hour)", "ScheduleExpressionTimezone": "Nowhere/Void"})),
            input_with(
                json!({"ScheduleExpression": "rate(1 hour)", "StartDate": 1_800_000_000, "EndDate": 1_790_000_000}),
            ),
            input_with(json!({"ScheduleExpression": "rate(1 hour)", "State": "PAUSED"})),
            input_with(json!({"ScheduleExpression": "rate(1 hour)", "FlexibleTimeWindow": {"Mode": "FLEXIBLE"}})),
            input_with(
                json!({"ScheduleExpression": "rate(1 hour)", "Target": {"Arn": "arn:aws:sqs:us-east-1:000000000000:q", "RoleArn": ROLE}}),
            ),
            input_with(json!({"ScheduleExpression": "rate(1 hour)", "Target": {"Arn": ARN}})),
            serde_json::from_value(json!({"ScheduleExpression": "rate(1 hour)"})).unwrap(),
        ] {
            assert!(matches!(s.create("b", bad, T0), Err(ScheduleError::Validation(_))));
        }
        assert!(matches!(s.create("bad/name", input("rate(1 hour)"), T0), Err(ScheduleError::Validation(_))));
        let in_group = input_with(json!({"ScheduleExpression": "rate(1 hour)", "GroupName": "g"}));
        assert!(matches!(s.create("b", in_group, T0), Err(ScheduleError::NotFound(_))));
        s.create_group("g", Vec::new(), T0).unwrap();
        s.create("b", input_with(json!({"ScheduleExpression": "rate(1 hour)", "GroupName": "g"})), T0).unwrap();
        s.create("c", input_with(json!({"ScheduleExpression": "rate(1 hour)", "State": "DISABLED"})), T0).unwrap();
        assert!(s.stored_next("default", "c").is_none());
        let (all, next) = s.list(None, None, None, None, 2).unwrap();
        assert_eq!(all.len(), 2);
        let (rest, none) = s.list(None, None, None, next.as_deref(), 2).unwrap();
        assert_eq!((rest.len(), none), (1, None));
        assert_eq!(s.list(Some("g"), None, None, None, 100).unwrap().0.len(), 1);
        assert_eq!(s.list(None, None, Some("DISABLED"), None, 100).unwrap().0.len(), 1);
        assert_eq!(s.list(None, Some("c"), None, None, 100).unwrap().0.len(), 1);
        s.delete_group("g").unwrap();
        assert!(matches!(s.get(Some("g"), "b"), Err(ScheduleError::NotFound(_))));
        assert!(matches!(s.delete_group("default"), Err(ScheduleError::Validation(_))));
        s.delete(None, "a").unwrap();
        assert!(matches!(s.delete(None, "a"), Err(ScheduleError::NotFound(_))));
    }

    #[test]
    fn rate_fires_immediately_then_every_interval() {
        let s = memory(T0);
        s.create("r", input("rate(5 minutes)"), T0).unwrap();
        let (due, _) = s.take_due(T0);
        assert_eq!(due.len(), 1);
        s.finish(&due[0], true, T0 + 5);
        let (due, earliest) = s.take_due(T0 + 10);
        assert!(due.is_empty());
        assert_eq!(earliest, Some(T0 + 5 * MIN));
    }

    #[test]
    fn missed_fires_run_once_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("schedules.sqlite");
        {
            let s = open(&path, T0);
            s.create("once", input("at(2026-01-01T00:00:02)"), T0).unwrap();
            s.create("often", input("rate(1 minute)"), T0).unwrap();
            // "often" fired at creation; then the server stopped.
            let (due, _) = s.take_due(T0);
            assert_eq!(due.len(), 1);
            s.finish(&due[0], true, T0);
        }
        // Down for an hour: 60 ticks of "often" and the at() were missed.
        let later = T0 + 60 * MIN + 30_000;
        let s = open(&path, later);
        assert_eq!(s.len(), 2);
        let (due, _) = s.take_due(later);
        let mut names: Vec<_> = due.iter().map(|f| f.key.1.clone()).collect();
        names.sort();
        assert_eq!(names, ["often", "once"]);
        for f in &due {
            s.finish(f, true, later);
        }
        let (again, earliest) = s.take_due(later + 1);
        assert!(again.is_empty());
        // Continues from now: the next "often" tick after the restart.
        assert_eq!(earliest, Some(T0 + 61 * MIN));
        assert!(s.stored_next("default", "once").is_none());
        assert_eq!(s.stored_next("default", "often").unwrap().due_ms, T0 + 61 * MIN);
    }

    #[test]
    fn failed_delivery_is_retried_then_moves_on() {
        let s = memory(T0);
        let retry = json!({"Arn": ARN, "RoleArn": ROLE, "RetryPolicy": {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 60}});
        s.create("r", input_with(json!({"ScheduleExpression": "rate(1 hour)", "Target": retry})), T0).unwrap();
        let (due, _) = s.take_due(T0);
        s.finish(&due[0], false, T0);
        let (due, earliest) = s.take_due(T0);
        assert!(due.is_empty());
        assert_eq!(earliest, Some(T0 + 2000));
        let (due, _) = s.take_due(T0 + 2000);
        assert_eq!(due[0].attempt, 2);
        s.finish(&due[0], false, T0 + 2000);
        // Out of attempts: on to the next hour.
        assert_eq!(s.take_due(T0 + 2001).1, Some(T0 + 60 * MIN));
    }

    #[test]
    fn at_with_delete_after_completion_is_removed() {
        let s = memory(T0);
        let body = json!({"ScheduleExpression": "at(2026-01-01T00:01:00)", "ActionAfterCompletion": "DELETE"});
        s.create("x", input_with(body), T0).unwrap();
        assert!(s.take_due(T0).0.is_empty());
        let (due, _) = s.take_due(T0 + MIN);
        s.finish(&due[0], true, T0 + MIN);
        assert!(s.get(None, "x").is_err());
    }

    #[test]
    fn thousands_of_schedules_cost_little_per_tick() {
        let s = memory(T0);
        let n = 5_000;
        for i in 0..n {
            // Spread over the next n minutes.
            let minute = (i % 60, (i / 60) % 24);
            let expr = format!("cron({} {} * * ? *)", minute.0, minute.1);
            s.create(&format!("s{i}"), input(&expr), T0).unwrap();
        }
        // Idle ticks: peek only.
        let start = std::time::Instant::now();
        for _ in 0..10_000 {
            let (due, earliest) = s.take_due(T0 - 1);
            assert!(due.is_empty() && earliest.is_some());
        }
        let idle = start.elapsed() / 10_000;
        // Fires: every schedule due in the first day, once each.
        let start = std::time::Instant::now();
        let mut fired = 0;
        let mut now = T0;
        while fired < n {
            now += MIN;
            let (due, _) = s.take_due(now);
            for f in &due {
                s.finish(f, true, now);
            }
            fired += due.len();
        }
        let per_fire = start.elapsed() / n as u32;
        eprintln!("idle tick {idle:?}, per fire {per_fire:?} with {n} schedules");
        assert!(idle < std::time::Duration::from_micros(50), "idle tick {idle:?}");
        assert!(per_fire < std::time::Duration::from_millis(1), "per fire {per_fire:?}");
    }
}
