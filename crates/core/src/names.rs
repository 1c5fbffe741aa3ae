//! Function names, qualifiers and ARNs.
//!
//! Lambda accepts a function as `my-fn`, `my-fn:qualifier`, the partial ARN
//! `123456789012:function:my-fn[:qualifier]` or the full ARN
//! `arn:aws:lambda:us-east-1:123456789012:function:my-fn[:qualifier]`.
//! [`FunctionRef::parse`] reduces all of them to a name and a qualifier.

use crate::Invalid;

/// Where ARNs point: the configured region and account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub region: String,
    pub account_id: String,
}

impl Partition {
    pub fn function_arn(&self, name: &str) -> String {
        format!("arn:aws:lambda:{}:{}:function:{}", self.region, self.account_id, name)
    }

    pub fn qualified_arn(&self, name: &str, qualifier: &str) -> String {
        format!("{}:{}", self.function_arn(name), qualifier)
    }
}

/// A function named in a request, with its optional qualifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionRef {
    pub name: String,
    pub qualifier: Option<String>,
}

impl FunctionRef {
    /// Parses any of Lambda's function name forms.
    pub fn parse(input: &str) -> Result<Self, Invalid> {
        let parts: Vec<&str> = input.split(':').collect();
        let (name, qualifier) = match parts.as_slice() {
            [name] => (*name, None),
            [name, q] => (*name, Some(*q)),
            [_acct, "function", name] => (*name, None),
            [_acct, "function", name, q] => (*name, Some(*q)),
            ["arn", _, "lambda", _region, _acct, "function", name] => (*name, None),
            ["arn", _, "lambda", _region, _acct, "function", name, q] => (*name, Some(*q)),
            _ => return Err(invalid_name(input)),
        };
        validate_name(name).map_err(|_| invalid_name(input))?;
        if let Some(q) = qualifier {
            validate_qualifier(q)?;
        }
        Ok(Self { name: name.to_string(), qualifier: qualifier.map(str::to_string) })
    }
}

fn invalid_name(input: &str) -> Invalid {
    Invalid(format!(
        "1 validation error detected: Value '{input}' at 'functionName' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: \
         (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{{2}}(-gov)?-[a-z]+-\\d{{1}}:)?(\\d{{12}}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
    ))
}

/// A bare function name: 1–64 of `[a-zA-Z0-9-_]`.
pub fn validate_name(name: &str) -> Result<(), Invalid> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(invalid_name(name))
    }
}

/// A version (`$LATEST`, digits) or alias name (`[a-zA-Z0-9-_]`, not only digits).
pub fn validate_qualifier(q: &str) -> Result<(), Invalid> {
    let ok = q == crate::LATEST
        || (!q.is_empty() && q.len() <= 128 && q.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    if ok {
        Ok(())
    } else {
        Err(Invalid(format!(
            "1 validation error detected: Value '{q}' at 'qualifier' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)"
        )))
    }
}

/// An alias name: 1–128 of `[a-zA-Z0-9-_]`, not starting with a digit-only form.
pub fn validate_alias_name(name: &str) -> Result<(), Invalid> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !name.bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(Invalid(format!(
            "1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_lambda_accepts() {
        let cases = [
            ("f", "f", None),
            ("f:live", "f", Some("live")),
            ("f:$LATEST", "f", Some("$LATEST")),
            ("123456789012:function:f", "f", None),
            ("123456789012:function:f:3", "f", Some("3")),
            ("arn:aws:lambda:us-east-1:123456789012:function:f", "f", None),
            ("arn:aws:lambda:us-east-1:123456789012:function:f:live", "f", Some("live")),
        ];
        for (input, name, q) in cases {
            let r = FunctionRef::parse(input).unwrap();
            assert_eq!(r.name, name, "{input}");
            assert_eq!(r.qualifier.as_deref(), q, "{input}");
        }
    }

    #[test]
    fn refuses_bad_names() {
        for bad in ["", "a b", "x".repeat(65).as_str(), "a:b:c:d:e", "f:", "arn:aws:s3:::bucket"] {
            assert!(FunctionRef::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn alias_names_cannot_be_all_digits() {
        assert!(validate_alias_name("live").is_ok());
        assert!(validate_alias_name("123").is_err());
    }
}
