//! The CloudWatch Logs operations: wire shapes (botocore `logs`
//! 2014-03-28) and what each does with the [`LogDb`]. Calls are
//! synchronous; the router runs them off the async threads.
//!
//! Pagination tokens are readable but opaque to clients:
//! - DescribeLogGroups: the last group name;
//! - DescribeLogStreams: `n/<name>` or `t/<lastEventTime>/<name>`, by order;
//! - GetLogEvents: `f/<ts>/<id>` (events after) and `b/<ts>/<id>` (events before);
//! - FilterLogEvents: `<ts>/<id>` of the last event read.

use serde::{Deserialize, Serialize};
use std::sync::Arc;

use crate::db::{Event, Group, LogDb, Position, Stream, StreamFilter, StreamOrder, TimeRange};
use crate::error::{invalid, LogsError};
use crate::pattern::Pattern;

type Result<T> = std::result::Result<T, LogsError>;

/// Retention periods CloudWatch Logs accepts, in days.
pub const RETENTION_DAYS: [i64; 22] =
    [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
const DESCRIBE_LIMIT: i64 = 50;
const EVENTS_LIMIT: i64 = 10_000;
/// A response carries at most 1 MB of events (with 26 bytes counted per event, as AWS does).
const RESPONSE_BYTES: usize = 1_048_576;
const EVENT_OVERHEAD: usize = 26;
/// Rows FilterLogEvents reads per call before answering with a nextToken.
const SCAN_BUDGET: usize = 100_000;

pub struct Logs {
    db: Arc<LogDb>,
    region: String,
    account: String,
}

// ---- requests and responses ----

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeLogGroupsRequest {
    pub log_group_name_prefix: Option<String>,
    pub log_group_name_pattern: Option<String>,
    pub log_group_identifiers: Option<Vec<String>>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogGroupOut {
    pub log_group_name: String,
    pub creation_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_in_days: Option<i64>,
    pub metric_filter_count: i64,
    pub arn: String,
    pub stored_bytes: i64,
    pub log_group_class: &'static str,
    pub log_group_arn: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeLogGroupsResponse {
    pub log_groups: Vec<LogGroupOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeLogStreamsRequest {
    pub log_group_name: Option<String>,
    pub log_group_identifier: Option<String>,
    pub log_stream_name_prefix: Option<String>,
    pub order_by: Option<String>,
    pub descending: Option<bool>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogStreamOut {
    pub log_stream_name: String,
    pub creation_time: i64,
    pub first_event_timestamp: i64,
    pub last_event_timestamp: i64,
    pub last_ingestion_time: i64,
    pub arn: String,
    pub stored_bytes: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeLogStreamsResponse {
    pub log_streams: Vec<LogStreamOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetLogEventsRequest {
    pub log_group_name: Option<String>,
    pub log_group_identifier: Option<String>,
    pub log_stream_name: Option<String>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
    pub start_from_head: Option<bool>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputLogEvent {
    pub timestamp: i64,
    pub message: String,
    pub ingestion_time: i64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GetLogEventsResponse {
    pub events: Vec<OutputLogEvent>,
    pub next_forward_token: String,
    pub next_backward_token: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterLogEventsRequest {
    pub log_group_name: Option<String>,
    pub log_group_identifier: Option<String>,
    pub log_stream_names: Option<Vec<String>>,
    pub log_stream_name_prefix: Option<String>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub filter_pattern: Option<String>,
    pub next_token: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilteredLogEvent {
    pub log_stream_name: String,
    pub timestamp: i64,
    pub message: String,
    pub ingestion_time: i64,
    pub event_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchedLogStream {
    pub log_stream_name: String,
    pub searched_completely: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterLogEventsResponse {
    pub events: Vec<FilteredLogEvent>,
    pub searched_log_streams: Vec<SearchedLogStream>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupRequest {
    pub log_group_name: Option<String>,
    pub retention_in_days: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct Empty {}

// ---- operations ----

impl Logs {
    pub fn new(db: Arc<LogDb>, region: String, account: String) -> Self {
        Self { db, region, account }
    }

    fn group_arn(&self, group: &str) -> String {
        format!("arn:aws:logs:{}:{}:log-group:{group}", self.region, self.account)
    }

    fn group_out(&self, g: Group) -> LogGroupOut {
        let arn = self.group_arn(&g.name);
        LogGroupOut {
            arn: format!("{arn}:*"),
            log_group_arn: arn,
            log_group_name: g.name,
            creation_time: g.created_ms,
            retention_in_days: g.retention_days,
            metric_filter_count: 0,
            stored_bytes: g.stored_bytes,
            log_group_class: "STANDARD",
        }
    }

    /// The group an operation names, which must exist.
    fn existing_group(&self, name: Option<String>, identifier: Option<String>) -> Result<String> {
        let group = group_of(name, identifier)?;
        match self.db.group(&group)? {
            Some(_) => Ok(group),
            None => Err(LogsError::GroupNotFound { group }),
        }
    }

    pub fn describe_log_groups(&self, req: DescribeLogGroupsRequest) -> Result<DescribeLogGroupsResponse> {
        let limit = limit(req.limit, DESCRIBE_LIMIT)?;
        if req.log_group_name_prefix.is_some() && req.log_group_name_pattern.is_some() {
            return Err(invalid("logGroupNamePrefix and logGroupNamePattern are mutually exclusive parameters."));
        }
        if let Some(ids) = req.log_group_identifiers {
            let mut groups = Vec::new();
            for id in ids {
                if let Some(g) = self.db.group(&strip_arn(&id))? {
                    groups.push(self.group_out(g));
                }
            }
            return Ok(DescribeLogGroupsResponse { log_groups: groups, next_token: None });
        }
        let mut groups = self.db.groups(
            req.log_group_name_prefix.as_deref(),
            req.log_group_name_pattern.as_deref(),
            req.next_token.as_deref(),
            limit + 1,
        )?;
        let next_token = page_token(&mut groups, limit, |g| g.name.clone());
        Ok(DescribeLogGroupsResponse {
            log_groups: groups.into_iter().map(|g| self.group_out(g)).collect(),
            next_token,
        })
    }

    pub fn describe_log_streams(&self, req: DescribeLogStreamsRequest) -> Result<DescribeLogStreamsResponse> {
        let limit = limit(req.limit, DESCRIBE_LIMIT)?;
        let order = match req.order_by.as_deref() {
            None | Some("LogStreamName") => StreamOrder::Name,
            Some("LastEventTime") => StreamOrder::LastEventTime,
            Some(other) => return Err(invalid(format!("Invalid orderBy: {other}"))),
        };
        if order == StreamOrder::LastEventTime && req.log_stream_name_prefix.is_some() {
            return Err(invalid("Cannot order by LastEventTime with a logStreamNamePrefix."));
        }
        let group = self.existing_group(req.log_group_name, req.log_group_identifier)?;
        let after = match req.next_token.as_deref() {
            None => None,
            Some(token) => Some(stream_token(token, order)?),
        };
        let mut streams = self.db.streams(
            &group,
            req.log_stream_name_prefix.as_deref(),
            order,
            req.descending.unwrap_or(false),
            after.as_ref().map(|(ts, name)| (*ts, name.as_str())),
            limit + 1,
        )?;
        let next_token = page_token(&mut streams, limit, |s| match order {
            StreamOrder::Name => format!("n/{}", s.name),
            StreamOrder::LastEventTime => format!("t/{}/{}", s.last_ts, s.name),
        });
        let arn = self.group_arn(&group);
        let log_streams = streams.into_iter().map(|s: Stream| LogStreamOut {
            arn: format!("{arn}:log-stream:{}", s.name),
            log_stream_name: s.name,
            creation_time: s.created_ms,
            first_event_timestamp: s.first_ts,
            last_event_timestamp: s.last_ts,
            last_ingestion_time: s.last_ts,
            stored_bytes: s.stored_bytes,
        });
        Ok(DescribeLogStreamsResponse { log_streams: log_streams.collect(), next_token })
    }

    pub fn get_log_events(&self, req: GetLogEventsRequest) -> Result<GetLogEventsResponse> {
        let limit = limit(req.limit, EVENTS_LIMIT)?;
        let Some(stream) = req.log_stream_name.filter(|s| !s.is_empty()) else {
            return Err(invalid("logStreamName is required."));
        };
        let range = time_range(req.start_time, req.end_time, true)?;
        let group = self.existing_group(req.log_group_name, req.log_group_identifier)?;
        if !self.db.stream_exists(&group, &stream)? {
            return Err(LogsError::StreamNotFound { group, stream });
        }
        let (anchor, forward) = match req.next_token.as_deref() {
            Some(token) => events_token(token)?,
            None if req.start_from_head.unwrap_or(false) => (Position::START, true),
            None => (Position::END, false),
        };
        let mut events = self.db.stream_events(&group, &stream, range, anchor, forward, limit)?;
        trim_to_size(&mut events, forward);
        let (next_forward, next_backward) = match (events.first(), events.last()) {
            (Some(first), Some(last)) => (last.position(), first.position()),
            // Nothing there: the token asked with comes back (how clients
            // see the end), and the other one points just across it.
            _ if forward => (anchor, Position { ts: anchor.ts, id: anchor.id.saturating_add(1) }),
            _ if anchor == Position::END => {
                (Position { ts: range.start.saturating_sub(1), id: i64::MAX }, Position::END)
            }
            _ => (Position { ts: anchor.ts, id: anchor.id.saturating_sub(1) }, anchor),
        };
        Ok(GetLogEventsResponse {
            events: events
                .into_iter()
                .map(|e| OutputLogEvent { timestamp: e.ts, ingestion_time: e.ts, message: e.message })
                .collect(),
            next_forward_token: format!("f/{}/{}", next_forward.ts, next_forward.id),
            next_backward_token: format!("b/{}/{}", next_backward.ts, next_backward.id),
        })
    }

    pub fn filter_log_events(&self, req: FilterLogEventsRequest) -> Result<FilterLogEventsResponse> {
        let limit = limit(req.limit, EVENTS_LIMIT)?;
        let range = time_range(req.start_time, req.end_time, false)?;
        let pattern = Pattern::parse(req.filter_pattern.as_deref().unwrap_or(""))?;
        let streams = match (req.log_stream_names, req.log_stream_name_prefix) {
            (Some(_), Some(_)) => {
                return Err(invalid("logStreamNames and logStreamNamePrefix are mutually exclusive parameters."))
            }
            (Some(names), None) if names.is_empty() || names.len() > 100 => {
                return Err(invalid("logStreamNames must name between 1 and 100 streams."))
            }
            (Some(names), None) => StreamFilter::Names(names),
            (None, Some(prefix)) => StreamFilter::Prefix(prefix),
            (None, None) => StreamFilter::All,
        };
        let after = match req.next_token.as_deref() {
            Some(token) => position_token(token).ok_or_else(|| invalid("The specified nextToken is invalid."))?,
            None => Position::START,
        };
        let group = self.existing_group(req.log_group_name, req.log_group_identifier)?;
        let mut events = Vec::new();
        let mut bytes = 0usize;
        let (last, done) = self.db.scan(&group, &streams, range, after, SCAN_BUDGET, |e: Event| {
            if pattern.matches(&e.message) {
                bytes += e.message.len() + EVENT_OVERHEAD;
                events.push(FilteredLogEvent {
                    event_id: e.id.to_string(),
                    log_stream_name: e.stream,
                    timestamp: e.ts,
                    ingestion_time: e.ts,
                    message: e.message,
                });
            }
            events.len() < limit && bytes < RESPONSE_BYTES
        })?;
        let next_token = match last {
            Some(p) if !done => Some(format!("{}/{}", p.ts, p.id)),
            _ => None,
        };
        Ok(FilterLogEventsResponse { events, searched_log_streams: Vec::new(), next_token })
    }

    pub fn put_retention_policy(&self, req: GroupRequest) -> Result<Empty> {
        let group = required_group(req.log_group_name)?;
        let days = req.retention_in_days.ok_or_else(|| invalid("retentionInDays is required."))?;
        if !RETENTION_DAYS.contains(&days) {
            return Err(invalid(format!(
                "1 validation error detected: Value '{days}' at 'retentionInDays' failed to satisfy constraint: \
                 Member must satisfy enum value set: {RETENTION_DAYS:?}"
            )));
        }
        match self.db.set_retention(&group, Some(days))? {
            true => Ok(Empty {}),
            false => Err(LogsError::GroupNotFound { group }),
        }
    }

    pub fn delete_retention_policy(&self, req: GroupRequest) -> Result<Empty> {
        let group = required_group(req.log_group_name)?;
        match self.db.set_retention(&group, None)? {
            true => Ok(Empty {}),
            false => Err(LogsError::GroupNotFound { group }),
        }
    }

    pub fn create_log_group(&self, req: GroupRequest) -> Result<Empty> {
        let group = required_group(req.log_group_name)?;
        let valid = group.len() <= 512 && group.chars().all(|c| c.is_ascii_alphanumeric() || "._-/#".contains(c));
        if !valid {
            return Err(invalid(format!(
                "1 validation error detected: Value '{group}' at 'logGroupName' failed to satisfy constraint: \
                 Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+"
            )));
        }
        match self.db.create_group(&group, lamina_core::now_ms())? {
            true => Ok(Empty {}),
            false => Err(LogsError::GroupExists { group }),
        }
    }

    pub fn delete_log_group(&self, req: GroupRequest) -> Result<Empty> {
        let group = required_group(req.log_group_name)?;
        match self.db.delete_group(&group)? {
            true => Ok(Empty {}),
            false => Err(LogsError::GroupNotFound { group }),
        }
    }
}

// ---- helpers ----

fn limit(given: Option<i64>, max: i64) -> Result<usize> {
    match given {
        None => Ok(max as usize),
        Some(n) if (1..=max).contains(&n) => Ok(n as usize),
        Some(n) => Err(invalid(format!(
            "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: \
             Member must have value between 1 and {max}"
        ))),
    }
}

/// The time range asked for; `end_exclusive` for GetLogEvents, whose
/// endTime is exclusive (FilterLogEvents' is inclusive).
fn time_range(start: Option<i64>, end: Option<i64>, end_exclusive: bool) -> Result<TimeRange> {
    if start.is_some_and(|s| s < 0) || end.is_some_and(|e| e < 0) {
        return Err(invalid("startTime and endTime must not be negative."));
    }
    if let (Some(s), Some(e)) = (start, end) {
        if s > e {
            return Err(invalid("startTime must be less than or equal to endTime."));
        }
    }
    let end = match end {
        Some(e) if end_exclusive => e - 1,
        Some(e) => e,
        None => i64::MAX,
    };
    Ok(TimeRange { start: start.unwrap_or(i64::MIN), end })
}

fn required_group(name: Option<String>) -> Result<String> {
    name.filter(|n| !n.is_empty()).ok_or_else(|| invalid("logGroupName is required."))
}

/// `logGroupName` or `logGroupIdentifier` (a name or an ARN), exactly one.
fn group_of(name: Option<String>, identifier: Option<String>) -> Result<String> {
    match (name, identifier) {
        (Some(_), Some(_)) => Err(invalid("LogGroup name and LogGroup ARN are mutually exclusive parameters.")),
        (Some(n), None) if !n.is_empty() => Ok(n),
        (None, Some(id)) if !id.is_empty() => Ok(strip_arn(&id)),
        _ => Err(invalid("Either logGroupName or logGroupIdentifier is required.")),
    }
}

/// The group name in `arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]`, or the name itself.
fn strip_arn(identifier: &str) -> String {
    match identifier.split_once(":log-group:") {
        Some((_, rest)) => rest.strip_suffix(":*").unwrap_or(rest).to_string(),
        None => identifier.to_string(),
    }
}

/// Cuts a page fetched with one extra row to `limit`; the token, if more remain.
fn page_token<T>(rows: &mut Vec<T>, limit: usize, token: impl Fn(&T) -> String) -> Option<String> {
    if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(token)
    } else {
        None
    }
}

fn stream_token(token: &str, order: StreamOrder) -> Result<(i64, String)> {
    let bad = || invalid("The specified nextToken is invalid.");
    match order {
        StreamOrder::Name => token.strip_prefix("n/").map(|name| (0, name.to_string())).ok_or_else(bad),
        StreamOrder::LastEventTime => {
            let rest = token.strip_prefix("t/").ok_or_else(bad)?;
            let (ts, name) = rest.split_once('/').ok_or_else(bad)?;
            Ok((ts.parse().map_err(|_| bad())?, name.to_string()))
        }
    }
}

fn position_token(token: &str) -> Option<Position> {
    let (ts, id) = token.split_once('/')?;
    Some(Position { ts: ts.parse().ok()?, id: id.parse().ok()? })
}

/// `f/<ts>/<id>` or `b/<ts>/<id>`: the anchor and whether to read forward.
fn events_token(token: &str) -> Result<(Position, bool)> {
    let parsed = match token.split_at_checked(2) {
        Some(("f/", rest)) => position_token(rest).map(|p| (p, true)),
        Some(("b/", rest)) => position_token(rest).map(|p| (p, false)),
        _ => None,
    };
    parsed.ok_or_else(|| invalid("The specified nextToken is invalid."))
}

/// Keeps a page within the response size, dropping from the far end of the
/// direction read (so the tokens still continue where the page stops).
fn trim_to_size(events: &mut Vec<Event>, forward: bool) {
    let mut total = 0usize;
    let fits = |e: &Event, total: &mut usize| {
        *total += e.message.len() + EVENT_OVERHEAD;
        *total <= RESPONSE_BYTES
    };
    if forward {
        let keep = events.iter().take_while(|e| fits(e, &mut total)).count().max(1);
        events.truncate(keep);
    } else {
        let keep = events.iter().rev().take_while(|e| fits(e, &mut total)).count().max(1);
        let drop = events.len().saturating_sub(keep);
        events.drain(..drop);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_round_trip() {
        assert_eq!(events_token("f/10/3").unwrap(), (Position { ts: 10, id: 3 }, true));
        assert_eq!(events_token("b/-5/9").unwrap(), (Position { ts: -5, id: 9 }, false));
        assert!(events_token("x/1/2").is_err());
        assert!(events_token("f/1").is_err());
        assert_eq!(
            stream_token("t/5/2024/01/01/[$LATEST]ab", StreamOrder::LastEventTime).unwrap().1,
            "2024/01/01/[$LATEST]ab"
        );
        assert!(stream_token("n/x", StreamOrder::LastEventTime).is_err());
    }

    #[test]
    fn group_identifiers() {
        assert_eq!(strip_arn("arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/f:*"), "/aws/lambda/f");
        assert_eq!(strip_arn("/aws/lambda/f"), "/aws/lambda/f");
        assert!(group_of(Some("a".into()), Some("b".into())).is_err());
        assert!(group_of(None, None).is_err());
    }

    #[test]
    fn limits_are_checked() {
        assert_eq!(limit(None, 50).unwrap(), 50);
        assert!(limit(Some(0), 50).is_err());
        assert!(limit(Some(51), 50).is_err());
    }
}
