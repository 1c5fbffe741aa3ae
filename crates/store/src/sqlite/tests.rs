//! The store contract, run against SQLite (in memory and on disk).

use super::*;
use lamina_core::function::{State, UpdateStatus};

fn version(name: &str, sha: &str) -> FunctionVersion {
    FunctionVersion {
        name: name.into(),
        version: LATEST.into(),
        runtime: "python3.12".into(),
        handler: "app.handler".into(),
        role: "arn:aws:iam::000000000000:role/r".into(),
        description: String::new(),
        memory_mib: 128,
        timeout_secs: 3,
        ephemeral_mib: 512,
        env: BTreeMap::new(),
        architectures: vec!["x86_64".into()],
        tracing_mode: "PassThrough".into(),
        dead_letter_arn: None,
        code_sha256: sha.into(),
        code_size: 10,
        last_modified_ms: 1,
        revision_id: "r1".into(),
        state: State::Active,
        last_update: UpdateStatus::Successful,
    }
}

#[test]
fn functions_are_created_once_listed_in_order_and_deleted() {
    let s = SqliteStore::in_memory().unwrap();
    s.create_function(&version("b", "aa"), &BTreeMap::new()).unwrap();
    s.create_function(&version("a", "aa"), &BTreeMap::new()).unwrap();
    assert!(matches!(s.create_function(&version("a", "aa"), &BTreeMap::new()), Err(StoreError::Conflict)));
    let names: Vec<_> = s.list_functions(None, 10).unwrap().into_iter().map(|v| v.name).collect();
    assert_eq!(names, ["a", "b"]);
    let page: Vec<_> = s.list_functions(Some("a"), 10).unwrap().into_iter().map(|v| v.name).collect();
    assert_eq!(page, ["b"]);
    s.delete_function("a").unwrap();
    assert!(matches!(s.get_version("a", LATEST), Err(StoreError::NotFound)));
    assert!(matches!(s.delete_function("a"), Err(StoreError::NotFound)));
}

#[test]
fn publishing_numbers_versions_and_skips_unchanged_latest() {
    let s = SqliteStore::in_memory().unwrap();
    s.create_function(&version("f", "aa"), &BTreeMap::new()).unwrap();
    let v1 = s.publish_version("f", Some("first")).unwrap();
    assert_eq!(v1.version, "1");
    assert_eq!(v1.description, "first");
    assert_eq!(s.publish_version("f", None).unwrap().version, "1", "unchanged $LATEST republishes nothing");
    s.put_latest(&version("f", "bb")).unwrap();
    assert_eq!(s.publish_version("f", None).unwrap().version, "2");
    let all: Vec<_> = s.list_versions("f").unwrap().into_iter().map(|v| v.version).collect();
    assert_eq!(all, [LATEST, "1", "2"]);
    s.delete_version("f", "1").unwrap();
    s.put_latest(&version("f", "cc")).unwrap();
    assert_eq!(s.publish_version("f", None).unwrap().version, "3", "numbers are never reused");
}

#[test]
fn aliases_conflict_on_create_and_vanish_with_their_function() {
    let s = SqliteStore::in_memory().unwrap();
    s.create_function(&version("f", "aa"), &BTreeMap::new()).unwrap();
    let alias = Alias {
        function: "f".into(),
        name: "live".into(),
        version: "1".into(),
        description: String::new(),
        weights: BTreeMap::new(),
        revision_id: "x".into(),
    };
    s.put_alias(&alias, true).unwrap();
    assert!(matches!(s.put_alias(&alias, true), Err(StoreError::Conflict)));
    assert_eq!(s.get_alias("f", "live").unwrap(), alias);
    s.delete_function("f").unwrap();
    assert!(matches!(s.get_alias("f", "live"), Err(StoreError::NotFound)));
}

#[test]
fn queued_events_survive_reopening_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.sqlite");
    let e = {
        let s = SqliteStore::open(&path).unwrap();
        let e = QueuedEvent {
            id: 0,
            request_id: "r".into(),
            function: "f".into(),
            qualifier: None,
            payload: b"{}".to_vec(),
            attempts: 0,
            enqueued_ms: 5,
            not_before_ms: 5,
            trace_header: Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1".into()),
        };
        s.enqueue_event(&e).unwrap();
        e
    };
    let s = SqliteStore::open(&path).unwrap();
    let due = s.due_events(10, 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].payload, b"{}");
    assert_eq!(due[0].trace_header, e.trace_header, "the caller's trace is kept with the event");
    assert!(s.due_events(4, 10).unwrap().is_empty(), "not due before not_before_ms");
    s.delete_event(due[0].id).unwrap();
    assert_eq!(s.queued_event_count().unwrap(), 0);
}

#[test]
fn logs_read_back_in_order_after_an_id() {
    let s = SqliteStore::in_memory().unwrap();
    let lines = |t: &str| LogLines { group: "g".into(), stream: "s".into(), timestamp_ms: 1, text: t.into() };
    s.append_logs(&[lines("one\ntwo\n"), lines("three\n"), lines("")]).unwrap();
    let all = s.read_logs("g", 0, 10).unwrap();
    assert_eq!(all.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(), ["one", "two", "three"]);
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "ids grow");
    let rest = s.read_logs("g", all[0].id, 10).unwrap();
    assert_eq!(rest.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(), ["two", "three"], "resumes inside a row");
    let page = s.read_logs("g", 0, 1).unwrap();
    assert_eq!(page.len(), 1);
    assert!(s.read_logs("g", all[2].id, 10).unwrap().is_empty());
}

#[test]
fn settings_are_per_function_and_go_with_it() {
    let s = SqliteStore::in_memory().unwrap();
    assert!(matches!(s.put_setting("f", "reserved", "5"), Err(StoreError::NotFound)));
    s.create_function(&version("f", "aa"), &BTreeMap::new()).unwrap();
    s.put_setting("f", "reserved", "5").unwrap();
    s.put_setting("f", "reserved", "7").unwrap();
    s.put_setting("f", "provisioned:live", "{}").unwrap();
    assert_eq!(s.get_setting("f", "reserved").unwrap().as_deref(), Some("7"));
    assert_eq!(
        s.settings_with_prefix("provisioned:").unwrap(),
        vec![("f".into(), "provisioned:live".into(), "{}".into())]
    );
    assert!(s.delete_setting("f", "reserved").unwrap());
    assert!(!s.delete_setting("f", "reserved").unwrap());
    s.delete_function("f").unwrap();
    assert!(s.settings_with_prefix("").unwrap().is_empty());
}

#[test]
fn usage_adds_up_per_day_and_function() {
    let s = SqliteStore::in_memory().unwrap();
    let u = |day: &str, f: &str, ms: u64| Usage {
        day: day.into(),
        function: f.into(),
        requests: 1,
        billed_ms: ms,
        gb_seconds: ms as f64 / 1000.0 * 0.125,
    };
    s.record_usage(&[u("2026-11-22", "a", 10), u("2026-11-23", "a", 5)]).unwrap();
    s.record_usage(&[u("2026-11-23", "a", 7), u("2026-11-23", "b", 1)]).unwrap();
    let rows = s.usage_since("2026-11-23").unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].function.as_str(), rows[0].requests, rows[0].billed_ms), ("a", 2, 12));
    assert!((rows[0].gb_seconds - 0.0015).abs() < 1e-12);
}
