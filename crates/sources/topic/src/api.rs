//! SNS's actions: each decodes its parameters, calls the [`Service`] and
//! writes the answer. Nothing here touches storage.

use crate::error::{TopicError, TopicResult};
use crate::service::{PublishInput, Service};
use crate::xml::{Params, Response};

/// Most entries a PublishBatch takes.
const MAX_BATCH: usize = 10;

/// Runs one action; the XML document on success.
pub fn dispatch(svc: &Service, action: &str, p: &Params, request_id: &str) -> TopicResult<String> {
    let mut r = Response::new(action);
    match action {
        "CreateTopic" => {
            let attributes = p.map("Attributes");
            let arn = svc.create_topic(p.required("Name")?, attributes, p.tags("Tags")?)?;
            r.text("TopicArn", &arn);
        }
        "DeleteTopic" => svc.delete_topic(p.required("TopicArn")?)?,
        "ListTopics" => {
            let page = svc.list_topics(p.get("NextToken"));
            r.open("Topics");
            for arn in &page.items {
                r.open("member").text("TopicArn", arn).close("member");
            }
            r.close("Topics");
            if let Some(t) = &page.next_token {
                r.text("NextToken", t);
            }
        }
        "GetTopicAttributes" => {
            r.map("Attributes", &svc.topic_attributes(p.required("TopicArn")?)?);
        }
        "SetTopicAttributes" => svc.set_topic_attribute(
            p.required("TopicArn")?,
            p.required("AttributeName")?,
            p.get("AttributeValue").unwrap_or(""),
        )?,
        "Subscribe" => {
            let sub = svc.subscribe(
                p.required("TopicArn")?,
                p.required("Protocol")?,
                p.get("Endpoint"),
                p.map("Attributes"),
            )?;
            let arn = if sub.confirmed || p.bool("ReturnSubscriptionArn") {
                sub.arn.as_str()
            } else {
                "pending confirmation"
            };
            r.text("SubscriptionArn", arn);
        }
        "ConfirmSubscription" => {
            let arn = svc.confirm(p.required("TopicArn")?, p.required("Token")?)?;
            r.text("SubscriptionArn", &arn);
        }
        "Unsubscribe" => svc.unsubscribe(p.required("SubscriptionArn")?)?,
        "ListSubscriptions" | "ListSubscriptionsByTopic" => {
            let topic = if action == "ListSubscriptionsByTopic" { Some(p.required("TopicArn")?) } else { None };
            let page = svc.list_subscriptions(topic, p.get("NextToken"))?;
            r.open("Subscriptions");
            for s in &page.items {
                r.open("member")
                    .text("SubscriptionArn", s.listed_arn())
                    .text("Owner", &s.owner)
                    .text("Protocol", s.protocol.as_str())
                    .text("Endpoint", &s.endpoint)
                    .text("TopicArn", &s.topic_arn)
                    .close("member");
            }
            r.close("Subscriptions");
            if let Some(t) = &page.next_token {
                r.text("NextToken", t);
            }
        }
        "GetSubscriptionAttributes" => {
            r.map("Attributes", &svc.subscription_attributes(p.required("SubscriptionArn")?)?);
        }
        "SetSubscriptionAttributes" => svc.set_subscription_attribute(
            p.required("SubscriptionArn")?,
            p.required("AttributeName")?,
            p.get("AttributeValue").unwrap_or(""),
        )?,
        "Publish" => {
            let topic_arn = match (p.get("TopicArn"), p.get("TargetArn"), p.get("PhoneNumber")) {
                (Some(t), _, _) | (None, Some(t), _) => t,
                (None, None, Some(_)) => {
                    return Err(TopicError::InvalidParameter(
                        "Invalid parameter: PhoneNumber Reason: Lamina does not send SMS".into(),
                    ))
                }
                (None, None, None) => {
                    return Err(TopicError::InvalidParameter(
                        "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter".into(),
                    ))
                }
            };
            let published = svc.publish_message(publish_input(topic_arn, p)?)?;
            r.text("MessageId", &published.message_id);
            if let Some(seq) = &published.sequence_number {
                r.text("SequenceNumber", seq);
            }
        }
        "PublishBatch" => publish_batch(svc, p, &mut r)?,
        "TagResource" => svc.tag(p.required("ResourceArn")?, p.tags("Tags")?, &[])?,
        "UntagResource" => {
            svc.tag(p.required("ResourceArn")?, Default::default(), &p.list("TagKeys"))?;
        }
        "ListTagsForResource" => {
            r.tags("Tags", &svc.tags(p.required("ResourceArn")?)?);
        }
        other => return Err(TopicError::InvalidAction(other.to_string())),
    }
    Ok(r.finish(request_id))
}

fn publish_input(topic_arn: &str, p: &Params) -> TopicResult<PublishInput> {
    Ok(PublishInput {
        topic_arn: topic_arn.to_string(),
        message: p.required("Message")?.to_string(),
        subject: p.get("Subject").map(str::to_string),
        message_structure: p.get("MessageStructure").map(str::to_string),
        attributes: p.message_attributes("MessageAttributes")?,
        group_id: p.get("MessageGroupId").map(str::to_string),
        dedup_id: p.get("MessageDeduplicationId").map(str::to_string),
    })
}

fn publish_batch(svc: &Service, p: &Params, r: &mut Response) -> TopicResult<()> {
    let topic_arn = p.required("TopicArn")?;
    let entries = p.members("PublishBatchRequestEntries");
    if entries.is_empty() {
        return Err(TopicError::EmptyBatchRequest);
    }
    if entries.len() > MAX_BATCH {
        return Err(TopicError::TooManyEntriesInBatchRequest);
    }
    let mut ids = std::collections::HashSet::new();
    for e in &entries {
        let id = e.get("Id").unwrap_or("");
        if id.is_empty() || id.len() > 80 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(TopicError::InvalidBatchEntryId(
                "The Id of a batch entry in a batch request doesn't abide by the specification.".into(),
            ));
        }
        if !ids.insert(id) {
            return Err(TopicError::BatchEntryIdsNotDistinct);
        }
    }
    let total: usize = entries.iter().map(|e| e.get("Message").map_or(0, str::len)).sum();
    if total > crate::model::DEFAULT_MAX_MESSAGE_BYTES {
        return Err(TopicError::BatchRequestTooLong);
    }
    // The topic must exist for the whole batch (not per entry).
    svc.topic(topic_arn)?;
    let mut ok = Response::new("");
    let mut failed = Response::new("");
    for e in &entries {
        let id = e.get("Id").unwrap_or("");
        match publish_input(topic_arn, e).and_then(|input| svc.publish_message(input)) {
            Ok(published) => {
                ok.open("member").text("Id", id).text("MessageId", &published.message_id);
                if let Some(seq) = &published.sequence_number {
                    ok.text("SequenceNumber", seq);
                }
                ok.close("member");
            }
            Err(TopicError::Internal(detail)) => return Err(TopicError::Internal(detail)),
            Err(err) => {
                failed
                    .open("member")
                    .text("Id", id)
                    .text("Code", err.code())
                    .text("Message", &err.to_string())
                    .text("SenderFault", "true")
                    .close("member");
            }
        }
    }
    r.open("Successful").raw(ok.body()).close("Successful");
    r.open("Failed").raw(failed.body()).close("Failed");
    Ok(())
}
