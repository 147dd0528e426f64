use std::fmt;
use std::time::Duration;

use redis::{ConnectionInfo, IntoConnectionInfo, ProtocolVersion, RedisConnectionInfo};

use crate::error::{ErrorCode, LayerError};

pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

/// Where the data lives. Cluster and Sentinel use redis-rs' own clients: no
/// home-made sharding or failover.
#[derive(Clone, Debug, Default)]
pub enum Topology {
    #[default]
    Standalone,
    Cluster {
        nodes: Vec<String>,
    },
    Sentinel {
        master_name: String,
        nodes: Vec<String>,
    },
}

/// PEM material for TLS beyond the system trust store (`rediss://` URLs).
#[derive(Clone, Default)]
pub struct TlsSettings {
    pub ca: Option<Vec<u8>>,
    pub cert: Option<Vec<u8>>,
    pub key: Option<Vec<u8>>,
}

/// Connection settings as the application gave them; environment variables are
/// consulted only in [`ConnectionConfig::resolve`], i.e. at `connect()` time.
#[derive(Clone)]
pub struct ConnectionConfig {
    pub topology: Topology,
    pub tls: Option<TlsSettings>,
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
            topology: Topology::Standalone,
            tls: None,
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
            .field("topology", &self.topology)
            .field("tls", &self.tls.is_some())
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

/// What to open, resolved from a [`Topology`].
#[derive(Clone)]
pub enum Endpoint {
    Single(ConnectionInfo),
    Cluster(Vec<ConnectionInfo>),
    Sentinel {
        master_name: String,
        sentinels: Vec<ConnectionInfo>,
        master_settings: RedisConnectionInfo,
    },
}

/// A resolved target: what to connect to and a credential-free name for messages.
#[derive(Clone)]
pub struct Target {
    /// The standalone server, or the first cluster / sentinel node.
    pub info: ConnectionInfo,
    pub endpoint: Endpoint,
    pub tls: Option<TlsSettings>,
    pub display: String,
}

impl ConnectionConfig {
    /// Applies `REDIS_URL` / `REDIS_PASSWORD` / `REDIS_CLUSTER_NODES` where the options
    /// left gaps, then parses.
    pub fn resolve(&self, env: impl Fn(&str) -> Option<String>) -> Result<Target, LayerError> {
        let env_url = env("REDIS_URL").filter(|v| !v.is_empty());
        let topology = match (&self.topology, &self.url, &env_url) {
            (Topology::Standalone, None, None) => match env("REDIS_CLUSTER_NODES") {
                Some(list) if !list.trim().is_empty() => Topology::Cluster {
                    nodes: list
                        .split(',')
                        .map(|n| n.trim().to_string())
                        .filter(|n| !n.is_empty())
                        .collect(),
                },
                _ => Topology::Standalone,
            },
            (topology, _, _) => topology.clone(),
        };
        let password = self
            .password
            .clone()
            .or_else(|| env("REDIS_PASSWORD").filter(|v| !v.is_empty()));
        let settings = |info: &ConnectionInfo, db: bool| {
            let mut settings = info
                .redis_settings()
                .clone()
                .set_protocol(ProtocolVersion::RESP3)
                .set_lib_name("redis-layer", env!("CARGO_PKG_VERSION"));
            if let Some(username) = &self.username {
                settings = settings.set_username(username);
            }
            if let Some(password) = &password {
                settings = settings.set_password(password);
            }
            if let (true, Some(db)) = (db, self.database) {
                settings = settings.set_db(db);
            }
            settings
        };
        let (endpoint, info, display) = match topology {
            Topology::Standalone => {
                let url = self
                    .url
                    .clone()
                    .or(env_url)
                    .unwrap_or_else(|| DEFAULT_URL.to_string());
                let parsed = parse_url(&url)?;
                let info = parsed.clone().set_redis_settings(settings(&parsed, true));
                let display = info.addr().to_string();
                (Endpoint::Single(info.clone()), info, display)
            }
            Topology::Cluster { nodes } => {
                let infos = nodes
                    .iter()
                    .map(|url| {
                        let parsed = parse_url(url)?;
                        Ok(parsed.clone().set_redis_settings(settings(&parsed, false)))
                    })
                    .collect::<Result<Vec<_>, LayerError>>()?;
                let first = infos.first().cloned().ok_or_else(|| {
                    LayerError::new(
                        ErrorCode::InvalidUrl,
                        "cluster.nodes needs at least one node URL",
                    )
                })?;
                let display = format!(
                    "cluster [{}]",
                    infos
                        .iter()
                        .map(|i| i.addr().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                (Endpoint::Cluster(infos), first, display)
            }
            Topology::Sentinel { master_name, nodes } => {
                let sentinels = nodes
                    .iter()
                    .map(|url| parse_url(url))
                    .collect::<Result<Vec<_>, LayerError>>()?;
                let first = sentinels.first().cloned().ok_or_else(|| {
                    LayerError::new(
                        ErrorCode::InvalidUrl,
                        "sentinel.nodes needs at least one sentinel URL",
                    )
                })?;
                let master_settings = settings(&first, true);
                let display = format!("sentinel master \"{master_name}\"");
                (
                    Endpoint::Sentinel {
                        master_name,
                        sentinels,
                        master_settings,
                    },
                    first,
                    display,
                )
            }
        };
        Ok(Target {
            info,
            endpoint,
            tls: self.tls.clone(),
            display,
        })
    }
}

fn parse_url(url: &str) -> Result<ConnectionInfo, LayerError> {
    url.into_connection_info().map_err(|err| {
        LayerError::new(
            ErrorCode::InvalidUrl,
            format!(
                "Invalid Redis URL \"{}\": {}",
                redact_url(url),
                err.detail().unwrap_or("cannot be parsed")
            ),
        )
    })
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
