//! The stable error codes JavaScript sees, and the classification of redis-rs errors
//! into them by kind and predicate (never by searching message text).

use std::fmt;

use redis::{ErrorKind, RedisError, ServerError, ServerErrorKind};

/// Stable error codes surfaced to JavaScript as `err.code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// A URL or topology setting cannot be used (`ERR_INVALID_URL`).
    InvalidUrl,
    /// Nothing accepted the connection, or it failed for a reason other than the
    /// ones below (`ERR_CONNECTION_REFUSED`).
    ConnectionRefused,
    /// The server refused the credentials (`ERR_AUTH_FAILED`).
    AuthFailed,
    /// Opening the connection took longer than the connect timeout (`ERR_CONNECT_TIMEOUT`).
    ConnectTimeout,
    /// A command was issued while no connection is up; one is being reopened
    /// (`ERR_NOT_CONNECTED`).
    NotConnected,
    /// A reply took longer than the command timeout (`ERR_TIMEOUT`).
    Timeout,
    /// The connection broke under a command and is being replaced (`ERR_CONNECTION_LOST`).
    ConnectionLost,
    /// The application closed the connection (`ERR_CLOSED`).
    Closed,
    /// Redis answered with an error reply (`ERR_REDIS`).
    Server,
    /// A reply had a shape the caller did not expect (`ERR_PROTOCOL`).
    Protocol,
    /// An argument from the application cannot be sent (`ERR_INVALID_ARG`).
    InvalidArgument,
    /// A reply JavaScript cannot hold (a string beyond V8's length limit).
    ReplyTooLarge,
    /// A failure inside redis-layer or redis-rs that none of the above describes.
    Internal,
}

impl ErrorCode {
    /// The code as JavaScript sees it, e.g. `"ERR_AUTH_FAILED"`.
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

/// An error as JavaScript receives it: a stable code and a message free of secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerError {
    /// What kind of failure this is; callers branch on it.
    pub code: ErrorCode,
    /// A human-readable explanation; never carries a password.
    pub message: String,
}

impl LayerError {
    /// An error with the given code and message.
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
    pub fn from_server(err: &ServerError) -> Self {
        if err.kind() == Some(ServerErrorKind::ReadOnly) {
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
        if is_auth_failure(err) {
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

/// Whether the server refused the credentials: redis-rs' own kind for a failed RESP2
/// `AUTH`, or the server's `WRONGPASS` / `NOAUTH` error code (the reply to `HELLO 3 AUTH`
/// with a wrong password, or to `HELLO` without one where a password is required).
pub fn is_auth_failure(err: &RedisError) -> bool {
    err.kind() == ErrorKind::AuthenticationFailed
        || matches!(err.code(), Some("WRONGPASS" | "NOAUTH"))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    /// The error redis-rs makes of a server's error reply.
    fn reply(line: &str) -> RedisError {
        let value = redis::parse_redis_value(format!("{line}\r\n").as_bytes())
            .expect("an error reply parses into a value");
        value
            .extract_error()
            .expect_err("an error reply is an error")
    }

    fn server_error(line: &str) -> ServerError {
        match redis::parse_redis_value(format!("{line}\r\n").as_bytes()) {
            Ok(redis::Value::ServerError(err)) => err,
            other => panic!("{line:?} is not an error reply: {other:?}"),
        }
    }

    fn io(kind: io::ErrorKind) -> RedisError {
        io::Error::from(kind).into()
    }

    #[test]
    fn connect_errors_by_kind() {
        let cases: Vec<(&str, RedisError, ErrorCode)> = vec![
            (
                "refused",
                io(io::ErrorKind::ConnectionRefused),
                ErrorCode::ConnectionRefused,
            ),
            (
                "missing unix socket",
                io(io::ErrorKind::NotFound),
                ErrorCode::ConnectionRefused,
            ),
            (
                "timed out",
                io(io::ErrorKind::TimedOut),
                ErrorCode::ConnectTimeout,
            ),
            (
                "RESP2 AUTH refused",
                (
                    ErrorKind::AuthenticationFailed,
                    "Password authentication failed",
                )
                    .into(),
                ErrorCode::AuthFailed,
            ),
            (
                "HELLO with a wrong password",
                reply("-WRONGPASS invalid username-password pair or user is disabled."),
                ErrorCode::AuthFailed,
            ),
            (
                "HELLO without a password where one is required",
                reply("-NOAUTH HELLO must be called with the client already authenticated"),
                ErrorCode::AuthFailed,
            ),
            (
                "a command before authenticating",
                reply("-NOAUTH Authentication required."),
                ErrorCode::AuthFailed,
            ),
            (
                "a server without the AUTH command refused no credentials",
                reply("-ERR unknown command 'AUTH', with args beginning with: 'pw'"),
                ErrorCode::ConnectionRefused,
            ),
            (
                "a dropped connection",
                io(io::ErrorKind::ConnectionReset),
                ErrorCode::ConnectionRefused,
            ),
            (
                "loading the dataset",
                reply("-LOADING Redis is loading the dataset in memory"),
                ErrorCode::ConnectionRefused,
            ),
            (
                "no RESP3",
                (ErrorKind::RESP3NotSupported, "HELLO is not supported").into(),
                ErrorCode::ConnectionRefused,
            ),
        ];
        for (case, err, expected) in cases {
            let classified = LayerError::from_connect(&err, "127.0.0.1:6379");
            assert_eq!(classified.code, expected, "{case}: {err}");
            assert!(
                classified.message.contains("127.0.0.1:6379"),
                "{case}: {}",
                classified.message
            );
        }
    }

    #[test]
    fn command_errors_by_kind() {
        let cases: Vec<(&str, RedisError, ErrorCode)> = vec![
            ("timed out", io(io::ErrorKind::TimedOut), ErrorCode::Timeout),
            (
                "would block",
                io(io::ErrorKind::WouldBlock),
                ErrorCode::Timeout,
            ),
            (
                "broken pipe",
                io(io::ErrorKind::BrokenPipe),
                ErrorCode::ConnectionLost,
            ),
            (
                "reset",
                io(io::ErrorKind::ConnectionReset),
                ErrorCode::ConnectionLost,
            ),
            (
                "closed mid-reply",
                io(io::ErrorKind::UnexpectedEof),
                ErrorCode::ConnectionLost,
            ),
            (
                "driver gone",
                (ErrorKind::Io, "Multiplexed connection driver terminated").into(),
                ErrorCode::ConnectionLost,
            ),
            (
                "reply stream out of sync",
                (ErrorKind::Parse, "invalid response").into(),
                ErrorCode::ConnectionLost,
            ),
            (
                "demoted master",
                reply("-READONLY You can't write against a read only replica."),
                ErrorCode::ConnectionLost,
            ),
            (
                "generic error reply",
                reply("-ERR wrong number of arguments for 'get' command"),
                ErrorCode::Server,
            ),
            (
                "extension code",
                reply("-WRONGTYPE Operation against a key holding the wrong kind of value"),
                ErrorCode::Server,
            ),
            (
                "missing script",
                reply("-NOSCRIPT No matching script."),
                ErrorCode::Server,
            ),
            (
                "credentials revoked",
                reply("-NOAUTH Authentication required."),
                ErrorCode::Server,
            ),
            (
                "wrong reply type",
                (ErrorKind::UnexpectedReturnType, "not an integer").into(),
                ErrorCode::Protocol,
            ),
            (
                "client-side misuse",
                (ErrorKind::Client, "empty command").into(),
                ErrorCode::Internal,
            ),
        ];
        for (case, err, expected) in cases {
            let classified = LayerError::from_command(&err);
            assert_eq!(classified.code, expected, "{case}: {err}");
            assert_eq!(
                classified.breaks_connection(),
                expected == ErrorCode::ConnectionLost,
                "{case}"
            );
        }
    }

    #[test]
    fn pipeline_error_replies_by_kind() {
        for (line, expected) in [
            (
                "-READONLY You can't write against a read only replica.",
                ErrorCode::ConnectionLost,
            ),
            ("-ERR syntax error", ErrorCode::Server),
            ("-WRONGTYPE Operation against a key", ErrorCode::Server),
            ("-EXECABORT Transaction discarded", ErrorCode::Server),
        ] {
            let classified = LayerError::from_server(&server_error(line));
            assert_eq!(classified.code, expected, "{line}");
        }
    }
}
