//! ListObjects / ListObjectsV2 over keys in byte order: prefix, delimiter
//! (keys rolled up into CommonPrefixes), max-keys and the marker to go on
//! from.
//!
//! Pure: [`list`] pulls sorted keys through a `fetch(after, limit)`
//! closure (the store answers it with one indexed range query), so the
//! rules are unit-tested on a `BTreeMap`. A common prefix counts once
//! against max-keys, and the keys under it are skipped with one jump rather
//! than read; a marker that is itself a common prefix resumes after all of
//! its keys, so pagination with a delimiter never repeats a prefix.

/// What one key in a listing carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub modified_ms: i64,
}

#[derive(Debug, Clone, Default)]
pub struct Params {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// List keys strictly after this (V1 Marker, V2 StartAfter or continuation).
    pub after: Option<String>,
    pub max_keys: usize,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Listing {
    pub contents: Vec<Entry>,
    pub common_prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or common prefix returned: where the next page starts.
    pub last: Option<String>,
}

/// A string greater than every key that starts with `prefix` (keys are
/// compared as UTF-8 bytes and U+10FFFF is the largest character).
pub fn past(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// Keys per fetch while listing.
const BATCH: usize = 1000;

/// Lists according to `params`. `fetch(after, limit)` returns up to
/// `limit` entries with keys `> after` and `>= prefix`, in byte order.
pub fn list<E>(
    params: &Params,
    mut fetch: impl FnMut(&str, &str, usize) -> Result<Vec<Entry>, E>,
) -> Result<Listing, E> {
    let mut out = Listing::default();
    let mut after = params.after.clone().unwrap_or_default();
    let mut count = 0;
    let delimiter = params.delimiter.as_deref().filter(|d| !d.is_empty());
    'fetching: loop {
        let batch = fetch(&after, &params.prefix, BATCH.min(params.max_keys.saturating_sub(count) + 1).max(1))?;
        if batch.is_empty() {
            break;
        }
        for entry in batch {
            if !entry.key.starts_with(&params.prefix) {
                break 'fetching;
            }
            let rolled = delimiter.and_then(|d| {
                let rest = &entry.key[params.prefix.len()..];
                rest.find(d).map(|i| entry.key[..params.prefix.len() + i + d.len()].to_string())
            });
            match rolled {
                Some(cp) => {
                    if params.after.as_deref().is_some_and(|a| cp.as_str() <= a) {
                        // The marker is (or is inside) this prefix: already returned.
                        after = past(&cp);
                        continue 'fetching;
                    }
                    if count == params.max_keys {
                        out.truncated = true;
                        break 'fetching;
                    }
                    count += 1;
                    after = past(&cp);
                    out.last = Some(cp.clone());
                    out.common_prefixes.push(cp);
                    continue 'fetching;
                }
                None => {
                    if count == params.max_keys {
                        out.truncated = true;
                        break 'fetching;
                    }
                    count += 1;
                    after = entry.key.clone();
                    out.last = Some(entry.key.clone());
                    out.contents.push(entry);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::collections::BTreeMap;

    fn store(keys: &[&str]) -> BTreeMap<String, Entry> {
        keys.iter()
            .map(|k| (k.to_string(), Entry { key: k.to_string(), size: 1, etag: "e".into(), modified_ms: 0 }))
            .collect()
    }

    fn run(s: &BTreeMap<String, Entry>, prefix: &str, delim: Option<&str>, after: Option<&str>, max: usize) -> Listing {
        let params = Params {
            prefix: prefix.into(),
            delimiter: delim.map(str::to_string),
            after: after.map(str::to_string),
            max_keys: max,
        };
        list::<()>(&params, |after, prefix, limit| {
            Ok(s.values().filter(|e| e.key.as_str() > after && e.key.as_str() >= prefix).take(limit).cloned().collect())
        })
        .unwrap()
    }

    fn keys(l: &Listing) -> Vec<&str> {
        l.contents.iter().map(|e| e.key.as_str()).collect()
    }

    const KEYS: &[&str] = &["a.txt", "dir/1", "dir/2", "dir/sub/3", "other/x", "z"];

    #[test]
    fn lists_everything_in_order() {
        let s = store(KEYS);
        let l = run(&s, "", None, None, 1000);
        assert_eq!(keys(&l), KEYS);
        assert!(!l.truncated);
    }

    #[test]
    fn delimiter_rolls_up_common_prefixes() {
        let s = store(KEYS);
        let l = run(&s, "", Some("/"), None, 1000);
        assert_eq!(keys(&l), ["a.txt", "z"]);
        assert_eq!(l.common_prefixes, ["dir/", "other/"]);
        let l = run(&s, "dir/", Some("/"), None, 1000);
        assert_eq!(keys(&l), ["dir/1", "dir/2"]);
        assert_eq!(l.common_prefixes, ["dir/sub/"]);
    }

    #[test]
    fn prefix_limits_keys() {
        let s = store(KEYS);
        assert_eq!(keys(&run(&s, "dir/s", None, None, 1000)), ["dir/sub/3"]);
        assert!(run(&s, "nothing", None, None, 1000).contents.is_empty());
    }

    #[test]
    fn pages_with_markers_never_repeat() {
        let s = store(KEYS);
        for max in 1..4 {
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let l = run(&s, "", Some("/"), after.as_deref(), max);
                assert!(l.contents.len() + l.common_prefixes.len() <= max);
                seen.extend(l.contents.iter().map(|e| e.key.clone()));
                seen.extend(l.common_prefixes.iter().cloned());
                if !l.truncated {
                    break;
                }
                after = l.last.clone();
            }
            seen.sort();
            assert_eq!(seen, ["a.txt", "dir/", "other/", "z"], "max {max}");
        }
    }

    #[test]
    fn truncation_is_exact() {
        let s = store(&["a", "b"]);
        assert!(!run(&s, "", None, None, 2).truncated);
        assert!(run(&s, "", None, None, 1).truncated);
        let l = run(&s, "", None, None, 0);
        assert!(l.truncated && l.contents.is_empty());
        assert_eq!(keys(&run(&s, "", None, Some("a"), 10)), ["b"]);
    }
}
