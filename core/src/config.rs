use std::fmt;
use std::time::Duration;

use redis::{ConnectionInfo, IntoConnectionInfo, ProtocolVersion};

use crate::error::{ErrorCode, LayerError};

pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

/// Connection settings as the application gave them; environment variables are
/// consulted only in [`ConnectionConfig::resolve`], i.e. at `connect()` time.
#[derive(Clone)]
pub struct ConnectionConfig {
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub database: Option<i64>,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    pub reconnect_step: Duration,
    pub reconnect_max: Duration,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            url: None,
            username: None,
            password: None,
            database: None,
            connect_timeout: Duration::from_millis(5_000),
            command_timeout: Duration::from_millis(5_000),
            reconnect_step: Duration::from_millis(50),
            reconnect_max: Duration::from_millis(1_000),
        }
    }
}

impl fmt::Debug for ConnectionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionConfig")
            .field("url", &self.url.as_deref().map(redact_url))
            .field("username", &self.username)
            .field(
                "password",
                &if self.password.is_some() {
                    "set"
                } else {
                    "not set"
                },
            )
            .field("database", &self.database)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .finish()
    }
}

/// A resolved target: what to connect to and a credential-free name for messages.
#[derive(Clone)]
pub struct Target {
    pub info: ConnectionInfo,
    pub display: String,
}

impl ConnectionConfig {
    /// Applies `REDIS_URL` / `REDIS_PASSWORD` where the options left gaps, then parses.
    pub fn resolve(&self, env: impl Fn(&str) -> Option<String>) -> Result<Target, LayerError> {
        let url = self
            .url
            .clone()
            .or_else(|| env("REDIS_URL").filter(|v| !v.is_empty()))
            .unwrap_or_else(|| DEFAULT_URL.to_string());
        let info = url.as_str().into_connection_info().map_err(|err| {
            LayerError::new(
                ErrorCode::InvalidUrl,
                format!(
                    "Invalid Redis URL \"{}\": {}",
                    redact_url(&url),
                    err.detail().unwrap_or("cannot be parsed")
                ),
            )
        })?;
        let mut settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3)
            .set_lib_name("redis-layer", env!("CARGO_PKG_VERSION"));
        if let Some(username) = &self.username {
            settings = settings.set_username(username);
        }
        let password = self
            .password
            .clone()
            .or_else(|| env("REDIS_PASSWORD").filter(|v| !v.is_empty()));
        if let Some(password) = password {
            settings = settings.set_password(password);
        }
        if let Some(db) = self.database {
            settings = settings.set_db(db);
        }
        let display = info.addr().to_string();
        Ok(Target {
            info: info.set_redis_settings(settings),
            display,
        })
    }
}

/// Hides the user-info part of a URL so that passwords never reach logs or errors.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end + 3 => {
            format!("{}://***{}", &url[..scheme_end], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn redacts_credentials() {
        assert_eq!(
            redact_url("redis://user:secret@host:6379/0"),
            "redis://***@host:6379/0"
        );
        assert_eq!(redact_url("redis://host:6379"), "redis://host:6379");
    }

    #[test]
    fn defaults_to_localhost() {
        let target = ConnectionConfig::default()
            .resolve(no_env)
            .expect("default url parses");
        assert_eq!(target.display, "127.0.0.1:6379");
    }

    #[test]
    fn env_is_used_only_when_options_leave_gaps() {
        let env = |name: &str| match name {
            "REDIS_URL" => Some("redis://10.0.0.9:7000".to_string()),
            "REDIS_PASSWORD" => Some("from-env".to_string()),
            _ => None,
        };
        let from_env = ConnectionConfig::default()
            .resolve(env)
            .expect("env url parses");
        assert_eq!(from_env.display, "10.0.0.9:7000");
        assert_eq!(from_env.info.redis_settings().password(), Some("from-env"));

        let explicit = ConnectionConfig {
            url: Some("redis://127.0.0.1:7001".into()),
            password: Some("explicit".into()),
            database: Some(3),
            ..ConnectionConfig::default()
        }
        .resolve(env)
        .expect("explicit url parses");
        assert_eq!(explicit.display, "127.0.0.1:7001");
        assert_eq!(explicit.info.redis_settings().password(), Some("explicit"));
        assert_eq!(explicit.info.redis_settings().db(), 3);
    }

    #[test]
    fn unparsable_url_names_the_problem_without_the_password() {
        let err = ConnectionConfig {
            url: Some("http://user:hunter2@nowhere".into()),
            ..ConnectionConfig::default()
        }
        .resolve(no_env)
        .err()
        .expect("http scheme is rejected");
        assert_eq!(err.code, ErrorCode::InvalidUrl);
        assert!(err.message.contains("Invalid Redis URL"), "{}", err.message);
        assert!(!err.message.contains("hunter2"), "{}", err.message);
    }

    #[test]
    fn debug_never_prints_the_password() {
        let config = ConnectionConfig {
            password: Some("hunter2".into()),
            url: Some("redis://u:hunter2@h:1".into()),
            ..ConnectionConfig::default()
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
    }
}
