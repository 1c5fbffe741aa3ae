//! SQS actions: decode one action's parameters (json-protocol spelling),
//! call the [`Engine`], encode its answer. Nothing here touches SQLite.

use crate::engine::{Engine, SendInput};
use crate::error::{SqsError, SqsResult};
use crate::model::{AttrValue, Attributes};
use crate::queue::Message;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// Parameter access with SQS's messages for missing and malformed values.
struct Params<'a>(&'a Map<String, Value>);

impl<'a> Params<'a> {
    fn str(&self, k: &str) -> Option<&'a str> {
        self.0.get(k).and_then(Value::as_str)
    }

    fn required(&self, k: &str) -> SqsResult<&'a str> {
        self.str(k).ok_or_else(|| SqsError::MissingParameter(k.into()))
    }

    fn int(&self, k: &str) -> SqsResult<Option<i64>> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| invalid_value(k, &n.to_string())),
            Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| invalid_value(k, s)),
            Some(other) => Err(invalid_value(k, &other.to_string())),
        }
    }

    fn strings(&self, k: &str) -> Vec<String> {
        match self.0.get(k) {
            Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        }
    }

    fn string_map(&self, k: &str) -> SqsResult<BTreeMap<String, String>> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(Value::Object(m)) => Ok(m
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                .collect()),
            Some(_) => Err(SqsError::InvalidParameterValue(format!("Value for parameter {k} is invalid."))),
        }
    }

    fn message_attributes(&self, k: &str) -> SqsResult<Attributes> {
        let mut out = Attributes::new();
        let Some(Value::Object(m)) = self.0.get(k) else { return Ok(out) };
        for (name, v) in m {
            let data_type = v.get("DataType").and_then(Value::as_str).ok_or_else(|| {
                SqsError::InvalidParameterValue(format!(
                    "The message attribute '{name}' must contain a non-empty attribute type."
                ))
            })?;
            out.insert(
                name.clone(),
                AttrValue {
                    data_type: data_type.to_string(),
                    string_value: v.get("StringValue").and_then(Value::as_str).map(str::to_string),
                    binary_value: v.get("BinaryValue").and_then(Value::as_str).map(str::to_string),
                },
            );
        }
        Ok(out)
    }

    fn entries(&self) -> Vec<Map<String, Value>> {
        match self.0.get("Entries") {
            Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_object().cloned()).collect(),
            _ => Vec::new(),
        }
    }
}

fn invalid_value(k: &str, v: &str) -> SqsError {
    SqsError::InvalidParameterValue(format!("Value {v} for parameter {k} is invalid."))
}

/// Runs one action.
pub async fn dispatch(engine: &Engine, action: &str, params: &Value) -> SqsResult<Value> {
    let empty = Map::new();
    let p = Params(params.as_object().unwrap_or(&empty));
    match action {
        "CreateQueue" => {
            let name = p.required("QueueName")?;
            let attrs = p.string_map("Attributes")?;
            let mut tags = p.string_map("tags")?;
            tags.extend(p.string_map("Tags")?);
            let url = engine.create_queue(name, &attrs, tags).await?;
            Ok(json!({ "QueueUrl": url }))
        }
        "GetQueueUrl" => {
            let q = engine.queue(p.required("QueueName")?)?;
            Ok(json!({ "QueueUrl": engine.queue_url(&q.name) }))
        }
        "DeleteQueue" => {
            let q = engine.queue(p.required("QueueUrl")?)?;
            engine.delete_queue(&q).await?;
            Ok(json!({}))
        }
        "ListQueues" => list_queues(engine, &p),
        "GetQueueAttributes" => {
            let q = engine.queue(p.required("QueueUrl")?)?;
            let names = p.strings("AttributeNames");
            let all = engine.attributes(&q);
            let mut out = Map::new();
            for n in &names {
                if n == "All" {
                    out.extend(all.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))));
                } else if let Some(v) = all.get(n) {
                    out.insert(n.clone(), Value::String(v.clone()));
                } else if !KNOWN_QUEUE_ATTRIBUTES.contains(&n.as_str()) {
                    return Err(SqsError::InvalidAttributeName { name: n.clone() });
                }
            }
            if out.is_empty() {
                return Ok(json!({}));
            }
            Ok(json!({ "Attributes": out }))
        }
        "SetQueueAttributes" => {
            let q = engine.queue(p.required("QueueUrl")?)?;
            engine.set_attributes(&q, &p.string_map("Attributes")?).await?;
            Ok(json!({}))
        }
        "PurgeQueue" => {
            let q = engine.queue(p.required("QueueUrl")?)?;
            engine.purge(&q).await?;
            Ok(json!({}))
        }
        "SendMessage" => {
            let q = engine.queue(p.required("QueueUrl")?)?;
            let input = send_input(&p)?;
            let out =
                engine.send(&q, vec![input]).await.pop().unwrap_or(Err(SqsError::Internal("no result".into())))?;
            Ok(send_output(None, out))
        }
        "SendMessageBatch" => {
            let q = engine.queue(p.required("QueueUrl")?)?;
            let entries = p.entries();
            check_batch(&entries, "SendMessageBatchRequestEntry")?;
            let size: usize = entries
                .iter()
                .map(|e| {
                    let body = e.get("MessageBody").and_then(Value::as_str).map_or(0, str::len);
                    let attrs = Params(e).message_attributes("MessageAttributes").unwrap_or_default();
                    body + attrs.iter().map(|(k, v)| v.size(k)).sum::<usize>()
                })
                .sum();
            if size > crate::engine::MAX_BATCH_BYTES {
                return Err(SqsError::BatchRequestTooLong { limit: crate::engine::MAX_BATCH_BYTES, size });
            }
            let mut ids = Vec::new();
            let mut inputs = Vec::new();
            let mut failed = Vec::new();
            for e in &entries {
                let id = e.get("Id").and_then(Value::as_str).unwrap_or("").to_string();
                match send_input(&Params(e)) {
                    Ok(i) => {
                        ids.push(id);
                        inputs.push(i);
                    }
                    Err(err) => failed.push(batch_error(&id, &err)),
                }
            }
            let results = engine.send(&q, inputs).await;
            let mut ok = Vec::new();
            for (id, r) in ids.into_iter().zip(results) {
                match r {
                    Ok(out) => ok.push(send_output(Some(&id), out)),
                    Err(err) => failed.push(batch_error(&id, &err)),
                }
            }
            Ok(json!({ "Successful": ok, "Failed": failed }))
        }
        "ReceiveMessage" => receive(engine, &p).await,
        "DeleteMessage" => {
            let q = engine.queue(p.required("QueueUrl")?)?;
            let handle = p.required("ReceiptHandle")?.to_string();
            engine.delete(&q, &[handle]).await.pop().unwrap_or(Ok(()))?;
            Ok(json!({}))
        }
        "DeleteMessageBatch" => {
            let q = engine.queue(p.required("QueueUrl")?)?;
            let entries = p.entries();
            check_batch(&entries, "DeleteMessageBatchRequestEntry")?;
            let handles: Vec<String> = entries
                .iter()
                .map(|e| e.get("ReceiptHandle").and_then(Value::as_str).unwrap_or("").to_string())
                .collect();
            let results = engine.delete(&q, &handles).await;
            Ok(batch_results(&entries, results))
        }
        "ChangeMessageVisibility" => {
            let q = engine.queue(p.required("QueueUrl")?)?;
            let handle = p.required("ReceiptHandle")?.to_string();
            let timeout =
                p.int("VisibilityTimeout")?.ok_or_else(|| SqsError::MissingParameter("VisibilityTimeout".into()))?;
            engine.change_visibility(&q, &[(handle, timeout)]).await.pop().unwrap_or(Ok(()))?;
            Ok(json!({}))
        }
        "ChangeMessageVisibilityBatch" => {
            let q = engine.queue(p.required("QueueUrl")?)?;
            let entries = p.entries();
            check_batch(&entries, "ChangeMessageVisibilityBatchRequestEntry")?;
            let mut changes = Vec::new();
            for e in &entries {
                let ep = Params(e);
                let handle = ep.str("ReceiptHandle").unwrap_or("").to_string();
                let timeout = ep.int("VisibilityTimeout")?.unwrap_or(0);
                changes.push((handle, timeout));
            }
            let results = engine.change_visibility(&q, &changes).await;
            Ok(batch_results(&entries, results))
        }
        "TagQueue" => {
            let q = engine.queue(p.required("QueueUrl")?)?;
            engine.set_tags(&q, p.string_map("Tags")?, &[]).await?;
            Ok(json!({}))
        }
        "UntagQueue" => {
            let q = engine.queue(p.required("QueueUrl")?)?;
            engine.set_tags(&q, BTreeMap::new(), &p.strings("TagKeys")).await?;
            Ok(json!({}))
        }
        "ListQueueTags" => {
            let q = engine.queue(p.required("QueueUrl")?)?;
            let tags = q.state.lock().tags.clone();
            if tags.is_empty() {
                return Ok(json!({}));
            }
            Ok(json!({ "Tags": tags }))
        }
        "ListDeadLetterSourceQueues" => {
            let q = engine.queue(p.required("QueueUrl")?)?;
            let urls: Vec<String> = engine.dead_letter_sources(&q).iter().map(|n| engine.queue_url(n)).collect();
            Ok(json!({ "queueUrls": urls }))
        }
        "AddPermission" | "RemovePermission" => {
            engine.queue(p.required("QueueUrl")?)?;
            Ok(json!({}))
        }
        "StartMessageMoveTask" | "CancelMessageMoveTask" | "ListMessageMoveTasks" => {
            Err(SqsError::UnsupportedOperation(format!("{action} is not supported by Lamina.")))
        }
        other => Err(SqsError::InvalidAction(other.to_string())),
    }
}

const KNOWN_QUEUE_ATTRIBUTES: &[&str] = &[
    "All",
    "Policy",
    "VisibilityTimeout",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "QueueArn",
    "ApproximateNumberOfMessagesDelayed",
    "DelaySeconds",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "RedriveAllowPolicy",
    "SqsManagedSseEnabled",
];

fn list_queues(engine: &Engine, p: &Params<'_>) -> SqsResult<Value> {
    let max = p.int("MaxResults")?;
    if let Some(m) = max {
        if !(1..=1000).contains(&m) {
            return Err(SqsError::InvalidParameterValue(format!(
                "Value {m} for parameter MaxResults is invalid. Reason: MaxResults must be an integer between 1 and 1000."
            )));
        }
    }
    let after = match p.str("NextToken") {
        Some(t) => Some(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| SqsError::InvalidParameterValue("Invalid NextToken value.".into()))?,
        ),
        None => None,
    };
    let names = engine.list_queues(p.str("QueueNamePrefix"));
    let names: Vec<String> = names.into_iter().filter(|n| after.as_ref().is_none_or(|a| n > a)).collect();
    let limit = max.map_or(1000, |m| m as usize);
    let page: Vec<&String> = names.iter().take(limit).collect();
    let mut out = Map::new();
    if !page.is_empty() {
        out.insert("QueueUrls".into(), json!(page.iter().map(|n| engine.queue_url(n)).collect::<Vec<_>>()));
    }
    if max.is_some() && names.len() > limit {
        if let Some(last) = page.last() {
            out.insert("NextToken".into(), json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last)));
        }
    }
    Ok(Value::Object(out))
}

fn send_input(p: &Params<'_>) -> SqsResult<SendInput> {
    let body = p.required("MessageBody")?.to_string();
    let trace_header = match p.0.get("MessageSystemAttributes") {
        Some(Value::Object(m)) => {
            m.get("AWSTraceHeader").and_then(|v| v.get("StringValue")).and_then(Value::as_str).map(str::to_string)
        }
        _ => None,
    };
    Ok(SendInput {
        body,
        delay_secs: p.int("DelaySeconds")?,
        attributes: p.message_attributes("MessageAttributes")?,
        trace_header,
        group_id: p.str("MessageGroupId").map(str::to_string),
        dedup_id: p.str("MessageDeduplicationId").map(str::to_string),
    })
}

fn send_output(id: Option<&str>, out: crate::engine::SendOutput) -> Value {
    let mut m = Map::new();
    if let Some(id) = id {
        m.insert("Id".into(), json!(id));
    }
    m.insert("MessageId".into(), json!(out.message_id));
    m.insert("MD5OfMessageBody".into(), json!(out.md5_body));
    if let Some(a) = out.md5_attributes {
        m.insert("MD5OfMessageAttributes".into(), json!(a));
    }
    if let Some(s) = out.sequence_number {
        m.insert("SequenceNumber".into(), json!(s));
    }
    Value::Object(m)
}

fn batch_error(id: &str, e: &SqsError) -> Value {
    json!({ "Id": id, "SenderFault": e.sender_fault(), "Code": e.query_code(), "Message": e.to_string() })
}

fn batch_results(entries: &[Map<String, Value>], results: Vec<SqsResult<()>>) -> Value {
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for (e, r) in entries.iter().zip(results) {
        let id = e.get("Id").and_then(Value::as_str).unwrap_or("");
        match r {
            Ok(()) => ok.push(json!({ "Id": id })),
            Err(err) => failed.push(batch_error(id, &err)),
        }
    }
    json!({ "Successful": ok, "Failed": failed })
}

/// Batch-level checks every batch action shares.
fn check_batch(entries: &[Map<String, Value>], entry: &'static str) -> SqsResult<()> {
    if entries.is_empty() {
        return Err(SqsError::EmptyBatchRequest { entry });
    }
    if entries.len() > 10 {
        return Err(SqsError::TooManyEntriesInBatchRequest { count: entries.len() });
    }
    let mut seen = HashSet::new();
    for e in entries {
        let id = e.get("Id").and_then(Value::as_str).unwrap_or("");
        let ok =
            !id.is_empty() && id.len() <= 80 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(SqsError::InvalidBatchEntryId);
        }
        if !seen.insert(id) {
            return Err(SqsError::BatchEntryIdsNotDistinct { id: id.to_string() });
        }
    }
    Ok(())
}

async fn receive(engine: &Engine, p: &Params<'_>) -> SqsResult<Value> {
    let q = engine.queue(p.required("QueueUrl")?)?;
    let max = p.int("MaxNumberOfMessages")?.unwrap_or(1);
    if !(1..=10).contains(&max) {
        return Err(SqsError::InvalidParameterValue(format!(
            "Value {max} for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided."
        )));
    }
    let visibility = p.int("VisibilityTimeout")?;
    if let Some(v) = visibility {
        if !(0..=i64::from(crate::model::MAX_VISIBILITY_TIMEOUT_SECS)).contains(&v) {
            return Err(SqsError::InvalidParameterValue(format!(
                "Value {v} for parameter VisibilityTimeout is invalid. Reason: Must be >= 0 and <= 43200, if provided."
            )));
        }
    }
    let wait = match p.int("WaitTimeSeconds")? {
        Some(w) if !(0..=20).contains(&w) => {
            return Err(SqsError::InvalidParameterValue(format!(
                "Value {w} for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided."
            )))
        }
        Some(w) => w as u64,
        None => u64::from(q.state.lock().config.receive_wait_secs),
    };
    let mut system = p.strings("AttributeNames");
    system.extend(p.strings("MessageSystemAttributeNames"));
    let user = p.strings("MessageAttributeNames");
    let messages =
        engine.receive(&q, max as usize, visibility.map(|v| v as u32), Duration::from_secs(wait), true).await?;
    let out: Vec<Value> = messages.iter().map(|m| message_json(&q, m, &system, &user)).collect();
    if out.is_empty() {
        return Ok(json!({}));
    }
    Ok(json!({ "Messages": out }))
}

/// Every system attribute of a received message, as SQS names them.
pub fn system_attributes(m: &Message) -> BTreeMap<&'static str, String> {
    let d = &m.data;
    let mut a = BTreeMap::new();
    a.insert("SenderId", d.sender_id.clone());
    a.insert("SentTimestamp", d.sent_ms.to_string());
    a.insert("ApproximateReceiveCount", m.receive_count.to_string());
    a.insert("ApproximateFirstReceiveTimestamp", m.first_receive.unwrap_or(d.sent_ms).to_string());
    if let Some(v) = &d.sequence_number {
        a.insert("SequenceNumber", v.clone());
    }
    if let Some(v) = &d.dedup_id {
        a.insert("MessageDeduplicationId", v.clone());
    }
    if let Some(v) = &d.group_id {
        a.insert("MessageGroupId", v.clone());
    }
    if let Some(v) = &d.trace_header {
        a.insert("AWSTraceHeader", v.clone());
    }
    if let Some(v) = &d.dead_letter_source_arn {
        a.insert("DeadLetterQueueSourceArn", v.clone());
    }
    a
}

fn wants_user_attribute(filters: &[String], name: &str) -> bool {
    filters.iter().any(|f| {
        f == "All"
            || f == ".*"
            || f == name
            || f.strip_suffix(".*").is_some_and(|prefix| name.starts_with(&format!("{prefix}.")))
    })
}

fn message_json(q: &crate::engine::Queue, m: &Message, system: &[String], user: &[String]) -> Value {
    let mut out = Map::new();
    out.insert("MessageId".into(), json!(m.data.id));
    out.insert("ReceiptHandle".into(), json!(Engine::receipt_handle(q, m)));
    out.insert("MD5OfBody".into(), json!(m.data.md5_body));
    out.insert("Body".into(), json!(m.data.body));
    if !system.is_empty() {
        let all = system.iter().any(|s| s == "All");
        let attrs: Map<String, Value> = system_attributes(m)
            .into_iter()
            .filter(|(k, _)| all || system.iter().any(|s| s == k))
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        if !attrs.is_empty() {
            out.insert("Attributes".into(), Value::Object(attrs));
        }
    }
    let chosen: Map<String, Value> = m
        .data
        .attributes
        .iter()
        .filter(|(k, _)| wants_user_attribute(user, k))
        .map(|(k, v)| {
            let mut a = Map::new();
            if let Some(s) = &v.string_value {
                a.insert("StringValue".into(), json!(s));
            }
            if let Some(b) = &v.binary_value {
                a.insert("BinaryValue".into(), json!(b));
            }
            a.insert("DataType".into(), json!(v.data_type));
            (k.clone(), Value::Object(a))
        })
        .collect();
    if !chosen.is_empty() {
        let subset: Attributes = m
            .data
            .attributes
            .iter()
            .filter(|(k, _)| chosen.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(md5) = crate::model::md5_of_attributes(&subset) {
            out.insert("MD5OfMessageAttributes".into(), json!(md5));
        }
        out.insert("MessageAttributes".into(), Value::Object(chosen));
    }
    Value::Object(out)
}
