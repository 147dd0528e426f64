//! `MGET` of JSON values as one JSON array text: JavaScript then makes one string and
//! runs one `JSON.parse` per call instead of one of each per key, which was most of
//! what a 100-key `mget` cost on the JS thread beyond the parsing itself.

use redis::Value;
use serde_json::value::RawValue;

use crate::reply::Reply;

/// `[arrayText, [index, raw, index, raw, ...]]`. A value is spliced into `arrayText`
/// only when it is exactly one complete JSON value on its own, so no stored text can
/// shift or merge its neighbours; misses are `null`. Anything else leaves a `null`
/// and comes back raw with its index, for JavaScript to parse (and report) alone.
pub fn json_array(reply: Value) -> Reply {
    let Value::Array(items) = reply else {
        return Reply::from(reply);
    };
    let size: usize = items
        .iter()
        .map(|item| match item {
            Value::BulkString(bytes) => bytes.len() + 1,
            _ => 5,
        })
        .sum();
    let mut text = Vec::with_capacity(size + 2);
    let mut unchecked = Vec::new();
    text.push(b'[');
    for (index, item) in items.into_iter().enumerate() {
        if index > 0 {
            text.push(b',');
        }
        match item {
            Value::Nil => text.extend_from_slice(b"null"),
            Value::BulkString(bytes) if is_one_json_value(&bytes) => text.extend_from_slice(&bytes),
            other => {
                text.extend_from_slice(b"null");
                unchecked.push(Reply::Int(index as i64));
                unchecked.push(Reply::from(other));
            }
        }
    }
    text.push(b']');
    // serde_json accepted every spliced value, and it accepts only UTF-8.
    let text = String::from_utf8(text)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned());
    Reply::List(vec![Reply::Text(text), Reply::List(unchecked)])
}

fn is_one_json_value(bytes: &[u8]) -> bool {
    serde_json::from_slice::<&RawValue>(bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &str) -> Value {
        Value::BulkString(text.as_bytes().to_vec())
    }

    fn parts(reply: Reply) -> (String, usize) {
        match reply {
            Reply::List(mut parts) => match (parts.remove(0), parts.remove(0)) {
                (Reply::Text(text), Reply::List(unchecked)) => (text, unchecked.len() / 2),
                _ => panic!("unexpected reply shape"),
            },
            _ => panic!("unexpected reply shape"),
        }
    }

    #[test]
    fn splices_whole_values_and_leaves_fragments_out() {
        let reply = Value::Array(vec![
            bulk(r#"{"a":[1,2]}"#),
            Value::Nil,
            bulk("[1"),
            bulk("2]"),
            bulk("3,4"),
            bulk(" \"x\" "),
        ]);
        let (text, unchecked) = parts(json_array(reply));
        assert_eq!(text, r#"[{"a":[1,2]},null,null,null,null, "x" ]"#);
        assert_eq!(unchecked, 3);
    }
}
