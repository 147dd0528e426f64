//! The napi-free core of redis-layer: configuration, error classification and a
//! reconnecting multiplexed connection. Everything here is testable with `cargo test`.

pub mod backoff;
pub mod config;
pub mod error;
pub mod glob;
pub mod managed;

pub use config::ConnectionConfig;
pub use error::{ErrorCode, LayerError};
pub use managed::{Event, ManagedConnection};
