use std::time::Duration;

use napi_derive::napi;
use redis_layer_core::ConnectionConfig;

/// Connection settings for one socket. Defaults apply where a field is missing.
#[napi(object)]
pub struct NativeOptions {
    pub url: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub database: Option<i64>,
    pub connect_timeout_ms: Option<u32>,
    pub command_timeout_ms: Option<u32>,
    pub reconnect_delay_ms: Option<u32>,
    pub max_reconnect_delay_ms: Option<u32>,
}

impl From<NativeOptions> for ConnectionConfig {
    fn from(options: NativeOptions) -> Self {
        let defaults = ConnectionConfig::default();
        let millis = |value: Option<u32>, default: Duration| {
            value.map_or(default, |ms| Duration::from_millis(u64::from(ms)))
        };
        ConnectionConfig {
            url: options.url,
            username: options.username,
            password: options.password,
            database: options.database,
            connect_timeout: millis(options.connect_timeout_ms, defaults.connect_timeout),
            command_timeout: millis(options.command_timeout_ms, defaults.command_timeout),
            reconnect_step: millis(options.reconnect_delay_ms, defaults.reconnect_step),
            reconnect_max: millis(options.max_reconnect_delay_ms, defaults.reconnect_max),
        }
    }
}
