//! Errors the binding gives JavaScript: thrown by its methods, or failing one call.

use redis_layer_core::{ErrorCode, LayerError};

/// An `ErrorCode` as the `code` of an error thrown into JavaScript.
pub struct ErrorCodeName(pub ErrorCode);

impl AsRef<str> for ErrorCodeName {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

/// The error a closed socket throws when called again; its `code` is `ERR_CLOSED`.
pub fn closed(what: &str) -> napi::Error<ErrorCodeName> {
    napi::Error::new(
        ErrorCodeName(ErrorCode::Closed),
        format!("{what} is closed"),
    )
}

/// A malformed argument, as the error of its own call.
pub fn invalid(message: &'static str) -> LayerError {
    LayerError::new(ErrorCode::InvalidArgument, message)
}
