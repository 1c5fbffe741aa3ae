//! XML text escaping for the services that answer in XML (SQS's and SNS's
//! query protocol, CloudWatch's query protocol, S3's rest-xml).

/// Escapes text for an XML element or attribute value. `\r` is escaped
/// too: XML parsers would otherwise fold it into `\n`, and SQS and SNS
/// messages must come back byte for byte.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

/// [`escape`], appending to `out`.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup_quotes_and_carriage_returns() {
        assert_eq!(super::escape("a<b>&\"c'\r\nd"), "a&lt;b&gt;&amp;&quot;c&apos;&#xD;\nd");
        assert_eq!(super::escape("plain"), "plain");
    }
}
