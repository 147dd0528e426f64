//! `MGET` of JSON values as one JSON array text: JavaScript then makes one string and
//! runs one `JSON.parse` per call instead of one of each per key.

use redis::Value;
use serde_json::value::RawValue;

use crate::reply::{utf8_lossy, Reply, MAX_JS_STRING};

/// `[arrayText, [index, raw, index, raw, ...]]`. A value is spliced into `arrayText`
/// only when it is exactly one complete JSON value on its own, so no stored text can
/// shift or merge its neighbours; misses are `null`. Anything else leaves a `null`
/// and comes back raw with its index, for JavaScript to parse (and report) alone;
/// so does a value that would make `arrayText` longer than a JavaScript string can be.
pub fn json_array(reply: Value) -> Reply {
    json_array_within(reply, MAX_JS_STRING)
}

/// `json_array` with `arrayText` at most `limit` bytes long.
fn json_array_within(reply: Value, limit: usize) -> Reply {
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
    // Bytes bound the text's UTF-16 length from above. Past the limit a value is spliced
    // only while the rest, all `null` at worst, still fits.
    let fits = size + 2 <= limit;
    let count = items.len();
    let room = |used: usize, bytes: &[u8], index: usize| {
        used + bytes.len() + 5 * (count - index - 1) + 2 <= limit
    };
    let mut text = Vec::with_capacity(size.min(limit) + 2);
    let mut unchecked = Vec::new();
    text.push(b'[');
    for (index, item) in items.into_iter().enumerate() {
        if index > 0 {
            text.push(b',');
        }
        match item {
            Value::Nil => text.extend_from_slice(b"null"),
            Value::BulkString(bytes)
                if (fits || room(text.len(), &bytes, index)) && is_one_json_value(&bytes) =>
            {
                text.extend_from_slice(&bytes)
            }
            other => {
                text.extend_from_slice(b"null");
                unchecked.push(Reply::Int(index as i64));
                unchecked.push(Reply::from(other));
            }
        }
    }
    text.push(b']');
    // serde_json accepted every spliced value, and it accepts only UTF-8.
    Reply::List(vec![Reply::Text(utf8_lossy(text)), Reply::List(unchecked)])
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

    #[test]
    fn leaves_out_what_would_make_the_text_too_long() {
        let reply = || {
            Value::Array(vec![
                bulk(r#""aaaaaaaa""#),
                bulk(r#""bbbbbbbb""#),
                Value::Nil,
                bulk("1"),
            ])
        };
        // Everything fits: spliced as usual.
        let (text, unchecked) = parts(json_array_within(reply(), 40));
        assert_eq!(text, r#"["aaaaaaaa","bbbbbbbb",null,1]"#);
        assert_eq!(unchecked, 0);
        // Room for one long value and the rest: the second comes back raw.
        let (text, unchecked) = parts(json_array_within(reply(), 30));
        assert!(text.len() <= 30);
        assert_eq!(text, r#"["aaaaaaaa",null,null,1]"#);
        assert_eq!(unchecked, 1);
    }
}
