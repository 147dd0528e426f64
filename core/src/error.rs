use std::fmt;

use redis::{ErrorKind, RedisError, ServerErrorKind};

/// Stable error codes surfaced to JavaScript as `err.code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidUrl,
    ConnectionRefused,
    AuthFailed,
    ConnectTimeout,
    NotConnected,
    Timeout,
    ConnectionLost,
    Closed,
    Server,
    Protocol,
    InvalidArgument,
    /// A reply JavaScript cannot hold (a string beyond V8's length limit).
    ReplyTooLarge,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidUrl => "ERR_INVALID_URL",
            ErrorCode::ConnectionRefused => "ERR_CONNECTION_REFUSED",
            ErrorCode::AuthFailed => "ERR_AUTH_FAILED",
            ErrorCode::ConnectTimeout => "ERR_CONNECT_TIMEOUT",
            ErrorCode::NotConnected => "ERR_NOT_CONNECTED",
            ErrorCode::Timeout => "ERR_TIMEOUT",
            ErrorCode::ConnectionLost => "ERR_CONNECTION_LOST",
            ErrorCode::Closed => "ERR_CLOSED",
            ErrorCode::Server => "ERR_REDIS",
            ErrorCode::Protocol => "ERR_PROTOCOL",
            ErrorCode::InvalidArgument => "ERR_INVALID_ARG",
            ErrorCode::ReplyTooLarge => "ERR_REPLY_TOO_LARGE",
            ErrorCode::Internal => "ERR_INTERNAL",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerError {
    pub code: ErrorCode,
    pub message: String,
}

impl LayerError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Whether the connection that produced this error must be replaced.
    pub fn breaks_connection(&self) -> bool {
        matches!(self.code, ErrorCode::ConnectionLost)
    }

    /// Classifies an error from a command on an established connection.
    pub fn from_command(err: &RedisError) -> Self {
        if err.is_timeout() {
            return Self::new(
                ErrorCode::Timeout,
                format!("Redis command timed out: {err}"),
            );
        }
        if err.is_connection_dropped() || err.is_io_error() || err.is_unrecoverable_error() {
            return Self::new(
                ErrorCode::ConnectionLost,
                format!("Redis connection lost: {err}"),
            );
        }
        match err.kind() {
            ErrorKind::Server(ServerErrorKind::ReadOnly) => Self::read_only(err),
            ErrorKind::Server(_) | ErrorKind::Extension => {
                Self::new(ErrorCode::Server, err.to_string())
            }
            ErrorKind::Parse | ErrorKind::UnexpectedReturnType => {
                Self::new(ErrorCode::Protocol, err.to_string())
            }
            _ => Self::new(ErrorCode::Internal, err.to_string()),
        }
    }

    /// Classifies an error reply found inside a pipeline.
    pub fn from_server(err: &redis::ServerError) -> Self {
        if err.code() == "READONLY" {
            return Self::read_only(err);
        }
        Self::new(ErrorCode::Server, err.to_string())
    }

    /// After a failover the old master answers writes with READONLY: the connection
    /// must be replaced (Sentinel re-resolves the master on reconnect).
    fn read_only(err: &dyn fmt::Display) -> Self {
        Self::new(
            ErrorCode::ConnectionLost,
            format!("Redis is read-only here (the master moved?); reconnecting: {err}"),
        )
    }

    /// Classifies an error raised while opening a connection to `target`
    /// (a host:port string that never carries credentials).
    pub fn from_connect(err: &RedisError, target: &str) -> Self {
        if err.is_connection_refusal() {
            return Self::new(
                ErrorCode::ConnectionRefused,
                format!("Connection refused by Redis at {target}"),
            );
        }
        if err.is_timeout() {
            return Self::new(
                ErrorCode::ConnectTimeout,
                format!("Timed out connecting to Redis at {target}"),
            );
        }
        let text = err.to_string();
        let auth = err.kind() == ErrorKind::AuthenticationFailed
            || ["WRONGPASS", "NOAUTH", "invalid password", "AUTH"]
                .iter()
                .any(|needle| text.contains(needle) || err.code() == Some(needle));
        if auth {
            return Self::new(
                ErrorCode::AuthFailed,
                format!(
                    "Redis authentication failed at {target}: {}",
                    first_line(&text)
                ),
            );
        }
        Self::new(
            ErrorCode::ConnectionRefused,
            format!(
                "Could not connect to Redis at {target}: {}",
                first_line(&text)
            ),
        )
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

impl fmt::Display for LayerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for LayerError {}
