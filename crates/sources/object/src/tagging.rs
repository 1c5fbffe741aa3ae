//! Object tags: PutObjectTagging, GetObjectTagging, DeleteObjectTagging,
//! and the `x-amz-tagging` header of PutObject, CreateMultipartUpload and
//! CopyObject.
//!
//! A tag set is at most 10 tags with unique keys; a key is 1 to 128
//! characters, a value up to 256 (counted in UTF-16 code units, as S3
//! counts), both made of letters, digits, white space and `_ . : / = + @ -`;
//! `aws:` keys are reserved. Breaking those rules answers what S3 answers:
//! `BadRequest` for too many tags, `InvalidTag` otherwise, and
//! `InvalidArgument` for a header that is not a URL query without duplicate
//! names. Tags are kept in key order, which is the order S3 returns them in.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::api::{read_xml, Call};
use crate::buckets::xml_response;
use crate::error::{S3Error, S3Result};
use crate::xml::{child_text, children, XmlWriter};
use crate::Service;

/// An object's tags, key → value.
pub type Tags = BTreeMap<String, String>;

pub const MAX_TAGS: usize = 10;
pub const MAX_KEY_CHARS: usize = 128;
pub const MAX_VALUE_CHARS: usize = 256;

fn invalid_tag(message: &str) -> S3Error {
    S3Error::InvalidTag { message: message.into() }
}

/// Checks one tag against S3's rules.
fn check_tag(key: &str, value: &str) -> S3Result<()> {
    let allowed = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+@-".contains(c);
    if key.is_empty() || !key.chars().all(allowed) {
        return Err(invalid_tag("The TagKey you have provided is invalid"));
    }
    if key.encode_utf16().count() > MAX_KEY_CHARS {
        return Err(invalid_tag("The TagKey you have provided is too long, max 128"));
    }
    if key.starts_with("aws:") {
        return Err(invalid_tag("Your TagKey cannot be prefixed with aws:"));
    }
    if !value.chars().all(allowed) {
        return Err(invalid_tag("The TagValue you have provided is invalid"));
    }
    if value.encode_utf16().count() > MAX_VALUE_CHARS {
        return Err(invalid_tag("The TagValue you have provided is too long, max 256"));
    }
    Ok(())
}

/// Builds a tag set from (key, value) pairs in request order; `duplicate`
/// is the error a repeated key gets (it differs between header and body).
fn tag_set(pairs: Vec<(String, String)>, duplicate: impl Fn() -> S3Error) -> S3Result<Tags> {
    if pairs.len() > MAX_TAGS {
        return Err(S3Error::BadRequest { message: "Object tags cannot be greater than 10".into() });
    }
    let mut tags = Tags::new();
    for (key, value) in pairs {
        check_tag(&key, &value)?;
        if tags.insert(key, value).is_some() {
            return Err(duplicate());
        }
    }
    Ok(tags)
}

/// The tags of an `x-amz-tagging` header (`k1=v1&k2=v2`, form-encoded; a
/// name without `=` has the empty value). No header is no tags.
pub fn from_header(call: &Call) -> S3Result<Tags> {
    let Some(raw) = call.headers.get("x-amz-tagging") else { return Ok(Tags::new()) };
    let value = String::from_utf8_lossy(raw.as_bytes()).into_owned();
    let bad_header = || {
        S3Error::invalid_argument(
            "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.",
            "x-amz-tagging",
            &value,
        )
    };
    let decode =
        |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8().map(|c| c.into_owned());
    let mut pairs = Vec::new();
    for pair in value.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if v.contains('=') {
            return Err(bad_header());
        }
        pairs.push((decode(k).map_err(|_| bad_header())?, decode(v).map_err(|_| bad_header())?));
    }
    tag_set(pairs, bad_header)
}

/// The tags of a `<Tagging><TagSet><Tag><Key/><Value/></Tag>...` body.
pub fn from_xml(body: &str) -> S3Result<Tags> {
    let doc = crate::xml::parse(body, "Tagging")?;
    let set = children(doc.root_element(), "TagSet").next().ok_or(S3Error::MalformedXml)?;
    let mut pairs = Vec::new();
    for tag in children(set, "Tag") {
        let key = child_text(tag, "Key").ok_or(S3Error::MalformedXml)?;
        let value = child_text(tag, "Value").ok_or(S3Error::MalformedXml)?;
        pairs.push((key.to_string(), value.to_string()));
    }
    tag_set(pairs, || invalid_tag("Cannot provide multiple Tags with the same key"))
}

/// GetObjectTagging's answer.
pub fn to_xml(tags: &Tags) -> String {
    let mut w = XmlWriter::new();
    w.root("Tagging");
    w.open("TagSet");
    for (key, value) in tags {
        w.open("Tag");
        w.elem("Key", key);
        w.elem("Value", value);
        w.close("Tag");
    }
    w.close("TagSet");
    w.close("Tagging");
    w.finish()
}

/// Replaces the object's tags, or answers NoSuchKey / NoSuchBucket.
async fn set(svc: &Arc<Service>, call: &Call, tags: Tags) -> S3Result<()> {
    let (b, k) = (call.bucket.clone(), call.key.clone());
    if svc.db(move |s| s.set_tags(&b, &k, &tags)).await? {
        return Ok(());
    }
    svc.bucket(&call.bucket).await?;
    Err(S3Error::NoSuchKey { key: call.key.clone() })
}

pub async fn put(svc: &Arc<Service>, call: &Call, body: Body) -> S3Result<Response> {
    let tags = from_xml(&read_xml(body).await?)?;
    set(svc, call, tags).await?;
    Ok(StatusCode::OK.into_response())
}

pub async fn get(svc: &Arc<Service>, call: &Call) -> S3Result<Response> {
    let object = crate::objects::find(svc, &call.bucket, &call.key).await?;
    Ok(xml_response(to_xml(&object.tags)))
}

pub async fn delete(svc: &Arc<Service>, call: &Call) -> S3Result<Response> {
    set(svc, call, Tags::new()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn call_with(header: &str) -> Call {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-amz-tagging", header.parse().unwrap());
        Call {
            request_id: "r".into(),
            method: http::Method::PUT,
            bucket: "b".into(),
            key: "k".into(),
            query: Default::default(),
            headers,
            source_ip: "127.0.0.1".into(),
        }
    }

    fn code(r: S3Result<Tags>) -> &'static str {
        r.err().map(|e| e.code()).unwrap_or("ok")
    }

    #[test]
    fn header_is_a_form_encoded_query() {
        let tags = from_header(&call_with("foo=bar&bar&sp=a+b%2Fc")).unwrap();
        let got: Vec<_> = tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, [("bar", ""), ("foo", "bar"), ("sp", "a b/c")]);
        assert_eq!(code(from_header(&call_with("a=1&a=2"))), "InvalidArgument");
        assert_eq!(code(from_header(&call_with("TagSet=[{Key=string,Value=string}]"))), "InvalidArgument");
        assert_eq!(code(from_header(&call_with("k%5B=v"))), "InvalidTag");
    }

    #[test]
    fn limits_are_s3s() {
        let many: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        assert_eq!(code(from_header(&call_with(&many.join("&")))), "BadRequest");
        assert_eq!(code(from_header(&call_with(&many[..10].join("&")))), "ok");
        let key = "k".repeat(128);
        assert_eq!(code(from_header(&call_with(&format!("{key}={}", "v".repeat(256))))), "ok");
        assert_eq!(code(from_header(&call_with(&format!("{key}k=v")))), "InvalidTag");
        assert_eq!(code(from_header(&call_with(&format!("k={}", "v".repeat(257))))), "InvalidTag");
        assert_eq!(code(from_header(&call_with("aws:x=1"))), "InvalidTag");
        assert_eq!(code(from_header(&call_with("=v"))), "InvalidTag");
    }

    #[test]
    fn body_round_trips() {
        let body = "<Tagging><TagSet><Tag><Key>b</Key><Value>2</Value></Tag><Tag><Key>a</Key><Value></Value></Tag></TagSet></Tagging>";
        let tags = from_xml(body).unwrap();
        assert_eq!(tags.get("a").map(String::as_str), Some(""));
        let back = from_xml(&to_xml(&tags)).unwrap();
        assert_eq!(back, tags);
        let dup = "<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>";
        assert_eq!(code(from_xml(dup)), "InvalidTag");
        assert_eq!(code(from_xml("<Tagging><TagSet><Tag><Value>1</Value></Tag></TagSet></Tagging>")), "MalformedXML");
        assert_eq!(code(from_xml("<Tagging/>")), "MalformedXML");
        assert!(from_xml("<Tagging><TagSet/></Tagging>").unwrap().is_empty());
    }
}
