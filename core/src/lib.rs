//! The napi-free core of redis-layer: configuration, error classification and a
//! reconnecting multiplexed connection. Everything here is testable with `cargo test`.

#![warn(missing_docs)]

pub mod any;
pub mod backoff;
pub mod cluster;
pub mod config;
pub mod error;
pub mod glob;
pub mod managed;
pub mod scan;

pub use any::AnyConnection;
pub use config::{ConnectionConfig, TlsSettings, Topology};
pub use error::{ErrorCode, LayerError};
pub use managed::{Event, ManagedConnection};
