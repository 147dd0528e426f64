//! Server replies as JavaScript sees them: the raw RESP2 shapes node-redis'
//! `sendCommand` returns, whatever protocol the socket speaks.

use napi::bindgen_prelude::{Null, ToNapiValue};
use napi::sys;
use redis::Value;

pub enum Reply {
    Nil,
    Int(i64),
    Text(String),
    List(Vec<Reply>),
    /// An error nested in a pipeline or EXEC result.
    Error(String),
}

impl From<Value> for Reply {
    fn from(value: Value) -> Self {
        match value {
            Value::Nil => Reply::Nil,
            Value::Int(number) => Reply::Int(number),
            Value::BulkString(bytes) => Reply::Text(
                String::from_utf8(bytes)
                    .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned()),
            ),
            Value::SimpleString(text) => Reply::Text(text),
            Value::Okay => Reply::Text("OK".to_string()),
            Value::Array(items) | Value::Set(items) | Value::Push { data: items, .. } => {
                Reply::List(items.into_iter().map(Reply::from).collect())
            }
            Value::Map(pairs) => Reply::List(
                pairs
                    .into_iter()
                    .flat_map(|(key, value)| [Reply::from(key), Reply::from(value)])
                    .collect(),
            ),
            Value::Attribute { data, .. } => Reply::from(*data),
            Value::Double(number) => Reply::Text(number.to_string()),
            Value::Boolean(flag) => Reply::Int(i64::from(flag)),
            Value::VerbatimString { text, .. } => Reply::Text(text),
            Value::BigNumber(digits) => Reply::Text(String::from_utf8_lossy(&digits).into_owned()),
            Value::ServerError(err) => Reply::Error(err.to_string()),
            other => Reply::Text(format!("{other:?}")),
        }
    }
}

impl ToNapiValue for Reply {
    unsafe fn to_napi_value(env: sys::napi_env, reply: Self) -> napi::Result<sys::napi_value> {
        // SAFETY: called by napi on the JS thread with a live env, as every ToNapiValue.
        unsafe {
            match reply {
                Reply::Nil => Null::to_napi_value(env, Null),
                Reply::Int(number) => i64::to_napi_value(env, number),
                Reply::Text(text) => String::to_napi_value(env, text),
                Reply::List(items) => Vec::<Reply>::to_napi_value(env, items),
                Reply::Error(message) => {
                    let mut text = std::ptr::null_mut();
                    let mut error = std::ptr::null_mut();
                    let message_value = String::to_napi_value(env, message)?;
                    napi::check_status!(sys::napi_create_string_utf8(
                        env,
                        c"ERR_REDIS".as_ptr(),
                        9,
                        &mut text
                    ))?;
                    napi::check_status!(sys::napi_create_error(
                        env,
                        text,
                        message_value,
                        &mut error
                    ))?;
                    Ok(error)
                }
            }
        }
    }
}
