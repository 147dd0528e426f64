use std::time::Duration;

use napi_derive::napi;
use redis_layer_core::{ConnectionConfig, TlsSettings, Topology};

/// Connection settings for one socket. Defaults apply where a field is missing.
#[napi(object)]
pub struct NativeOptions {
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub database: Option<i64>,
    /// 0: no limit.
    pub connect_timeout_ms: Option<u32>,
    /// 0: no limit.
    pub command_timeout_ms: Option<u32>,
    pub reconnect_delay_ms: Option<u32>,
    pub max_reconnect_delay_ms: Option<u32>,
    /// Redis Cluster seed nodes (URLs); set for cluster mode.
    pub cluster_nodes: Option<Vec<String>>,
    /// Sentinel master name; with `sentinel_nodes`, for Sentinel mode.
    pub sentinel_master_name: Option<String>,
    pub sentinel_nodes: Option<Vec<String>>,
    /// The master's credentials when they differ from `username` / `password`.
    pub sentinel_master_username: Option<String>,
    pub sentinel_master_password: Option<String>,
    /// PEM CA certificate(s) to trust for `rediss://` (default: the system store).
    pub tls_ca: Option<String>,
    /// PEM client certificate and key, for servers that require client auth.
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
}

impl From<NativeOptions> for ConnectionConfig {
    fn from(options: NativeOptions) -> Self {
        let defaults = ConnectionConfig::default();
        let millis = |value: Option<u32>, default: Duration| {
            value.map_or(default, |ms| Duration::from_millis(u64::from(ms)))
        };
        // As in node-redis, 0 means "no timeout".
        let limit = |value: Option<u32>, default: Option<Duration>| match value {
            Some(0) => None,
            Some(ms) => Some(Duration::from_millis(u64::from(ms))),
            None => default,
        };
        let topology = match (
            options.cluster_nodes,
            options.sentinel_master_name,
            options.sentinel_nodes,
        ) {
            (Some(nodes), _, _) => Topology::Cluster { nodes },
            (None, Some(master_name), Some(nodes)) => Topology::Sentinel {
                master_name,
                nodes,
                master_username: options.sentinel_master_username,
                master_password: options.sentinel_master_password,
            },
            _ => Topology::Standalone,
        };
        let tls = (options.tls_ca.is_some() || options.tls_cert.is_some()).then(|| TlsSettings {
            ca: options.tls_ca.map(String::into_bytes),
            cert: options.tls_cert.map(String::into_bytes),
            key: options.tls_key.map(String::into_bytes),
        });
        ConnectionConfig {
            topology,
            tls,
            url: options.url,
            username: options.username,
            password: options.password,
            database: options.database,
            connect_timeout: limit(options.connect_timeout_ms, defaults.connect_timeout),
            command_timeout: limit(options.command_timeout_ms, defaults.command_timeout),
            reconnect_step: millis(options.reconnect_delay_ms, defaults.reconnect_step),
            reconnect_max: millis(options.max_reconnect_delay_ms, defaults.reconnect_max),
        }
    }
}

/// What `options` connect to, without credentials (for the connect log line); throws
/// with the error's `code` (`ERR_INVALID_URL`) when they cannot be resolved.
#[napi(catch_unwind)]
pub fn describe_target(options: NativeOptions) -> napi::Result<String, String> {
    ConnectionConfig::from(options)
        .resolve()
        .map(|target| target.display)
        .map_err(|error| napi::Error::new(error.code.as_str().to_string(), error.message))
}
