//! Route keys and the per-API routing table.
//!
//! A route key is `$default` or `METHOD /path` where each path segment is a
//! literal, a `{param}`, or — last only — a greedy `{proxy+}`. The table is
//! a trie over path segments; matching walks it preferring, at every
//! segment, a literal over a parameter over a greedy parameter, and at the
//! end a route for the request's method over `ANY`, backtracking when a
//! branch has nothing for the method. That is API Gateway's precedence
//! (most specific first, `$default` last), and costs O(path segments), not
//! O(routes).

use std::collections::HashMap;

/// HTTP methods a route key may name.
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Literal(String),
    Param(String),
    Greedy(String),
}

/// A parsed route key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteKey {
    Default,
    Path { method: String, segments: Vec<Segment> },
}

impl RouteKey {
    /// Parses a route key; the error is API Gateway's message.
    pub fn parse(key: &str) -> Result<Self, String> {
        if key == "$default" {
            return Ok(Self::Default);
        }
        let invalid = || {
            format!("Invalid route key: {key}. Route key must be '$default' or of the form 'METHOD /path', e.g. 'GET /pets/{{petId}}'")
        };
        let (method, path) = key.split_once(' ').ok_or_else(invalid)?;
        if !METHODS.contains(&method) {
            return Err(format!("Invalid route key: {key}. Unsupported HTTP method {method}"));
        }
        if !path.starts_with('/') || path.contains(' ') {
            return Err(invalid());
        }
        let raw: Vec<&str> = path[1..].split('/').collect();
        let mut segments = Vec::with_capacity(raw.len());
        for (i, s) in raw.iter().enumerate() {
            let last = i + 1 == raw.len();
            if s.is_empty() && raw.len() != 1 {
                return Err(invalid());
            }
            let seg = if let Some(inner) = s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
                if let Some(name) = inner.strip_suffix('+') {
                    if !last {
                        return Err(format!(
                            "Invalid route key: {key}. A greedy path variable must be the last path segment"
                        ));
                    }
                    check_param_name(key, name)?;
                    Segment::Greedy(name.to_string())
                } else {
                    check_param_name(key, inner)?;
                    Segment::Param(inner.to_string())
                }
            } else if s.contains('{') || s.contains('}') {
                return Err(invalid());
            } else {
                Segment::Literal((*s).to_string())
            };
            segments.push(seg);
        }
        Ok(Self::Path { method: method.to_string(), segments })
    }
}

fn check_param_name(key: &str, name: &str) -> Result<(), String> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.') {
        return Err(format!("Invalid route key: {key}. Invalid path variable name '{name}'"));
    }
    Ok(())
}

/// A matched route: the value stored for it and the path parameters.
#[derive(Debug)]
pub struct Match<'a, T> {
    pub value: &'a T,
    pub params: Vec<(&'a str, String)>,
}

struct Leaf<T> {
    /// Parameter names in path order (the greedy one last).
    names: Vec<String>,
    value: T,
}

struct Methods<T> {
    by_method: Vec<(String, Leaf<T>)>,
}

impl<T> Default for Methods<T> {
    fn default() -> Self {
        Self { by_method: Vec::new() }
    }
}

impl<T> Methods<T> {
    fn pick(&self, method: &str) -> Option<&Leaf<T>> {
        self.by_method
            .iter()
            .find(|(m, _)| m == method)
            .or_else(|| self.by_method.iter().find(|(m, _)| m == "ANY"))
            .map(|(_, l)| l)
    }
}

struct Node<T> {
    literals: HashMap<String, Node<T>>,
    param: Option<Box<Node<T>>>,
    greedy: Methods<T>,
    here: Methods<T>,
}

impl<T> Default for Node<T> {
    fn default() -> Self {
        Self { literals: HashMap::new(), param: None, greedy: Methods::default(), here: Methods::default() }
    }
}

/// Routes of one API, ready for matching.
pub struct Table<T> {
    root: Node<T>,
    default: Option<T>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self { root: Node::default(), default: None }
    }
}

/// Two route keys that serve the same requests.
#[derive(Debug, PartialEq, Eq)]
pub struct Duplicate;

impl<T> Table<T> {
    pub fn insert(&mut self, key: &RouteKey, value: T) -> Result<(), Duplicate> {
        let (method, segments) = match key {
            RouteKey::Default => {
                if self.default.is_some() {
                    return Err(Duplicate);
                }
                self.default = Some(value);
                return Ok(());
            }
            RouteKey::Path { method, segments } => (method, segments),
        };
        let mut node = &mut self.root;
        let mut names = Vec::new();
        let mut greedy = false;
        for seg in segments {
            match seg {
                Segment::Literal(s) => node = node.literals.entry(s.clone()).or_default(),
                Segment::Param(n) => {
                    names.push(n.clone());
                    node = node.param.get_or_insert_with(Box::default);
                }
                Segment::Greedy(n) => {
                    names.push(n.clone());
                    greedy = true;
                }
            }
        }
        let methods = if greedy { &mut node.greedy } else { &mut node.here };
        if methods.by_method.iter().any(|(m, _)| m == method) {
            return Err(Duplicate);
        }
        methods.by_method.push((method.clone(), Leaf { names, value }));
        Ok(())
    }

    /// The route serving `method path` (path as sent, percent-encoded).
    pub fn find(&self, method: &str, path: &str) -> Option<Match<'_, T>> {
        let segs: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
        let mut captured = Vec::new();
        if let Some((leaf, caps)) = find_in(&self.root, &segs, 0, method, &mut captured) {
            let params = leaf.names.iter().map(String::as_str).zip(caps.into_iter().map(|c| decode(&c))).collect();
            return Some(Match { value: &leaf.value, params });
        }
        self.default.as_ref().map(|value| Match { value, params: Vec::new() })
    }
}

fn find_in<'a, T>(
    node: &'a Node<T>,
    segs: &[&str],
    i: usize,
    method: &str,
    captured: &mut Vec<String>,
) -> Option<(&'a Leaf<T>, Vec<String>)> {
    if i == segs.len() {
        return node.here.pick(method).map(|l| (l, captured.clone()));
    }
    let seg = segs[i];
    if let Some(child) = node.literals.get(seg) {
        if let Some(found) = find_in(child, segs, i + 1, method, captured) {
            return Some(found);
        }
    }
    if !seg.is_empty() {
        if let Some(child) = &node.param {
            captured.push(seg.to_string());
            if let Some(found) = find_in(child, segs, i + 1, method, captured) {
                return Some(found);
            }
            captured.pop();
        }
    }
    let rest = segs[i..].join("/");
    if !rest.is_empty() {
        if let Some(leaf) = node.greedy.pick(method) {
            let mut caps = captured.clone();
            caps.push(rest);
            return Some((leaf, caps));
        }
    }
    None
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn table(keys: &[&str]) -> Table<String> {
        let mut t = Table::default();
        for k in keys {
            t.insert(&RouteKey::parse(k).unwrap(), (*k).to_string()).unwrap();
        }
        t
    }

    fn hit(t: &Table<String>, method: &str, path: &str) -> Option<(String, Vec<(String, String)>)> {
        t.find(method, path).map(|m| (m.value.clone(), m.params.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
    }

    #[test]
    fn parses_route_keys() {
        assert_eq!(RouteKey::parse("$default").unwrap(), RouteKey::Default);
        assert!(RouteKey::parse("GET /").is_ok());
        assert!(RouteKey::parse("ANY /pets/{proxy+}").is_ok());
        for bad in ["GET", "FETCH /x", "GET pets", "GET /{proxy+}/x", "GET /a//b", "GET /{}", "GET /a{b}", "get /x", ""]
        {
            assert!(RouteKey::parse(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn most_specific_route_wins() {
        let t = table(&[
            "GET /pets/dog",
            "GET /pets/{id}",
            "ANY /pets/{proxy+}",
            "POST /pets/{id}",
            "ANY /pets/{id}/toys",
            "GET /",
            "$default",
        ]);
        assert_eq!(hit(&t, "GET", "/pets/dog").unwrap().0, "GET /pets/dog");
        let (k, p) = hit(&t, "GET", "/pets/cat").unwrap();
        assert_eq!((k.as_str(), p), ("GET /pets/{id}", vec![("id".into(), "cat".into())]));
        assert_eq!(hit(&t, "POST", "/pets/dog").unwrap().0, "POST /pets/{id}");
        assert_eq!(hit(&t, "DELETE", "/pets/dog").unwrap().0, "ANY /pets/{proxy+}");
        let (k, p) = hit(&t, "GET", "/pets/a/b/c").unwrap();
        assert_eq!((k.as_str(), p), ("ANY /pets/{proxy+}", vec![("proxy".into(), "a/b/c".into())]));
        assert_eq!(hit(&t, "PUT", "/pets/7/toys").unwrap().0, "ANY /pets/{id}/toys");
        assert_eq!(hit(&t, "GET", "/").unwrap().0, "GET /");
        assert_eq!(hit(&t, "GET", "/pets").unwrap().0, "$default");
        assert_eq!(hit(&t, "GET", "/pets/").unwrap().0, "$default");
        assert_eq!(hit(&t, "GET", "/elsewhere").unwrap().0, "$default");
    }

    #[test]
    fn decodes_parameters_and_rejects_duplicates() {
        let mut t = table(&["GET /files/{name}"]);
        assert_eq!(hit(&t, "GET", "/files/a%20b").unwrap().1[0].1, "a b");
        assert_eq!(t.insert(&RouteKey::parse("GET /files/{other}").unwrap(), "x".into()), Err(Duplicate));
        assert!(t.insert(&RouteKey::parse("ANY /files/{other}").unwrap(), "x".into()).is_ok());
        assert!(hit(&t, "GET", "/nothing").is_none());
    }

    #[test]
    fn thousands_of_routes_match_quickly() {
        let mut t = Table::default();
        for i in 0..5000 {
            t.insert(&RouteKey::parse(&format!("GET /r{i}/{{id}}/items")).unwrap(), i).unwrap();
        }
        let start = std::time::Instant::now();
        for _ in 0..10_000 {
            assert_eq!(*t.find("GET", "/r4999/x/items").unwrap().value, 4999);
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
    }
}
