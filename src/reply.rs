//! Server replies as JavaScript sees them: the raw RESP2 shapes node-redis'
//! `sendCommand` returns, whatever protocol the socket speaks.

use napi::sys;
use redis::Value;
use redis_layer_core::{ErrorCode, LayerError};

/// V8's longest string in UTF-16 code units (`v8::String::kMaxLength` on 64-bit).
pub const MAX_JS_STRING: usize = (1 << 29) - 24;

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
            Value::BulkString(bytes) => Reply::Text(utf8_lossy(bytes)),
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

/// `bytes` as text, without a copy when they are UTF-8; invalid sequences become U+FFFD.
pub fn utf8_lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

impl Reply {
    /// The JavaScript value. A reply JavaScript cannot hold (a string past V8's limit,
    /// anywhere in a list) is an error for its own call, with no exception left pending.
    ///
    /// # Safety
    /// JS thread, live env.
    pub unsafe fn into_js(self, env: sys::napi_env) -> Result<sys::napi_value, LayerError> {
        let mut value = std::ptr::null_mut();
        // SAFETY: forwarded from the caller; every out-pointer is a live local.
        unsafe {
            match self {
                Reply::Nil => check(env, sys::napi_get_null(env, &mut value))?,
                Reply::Int(number) => check(env, sys::napi_create_int64(env, number, &mut value))?,
                Reply::Text(text) => value = js_string(env, &text)?,
                Reply::List(items) => {
                    check(
                        env,
                        sys::napi_create_array_with_length(env, items.len(), &mut value),
                    )?;
                    for (index, item) in items.into_iter().enumerate() {
                        let element = item.into_js(env)?;
                        check(
                            env,
                            sys::napi_set_element(env, value, index as u32, element),
                        )?;
                    }
                }
                Reply::Error(message) => {
                    let code = js_string(env, ErrorCode::Server.as_str())?;
                    let message = js_string(env, &message)?;
                    check(env, sys::napi_create_error(env, code, message, &mut value))?;
                }
            }
        }
        Ok(value)
    }
}

/// A JavaScript string of `text`: one-byte when ASCII (a plain copy; JSON values
/// almost always are), else decoded from UTF-8, or from UTF-16 when the UTF-8 is
/// longer than V8 accepts but the text itself fits.
///
/// # Safety
/// JS thread, live env.
pub unsafe fn js_string(env: sys::napi_env, text: &str) -> Result<sys::napi_value, LayerError> {
    let mut value = std::ptr::null_mut();
    // SAFETY: forwarded from the caller; pointers and lengths describe `text` or `units`.
    let status = unsafe {
        if text.len() <= MAX_JS_STRING {
            if text.is_ascii() {
                sys::napi_create_string_latin1(
                    env,
                    text.as_ptr().cast(),
                    text.len() as isize,
                    &mut value,
                )
            } else {
                sys::napi_create_string_utf8(
                    env,
                    text.as_ptr().cast(),
                    text.len() as isize,
                    &mut value,
                )
            }
        } else if !text.is_ascii() && text.encode_utf16().count() <= MAX_JS_STRING {
            let units: Vec<u16> = text.encode_utf16().collect();
            sys::napi_create_string_utf16(env, units.as_ptr(), units.len() as isize, &mut value)
        } else {
            return Err(LayerError::new(
                ErrorCode::ReplyTooLarge,
                format!(
                    "Redis reply of {} bytes is too large for a JavaScript string (at most {MAX_JS_STRING} characters)",
                    text.len()
                ),
            ));
        }
    };
    check(env, status)?;
    Ok(value)
}

/// A failed napi call as an error for the call being converted. A failure may leave
/// a JavaScript exception pending, which would fail everything after it: it is cleared.
///
/// # Safety
/// JS thread, live env.
pub unsafe fn check(env: sys::napi_env, status: sys::napi_status) -> Result<(), LayerError> {
    if status == sys::Status::napi_ok {
        return Ok(());
    }
    let mut pending = false;
    let mut exception = std::ptr::null_mut();
    // SAFETY: forwarded from the caller.
    unsafe {
        sys::napi_is_exception_pending(env, &mut pending);
        if pending {
            sys::napi_get_and_clear_last_exception(env, &mut exception);
        }
    }
    Err(LayerError::new(
        ErrorCode::Internal,
        format!("converting a Redis reply for JavaScript failed (napi status {status})"),
    ))
}
