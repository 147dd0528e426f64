//! Connection settings as the application gives them, resolved into what to open.

use std::fmt;
use std::time::Duration;

use redis::{
    ConnectionAddr, ConnectionInfo, IntoConnectionInfo, ProtocolVersion, RedisConnectionInfo,
};

use crate::error::{ErrorCode, LayerError};

/// The server used when no URL is given.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379";

/// Where the data lives. Cluster and Sentinel use redis-rs' own clients: no
/// home-made sharding or failover.
#[derive(Clone, Default)]
pub enum Topology {
    /// One server, named by the connection's URL.
    #[default]
    Standalone,
    /// A Redis Cluster reached through any of its nodes.
    Cluster {
        /// Seed node URLs; redis-rs discovers the rest of the cluster from them.
        nodes: Vec<String>,
    },
    /// Sentinel credentials come from the sentinel URLs; the master's from
    /// `master_username` / `master_password`, else the connection's own.
    Sentinel {
        /// The name the sentinels monitor the master under.
        master_name: String,
        /// Sentinel URLs, all with one scheme and one set of credentials.
        nodes: Vec<String>,
        /// The master's ACL user, when it differs from the connection's.
        master_username: Option<String>,
        /// The master's password, when it differs from the connection's.
        master_password: Option<String>,
    },
}

impl fmt::Debug for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |nodes: &[String]| nodes.iter().map(|n| redact_url(n)).collect::<Vec<_>>();
        match self {
            Topology::Standalone => f.write_str("Standalone"),
            Topology::Cluster { nodes } => f
                .debug_struct("Cluster")
                .field("nodes", &redacted(nodes))
                .finish(),
            Topology::Sentinel {
                master_name,
                nodes,
                master_username,
                master_password,
            } => f
                .debug_struct("Sentinel")
                .field("master_name", master_name)
                .field("nodes", &redacted(nodes))
                .field("master_username", master_username)
                .field("master_password", &set_or_not(master_password))
                .finish(),
        }
    }
}

fn set_or_not(secret: &Option<String>) -> &'static str {
    if secret.is_some() {
        "set"
    } else {
        "not set"
    }
}

/// PEM material for TLS beyond the system trust store (`rediss://` URLs).
#[derive(Clone, Default)]
pub struct TlsSettings {
    /// A CA certificate to trust in addition to the system's.
    pub ca: Option<Vec<u8>>,
    /// A client certificate, for servers that require one (used together with `key`).
    pub cert: Option<Vec<u8>>,
    /// The client certificate's private key.
    pub key: Option<Vec<u8>>,
}

/// Connection settings as the application gave them. No environment variable is read
/// here: the JavaScript layer fills the gaps from `process.env` at `connect()` time.
#[derive(Clone)]
pub struct ConnectionConfig {
    /// Standalone, cluster or Sentinel.
    pub topology: Topology,
    /// Certificates for `rediss://` connections; `None` trusts the system store only.
    pub tls: Option<TlsSettings>,
    /// The standalone server's URL; [`DEFAULT_URL`] when `None`.
    pub url: Option<String>,
    /// ACL user, overriding the one in the URLs.
    pub username: Option<String>,
    /// Password, overriding the one in the URLs.
    pub password: Option<String>,
    /// Database index, overriding the one in the URL (not used on a cluster).
    pub database: Option<i64>,
    /// How long opening a connection may take; `None`: as long as it takes.
    pub connect_timeout: Option<Duration>,
    /// How long a reply may take; `None`: as long as it takes.
    pub command_timeout: Option<Duration>,
    /// How much longer each reconnect attempt waits than the one before.
    pub reconnect_step: Duration,
    /// The longest wait between reconnect attempts.
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
            connect_timeout: Some(Duration::from_millis(5_000)),
            command_timeout: Some(Duration::from_millis(5_000)),
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
            .field("password", &set_or_not(&self.password))
            .field("database", &self.database)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .finish()
    }
}

/// What to open, resolved from a [`Topology`].
#[derive(Clone)]
pub enum Endpoint {
    /// One server.
    Single(ConnectionInfo),
    /// The cluster's seed nodes.
    Cluster(Vec<ConnectionInfo>),
    /// Every sentinel shares one scheme and one set of credentials (redis-rs' sentinel
    /// client applies one set to all); the master uses TLS exactly when they do.
    Sentinel {
        /// The name the sentinels monitor the master under.
        master_name: String,
        /// Where the sentinels listen, with their own credentials.
        sentinels: Vec<ConnectionInfo>,
        /// Credentials, database and protocol for the master.
        master_settings: RedisConnectionInfo,
    },
}

/// A resolved target: what to connect to and a credential-free name for messages.
#[derive(Clone)]
pub struct Target {
    /// What to connect to.
    pub endpoint: Endpoint,
    /// Certificates for TLS connections.
    pub tls: Option<TlsSettings>,
    /// The target as messages and logs name it, without credentials.
    pub display: String,
}

impl ConnectionConfig {
    /// Whether this connects to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.topology, Topology::Cluster { .. })
    }

    /// Parses the URLs into what to connect to; the default URL when none is given.
    pub fn resolve(&self) -> Result<Target, LayerError> {
        let (endpoint, display) = match &self.topology {
            Topology::Standalone => {
                let parsed = parse_url(self.url.as_deref().unwrap_or(DEFAULT_URL))?;
                let settings = self.settings(
                    parsed.redis_settings().clone(),
                    self.username.as_deref(),
                    self.password.as_deref(),
                    self.database,
                );
                let info = parsed.set_redis_settings(settings);
                let display = info.addr().to_string();
                (Endpoint::Single(info), display)
            }
            Topology::Cluster { nodes } => {
                let infos = nodes
                    .iter()
                    .map(|url| {
                        let parsed = parse_url(url)?;
                        let settings = self.settings(
                            parsed.redis_settings().clone(),
                            self.username.as_deref(),
                            self.password.as_deref(),
                            None,
                        );
                        Ok(parsed.set_redis_settings(settings))
                    })
                    .collect::<Result<Vec<_>, LayerError>>()?;
                if infos.is_empty() {
                    return Err(LayerError::new(
                        ErrorCode::InvalidUrl,
                        "cluster.nodes needs at least one node URL",
                    ));
                }
                let display = format!(
                    "cluster [{}]",
                    infos
                        .iter()
                        .map(|i| i.addr().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                (Endpoint::Cluster(infos), display)
            }
            Topology::Sentinel {
                master_name,
                nodes,
                master_username,
                master_password,
            } => {
                let sentinels = nodes
                    .iter()
                    .map(|url| parse_url(url))
                    .collect::<Result<Vec<_>, LayerError>>()?;
                check_sentinels_agree(&sentinels)?;
                let master_settings = self.settings(
                    RedisConnectionInfo::default(),
                    master_username.as_deref().or(self.username.as_deref()),
                    master_password.as_deref().or(self.password.as_deref()),
                    self.database,
                );
                let display = format!(
                    "sentinel master \"{master_name}\" via [{}]",
                    sentinels
                        .iter()
                        .map(|i| i.addr().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                (
                    Endpoint::Sentinel {
                        master_name: master_name.clone(),
                        sentinels,
                        master_settings,
                    },
                    display,
                )
            }
        };
        Ok(Target {
            endpoint,
            tls: self.tls.clone(),
            display,
        })
    }

    /// `base` speaking RESP3 under our library name, with the given credentials and
    /// database where they are set.
    fn settings(
        &self,
        base: RedisConnectionInfo,
        username: Option<&str>,
        password: Option<&str>,
        database: Option<i64>,
    ) -> RedisConnectionInfo {
        let mut settings = base
            .set_protocol(ProtocolVersion::RESP3)
            .set_lib_name("redis-layer", env!("CARGO_PKG_VERSION"));
        if let Some(username) = username {
            settings = settings.set_username(username);
        }
        if let Some(password) = password {
            settings = settings.set_password(password);
        }
        if let Some(db) = database {
            settings = settings.set_db(db);
        }
        settings
    }
}

/// redis-rs' sentinel client takes one scheme and one set of credentials for all
/// sentinels: refuse lists that would silently lose some.
fn check_sentinels_agree(sentinels: &[ConnectionInfo]) -> Result<(), LayerError> {
    let Some(first) = sentinels.first() else {
        return Err(LayerError::new(
            ErrorCode::InvalidUrl,
            "sentinel.nodes needs at least one sentinel URL",
        ));
    };
    let tls = |info: &ConnectionInfo| matches!(info.addr(), ConnectionAddr::TcpTls { .. });
    let credentials = |info: &ConnectionInfo| {
        let settings = info.redis_settings();
        (
            settings.username().map(str::to_owned),
            settings.password().map(str::to_owned),
        )
    };
    if sentinels.iter().any(|info| tls(info) != tls(first)) {
        return Err(LayerError::new(
            ErrorCode::InvalidUrl,
            "sentinel.nodes must all use redis:// or all use rediss://",
        ));
    }
    if sentinels
        .iter()
        .any(|info| credentials(info) != credentials(first))
    {
        return Err(LayerError::new(
            ErrorCode::InvalidUrl,
            "sentinel.nodes must all carry the same username and password",
        ));
    }
    Ok(())
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

/// URL schemes kept in a redacted URL; any other text before the credentials may itself
/// be a secret (`user:password@host` has no scheme).
const SCHEMES: [&str; 7] = [
    "redis",
    "rediss",
    "valkey",
    "valkeys",
    "redis+unix",
    "valkey+unix",
    "unix",
];

/// Query parameters whose values are not secrets (`pass=` in a unix URL is).
const PLAIN_QUERY_KEYS: [&str; 2] = ["db", "protocol"];

/// A URL as it may appear in messages and logs, however malformed: everything before the
/// last `@` (but a known scheme and its slashes) becomes `***`, and so does the value of
/// every query parameter but `db` and `protocol`.
pub fn redact_url(url: &str) -> String {
    let url = url.trim();
    let mut redacted = String::with_capacity(url.len());
    let rest = match url.rfind('@') {
        Some(at) => {
            redacted.push_str(scheme_prefix(&url[..at]));
            redacted.push_str("***");
            &url[at..]
        }
        None => url,
    };
    match rest.split_once('?') {
        Some((before, query)) => {
            redacted.push_str(before);
            redacted.push('?');
            redacted.push_str(&redact_query(query));
        }
        None => redacted.push_str(rest),
    }
    redacted
}

/// `redis://` out of `redis://user:pw`, `redis:/` out of `redis:/user:pw`; empty for
/// anything that does not start with a known scheme.
fn scheme_prefix(text: &str) -> &str {
    let Some(colon) = text.find(':') else {
        return "";
    };
    if !SCHEMES
        .iter()
        .any(|scheme| scheme.eq_ignore_ascii_case(&text[..colon]))
    {
        return "";
    }
    let after = &text[colon + 1..];
    let slashes = after.len() - after.trim_start_matches('/').len();
    &text[..colon + 1 + slashes]
}

fn redact_query(query: &str) -> String {
    let (query, fragment) = match query.split_once('#') {
        Some((query, fragment)) => (query, Some(fragment)),
        None => (query, None),
    };
    let mut redacted = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if PLAIN_QUERY_KEYS.contains(&key) => pair.to_string(),
            Some((key, _)) => format!("{key}=***"),
            None if pair.is_empty() => String::new(),
            None => "***".to_string(),
        })
        .collect::<Vec<_>>()
        .join("&");
    if let Some(fragment) = fragment {
        redacted.push('#');
        redacted.push_str(fragment);
    }
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;

    const PW: &str = "Pw-7f3c9a1e";

    /// Malformed and odd URLs that each carry `PW` where a password could sit.
    fn urls_with_password() -> Vec<String> {
        [
            "redis://user:{PW}@host:6379/0",
            "redis:/user:{PW}@host:6379",
            "redis:user:{PW}@host:6379",
            "redis:///user:{PW}@host:6379",
            "user:{PW}@host:6379",
            ":{PW}@host:6379",
            "{PW}@host:6379",
            "//user:{PW}@host:6379",
            "redis//user:{PW}@host:6379",
            "rediss:/user:{PW}@host:6379",
            "rediss://user:{PW}@host:6380",
            "REDIS:/user:{PW}@host:6379",
            "http://user:{PW}@host",
            "redis://user:{PW}@extra@host:6379",
            "redis:/user:a@{PW}@host:6379",
            "redis://user:{PW}:more/x@host:6379",
            "redis://user:{PW}%40x@host:6379",
            "redis://user:{PW}?x=1@host:6379",
            "redis://user:{PW}#frag@host:6379",
            "  redis:/user:{PW}@host:6379\n",
            "\tuser:{PW}@host",
            "redis:/üser:{PW}ß@höst:6379",
            "redis://ユーザー:{PW}パス@host:1",
            "redis+unix:///tmp/redis.sock?pass={PW}",
            "unix:relative.sock?db=1&pass={PW}",
            "redis+unix:relative?pass={PW}&db=0#x",
            "redis://host:6379/0?password={PW}",
            "redis://host:6379/0?{PW}",
        ]
        .iter()
        .map(|form| form.replace("{PW}", PW))
        .collect()
    }

    #[test]
    fn redaction_keeps_scheme_host_and_plain_settings() {
        assert_eq!(
            redact_url("redis://user:secret@host:6379/0"),
            "redis://***@host:6379/0"
        );
        assert_eq!(redact_url("redis://host:6379"), "redis://host:6379");
        assert_eq!(redact_url("redis:/u:p@h:1"), "redis:/***@h:1");
        assert_eq!(redact_url("user:p@h:1"), "***@h:1");
        assert_eq!(redact_url("redis://u:p@x@h:1"), "redis://***@h:1");
        assert_eq!(
            redact_url("rediss://h:1/?protocol=resp3#insecure"),
            "rediss://h:1/?protocol=resp3#insecure"
        );
        assert_eq!(
            redact_url("unix:/tmp/r.sock?db=2&pass=secret"),
            "unix:/tmp/r.sock?db=2&pass=***"
        );
    }

    #[test]
    fn no_password_survives_redaction_however_malformed() {
        for url in urls_with_password() {
            let redacted = redact_url(&url);
            assert!(!redacted.contains(PW), "{url:?} -> {redacted:?}");
        }
    }

    #[test]
    fn no_password_in_resolve_errors_for_any_topology() {
        for url in urls_with_password() {
            let configs = [
                ConnectionConfig {
                    url: Some(url.clone()),
                    ..ConnectionConfig::default()
                },
                ConnectionConfig {
                    topology: Topology::Cluster {
                        nodes: vec!["redis://127.0.0.1:7000".into(), url.clone()],
                    },
                    ..ConnectionConfig::default()
                },
                ConnectionConfig {
                    topology: Topology::Sentinel {
                        master_name: "m".into(),
                        nodes: vec![url.clone(), "redis://127.0.0.1:26379".into()],
                        master_username: None,
                        master_password: None,
                    },
                    ..ConnectionConfig::default()
                },
            ];
            for config in configs {
                let printed = format!("{config:?}");
                assert!(!printed.contains(PW), "{printed}");
                match config.resolve() {
                    Ok(target) => assert!(!target.display.contains(PW), "{}", target.display),
                    Err(err) => assert!(!err.message.contains(PW), "{}", err.message),
                }
            }
        }
    }

    #[test]
    fn defaults_to_localhost() {
        let target = ConnectionConfig::default()
            .resolve()
            .expect("default url parses");
        assert_eq!(target.display, "127.0.0.1:6379");
    }

    #[test]
    fn options_override_the_url() {
        let target = ConnectionConfig {
            url: Some("redis://u:from-url@127.0.0.1:7001/1".into()),
            password: Some("explicit".into()),
            database: Some(3),
            ..ConnectionConfig::default()
        }
        .resolve()
        .expect("explicit url parses");
        assert_eq!(target.display, "127.0.0.1:7001");
        let Endpoint::Single(info) = target.endpoint else {
            panic!("standalone resolves to one server");
        };
        assert_eq!(info.redis_settings().username(), Some("u"));
        assert_eq!(info.redis_settings().password(), Some("explicit"));
        assert_eq!(info.redis_settings().db(), 3);
    }

    fn sentinel(nodes: &[&str], master_password: Option<&str>) -> ConnectionConfig {
        ConnectionConfig {
            topology: Topology::Sentinel {
                master_name: "mymaster".into(),
                nodes: nodes.iter().map(|n| n.to_string()).collect(),
                master_username: None,
                master_password: master_password.map(str::to_owned),
            },
            username: Some("app".into()),
            password: Some("connection-pw".into()),
            database: Some(2),
            ..ConnectionConfig::default()
        }
    }

    fn master_settings(config: &ConnectionConfig) -> RedisConnectionInfo {
        match config.resolve().expect("sentinel config resolves").endpoint {
            Endpoint::Sentinel {
                master_settings, ..
            } => master_settings,
            _ => panic!("sentinel topology resolves to a sentinel endpoint"),
        }
    }

    #[test]
    fn sentinel_credentials_stay_with_the_sentinels() {
        let nodes = [
            "rediss://:sentinel-pw@10.0.0.1:26379",
            "rediss://:sentinel-pw@10.0.0.2:26379",
        ];
        let own = master_settings(&sentinel(&nodes, Some("master-pw")));
        assert_eq!(own.password(), Some("master-pw"));
        assert_eq!(own.username(), Some("app"));
        assert_eq!(own.db(), 2);
        let fallback = master_settings(&sentinel(&nodes, None));
        assert_eq!(fallback.password(), Some("connection-pw"));
        let bare = ConnectionConfig {
            password: None,
            username: None,
            ..sentinel(&nodes, None)
        };
        assert_eq!(master_settings(&bare).password(), None);
    }

    #[test]
    fn sentinels_must_share_scheme_and_credentials() {
        let mixed = sentinel(&["redis://10.0.0.1:26379", "rediss://10.0.0.2:26379"], None);
        let err = mixed.resolve().err().expect("mixed schemes are refused");
        assert_eq!(err.code, ErrorCode::InvalidUrl);
        assert!(err.message.contains("rediss://"), "{}", err.message);
        let differing = sentinel(
            &["redis://:a@10.0.0.1:26379", "redis://:b@10.0.0.2:26379"],
            None,
        );
        let err = differing
            .resolve()
            .err()
            .expect("differing credentials are refused");
        assert!(
            err.message.contains("same username and password"),
            "{}",
            err.message
        );
        assert!(!err.message.contains(":a@") && !err.message.contains(":b@"));
        let empty = sentinel(&[], None);
        assert!(empty.resolve().is_err());
    }

    #[test]
    fn unparsable_url_names_the_problem_without_the_password() {
        let err = ConnectionConfig {
            url: Some("http://user:hunter2@nowhere".into()),
            ..ConnectionConfig::default()
        }
        .resolve()
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
            ..sentinel(&["redis://:hunter2@h:2"], Some("hunter2"))
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
    }
}
