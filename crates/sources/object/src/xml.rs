//! S3's XML in both directions: a small writer for answers, and request
//! bodies (DeleteObjects, CompleteMultipartUpload, CreateBucketConfiguration,
//! NotificationConfiguration) read through `roxmltree` into plain structs.
//!
//! Element names follow botocore's `s3` model (its `locationName`s, with
//! flattened lists as repeated elements). Anything that is not well-formed,
//! or lacks a required element, is `MalformedXML`.

use crate::error::{S3Error, S3Result};
use lamina_api::xml::escape_into;

/// The namespace S3 puts on every answer's root element.
pub const NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Appends XML to a string; elements are escaped, the caller nests them.
pub struct XmlWriter {
    out: String,
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlWriter {
    pub fn new() -> Self {
        Self { out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n") }
    }

    /// Opens the root element with S3's namespace.
    pub fn root(&mut self, name: &str) {
        self.out.push_str(&format!("<{name} xmlns=\"{NAMESPACE}\">"));
    }

    pub fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }

    pub fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    pub fn elem(&mut self, name: &str, text: &str) {
        self.open(name);
        escape_into(&mut self.out, text);
        self.close(name);
    }

    pub fn text(&mut self, text: &str) {
        escape_into(&mut self.out, text);
    }

    pub fn opt(&mut self, name: &str, text: Option<&str>) {
        if let Some(t) = text {
            self.elem(name, t);
        }
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Parses a request body; `root` must be the document element's name.
pub fn parse<'a>(body: &'a str, root: &str) -> S3Result<roxmltree::Document<'a>> {
    let doc = roxmltree::Document::parse(body).map_err(|_| S3Error::MalformedXml)?;
    if doc.root_element().tag_name().name() != root {
        return Err(S3Error::MalformedXml);
    }
    Ok(doc)
}

/// The child elements of `node` named `name`.
pub fn children<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &'a str) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> {
    node.children().filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The text of the first child element named `name` (empty text is `Some("")`).
pub fn child_text<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.children().find(|c| c.is_element() && c.tag_name().name() == name).map(|c| c.text().unwrap_or(""))
}

/// DeleteObjects' `<Delete>`: the keys and the Quiet flag.
pub fn parse_delete(body: &str) -> S3Result<(Vec<String>, bool)> {
    let doc = parse(body, "Delete")?;
    let root = doc.root_element();
    let mut keys = Vec::new();
    for object in children(root, "Object") {
        keys.push(child_text(object, "Key").ok_or(S3Error::MalformedXml)?.to_string());
    }
    if keys.is_empty() || keys.len() > 1000 {
        return Err(S3Error::MalformedXml);
    }
    let quiet = child_text(root, "Quiet").is_some_and(|q| q.trim().eq_ignore_ascii_case("true"));
    Ok((keys, quiet))
}

/// CompleteMultipartUpload's parts: (PartNumber, ETag without quotes).
pub fn parse_complete(body: &str) -> S3Result<Vec<(u32, String)>> {
    let doc = parse(body, "CompleteMultipartUpload")?;
    let mut parts = Vec::new();
    for part in children(doc.root_element(), "Part") {
        let number =
            child_text(part, "PartNumber").and_then(|n| n.trim().parse::<u32>().ok()).ok_or(S3Error::MalformedXml)?;
        let etag = child_text(part, "ETag").ok_or(S3Error::MalformedXml)?;
        parts.push((number, etag.trim().trim_matches('"').to_string()));
    }
    if parts.is_empty() {
        return Err(S3Error::MalformedXml);
    }
    Ok(parts)
}

/// CreateBucketConfiguration's LocationConstraint (an empty body has none).
pub fn parse_location(body: &str) -> S3Result<Option<String>> {
    if body.trim().is_empty() {
        return Ok(None);
    }
    let doc = parse(body, "CreateBucketConfiguration")?;
    Ok(child_text(doc.root_element(), "LocationConstraint").map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn writes_escaped_elements() {
        let mut w = XmlWriter::new();
        w.root("R");
        w.elem("Key", "a<b>&\"c'");
        w.close("R");
        assert!(w.finish().ends_with(&format!("<R xmlns=\"{NAMESPACE}\"><Key>a&lt;b&gt;&amp;&quot;c&apos;</Key></R>")));
    }

    #[test]
    fn reads_delete_and_complete_bodies() {
        let body = format!(
            "<Delete xmlns=\"{NAMESPACE}\"><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key></Object><Quiet>true</Quiet></Delete>"
        );
        assert_eq!(parse_delete(&body).unwrap(), (vec!["a&b".to_string(), "c".to_string()], true));
        let body = "<CompleteMultipartUpload><Part><ETag>\"abc\"</ETag><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>";
        assert_eq!(parse_complete(body).unwrap(), vec![(1, "abc".to_string())]);
    }

    #[test]
    fn malformed_bodies_are_malformed_xml() {
        for bad in ["<Delete>", "not xml", "<Other/>", "<Delete></Delete>", "<Delete><Object/></Delete>"] {
            assert!(matches!(parse_delete(bad), Err(S3Error::MalformedXml)), "{bad}");
        }
        assert!(matches!(parse_complete("<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>e</ETag></Part></CompleteMultipartUpload>"), Err(S3Error::MalformedXml)));
        assert_eq!(parse_location("").unwrap(), None);
        assert_eq!(
            parse_location("<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>").unwrap(),
            Some("eu-west-1".into())
        );
    }
}
