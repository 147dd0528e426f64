//! A multiplexed connection that replaces itself when it breaks.
//!
//! redis-rs' `ConnectionManager` parks every command while it reconnects, which is how
//! node-redis #1789/#2632-style hangs happen. Here a command issued while the socket is
//! down fails at once with `ERR_NOT_CONNECTED`, and one background task reconnects with
//! the seed's linear backoff until it succeeds or the connection is closed.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use redis::aio::MultiplexedConnection;
use redis::cluster::ClusterClient;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{AsyncConnectionConfig, PushInfo, PushKind, RedisResult};
use redis::{ClientTlsConfig, TlsCertificates};
use tokio::runtime::Handle;
use tokio::task::AbortHandle;

use crate::any::AnyConnection;
use crate::backoff::reconnect_delay;
use crate::config::{ConnectionConfig, Endpoint, Target, TlsSettings};
use crate::error::{ErrorCode, LayerError};

/// Lifecycle events, for the application's logger.
#[derive(Clone, Debug)]
pub enum Event {
    Connected {
        target: String,
        reconnected: bool,
    },
    Disconnected {
        target: String,
        reason: String,
    },
    ReconnectFailed {
        target: String,
        attempt: u32,
        error: LayerError,
    },
}

impl Event {
    /// The log level and the line for this event; never carries a password.
    pub fn describe(self) -> (&'static str, String) {
        match self {
            Event::Connected {
                target,
                reconnected: false,
            } => ("info", format!("Redis connected to {target}")),
            Event::Connected {
                target,
                reconnected: true,
            } => ("info", format!("Redis reconnected to {target}")),
            Event::Disconnected { target, reason } => (
                "warn",
                format!("Redis disconnected from {target}: {reason}"),
            ),
            Event::ReconnectFailed {
                target,
                attempt,
                error,
            } => (
                "error",
                format!(
                    "Redis reconnect attempt {attempt} to {target} failed: {}",
                    error.message
                ),
            ),
        }
    }
}

pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;
/// Receives server pushes (pub/sub messages) other than disconnect notices.
pub type PushSink = Arc<dyn Fn(PushInfo) + Send + Sync>;
/// Runs after every successful reconnect, e.g. to restore subscriptions.
pub type ReconnectHook = Arc<dyn Fn(AnyConnection) + Send + Sync>;

#[derive(Default)]
struct State {
    connection: Option<(AnyConnection, u64)>,
    target: Option<Target>,
    runtime: Option<Handle>,
    reconnect_task: Option<AbortHandle>,
    sentinel_watch: Option<AbortHandle>,
    closed: bool,
}

struct Inner {
    config: ConnectionConfig,
    state: Mutex<State>,
    generation: AtomicU64,
    events: EventSink,
    push: Option<PushSink>,
    on_reconnect: Mutex<Option<ReconnectHook>>,
}

#[derive(Clone)]
pub struct ManagedConnection {
    inner: Arc<Inner>,
}

impl ManagedConnection {
    pub fn new(config: ConnectionConfig, events: EventSink, push: Option<PushSink>) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State::default()),
                generation: AtomicU64::new(0),
                events,
                push,
                on_reconnect: Mutex::new(None),
            }),
        }
    }

    pub fn config(&self) -> &ConnectionConfig {
        &self.inner.config
    }

    pub fn set_reconnect_hook(&self, hook: ReconnectHook) {
        *lock(&self.inner.on_reconnect) = Some(hook);
    }

    /// Opens the first connection. Environment variables are read here, not earlier.
    /// Idempotent while connected; after `close()` it opens a fresh connection.
    pub async fn connect(&self) -> Result<(), LayerError> {
        if self.is_connected() {
            return Ok(());
        }
        let target = self.inner.config.resolve(|name| std::env::var(name).ok())?;
        let (connection, generation) = open(&self.inner, &target).await?;
        let mut state = lock(&self.inner.state);
        if state.connection.is_some() {
            // A concurrent connect() won the race; keep its connection.
            return Ok(());
        }
        state.closed = false;
        state.connection = Some((connection, generation));
        state.target = Some(target.clone());
        state.runtime = Handle::try_current().ok();
        if let (
            Endpoint::Sentinel {
                master_name,
                sentinels,
                ..
            },
            Some(runtime),
        ) = (&target.endpoint, &state.runtime)
        {
            let watch = runtime.spawn(watch_sentinels(
                Arc::downgrade(&self.inner),
                master_name.clone(),
                sentinels.clone(),
            ));
            if let Some(old) = state.sentinel_watch.replace(watch.abort_handle()) {
                old.abort();
            }
        }
        drop(state);
        (self.inner.events)(Event::Connected {
            target: target.display,
            reconnected: false,
        });
        Ok(())
    }

    pub fn is_connected(&self) -> bool {
        lock(&self.inner.state).connection.is_some()
    }

    /// The live connection, or an immediate error when there is none.
    pub fn current(&self) -> Result<(AnyConnection, u64), LayerError> {
        let state = lock(&self.inner.state);
        match (&state.connection, state.closed, &state.target) {
            (Some((connection, generation)), _, _) => Ok((connection.clone(), *generation)),
            (None, true, _) => Err(LayerError::new(
                ErrorCode::Closed,
                "Redis connection is closed",
            )),
            (None, false, Some(target)) => Err(LayerError::new(
                ErrorCode::NotConnected,
                format!("Redis at {} is unreachable; reconnecting", target.display),
            )),
            (None, false, None) => Err(LayerError::new(
                ErrorCode::NotConnected,
                "Redis not connected",
            )),
        }
    }

    /// Runs one operation on the live connection; a broken connection is replaced.
    pub async fn run<T, F, Fut>(&self, operation: F) -> Result<T, LayerError>
    where
        F: FnOnce(AnyConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let (connection, generation) = self.current()?;
        let self_healing = connection.is_cluster();
        operation(connection).await.map_err(|err| {
            let error = LayerError::from_command(&err);
            if error.breaks_connection() && !self_healing {
                connection_lost(&self.inner, generation, &error.message);
            }
            error
        })
    }

    /// Replaces the live standalone connection when `error` says it is no longer
    /// usable (e.g. READONLY after a failover found inside a pipeline reply).
    pub fn notice(&self, error: &LayerError) {
        if !error.breaks_connection() {
            return;
        }
        let live = {
            let state = lock(&self.inner.state);
            state
                .connection
                .as_ref()
                .filter(|(connection, _)| !connection.is_cluster())
                .map(|(_, generation)| *generation)
        };
        if let Some(generation) = live {
            connection_lost(&self.inner, generation, &error.message);
        }
    }

    /// Ends the connection and any reconnect in progress; in-flight commands fail.
    pub fn close(&self) {
        let mut state = lock(&self.inner.state);
        state.closed = true;
        state.connection = None;
        for task in [state.reconnect_task.take(), state.sentinel_watch.take()]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere must not turn every later call into a panic too.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn open(inner: &Arc<Inner>, target: &Target) -> Result<(AnyConnection, u64), LayerError> {
    let generation = inner.generation.fetch_add(1, Ordering::Relaxed) + 1;
    let attempt = async {
        match &target.endpoint {
            Endpoint::Single(info) => {
                let client = single_client(info.clone(), target.tls.as_ref())?;
                open_single(inner, client, generation).await
            }
            Endpoint::Cluster(nodes) => {
                open_cluster(inner, nodes.clone(), target.tls.as_ref()).await
            }
            Endpoint::Sentinel {
                master_name,
                sentinels,
                master_settings,
            } => {
                let node = SentinelNodeConnectionInfo::default()
                    .set_redis_connection_info(master_settings.clone());
                let mut sentinel = SentinelClient::build(
                    sentinels.clone(),
                    master_name.clone(),
                    Some(node),
                    SentinelServerType::Master,
                )?;
                let client = sentinel.async_get_client().await?;
                open_single(inner, client, generation).await
            }
        }
    };
    match tokio::time::timeout(inner.config.connect_timeout, attempt).await {
        Ok(Ok(connection)) => Ok((connection, generation)),
        Ok(Err(err)) => Err(LayerError::from_connect(&err, &target.display)),
        Err(_) => Err(LayerError::new(
            ErrorCode::ConnectTimeout,
            format!(
                "Timed out after {} ms connecting to Redis at {}",
                inner.config.connect_timeout.as_millis(),
                target.display
            ),
        )),
    }
}

fn certificates(tls: &TlsSettings) -> TlsCertificates {
    TlsCertificates {
        client_tls: match (&tls.cert, &tls.key) {
            (Some(cert), Some(key)) => Some(ClientTlsConfig {
                client_cert: cert.clone(),
                client_key: key.clone(),
            }),
            _ => None,
        },
        root_cert: tls.ca.clone(),
    }
}

fn single_client(
    info: redis::ConnectionInfo,
    tls: Option<&TlsSettings>,
) -> RedisResult<redis::Client> {
    match tls {
        Some(tls) => redis::Client::build_with_tls(info, certificates(tls)),
        None => redis::Client::open(info),
    }
}

async fn open_single(
    inner: &Arc<Inner>,
    client: redis::Client,
    generation: u64,
) -> RedisResult<AnyConnection> {
    let weak = Arc::downgrade(inner);
    let push_sink = inner.push.clone();
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(inner.config.connect_timeout))
        .set_response_timeout(Some(inner.config.command_timeout))
        .set_push_sender(move |push: PushInfo| -> Result<(), LayerError> {
            if push.kind == PushKind::Disconnection {
                if let Some(inner) = weak.upgrade() {
                    connection_lost(&inner, generation, "the server closed the connection");
                }
            } else if let Some(sink) = &push_sink {
                sink(push);
            }
            Ok(())
        });
    let connection: MultiplexedConnection = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    Ok(AnyConnection::Single(connection))
}

/// redis-rs' cluster client follows MOVED/ASK, refreshes slots and reconnects to
/// nodes by itself; this connection is never replaced by the reconnect loop.
async fn open_cluster(
    inner: &Arc<Inner>,
    nodes: Vec<redis::ConnectionInfo>,
    tls: Option<&TlsSettings>,
) -> RedisResult<AnyConnection> {
    let settings = nodes.first().map(|n| n.redis_settings().clone());
    let mut builder = ClusterClient::builder(nodes)
        .connection_timeout(inner.config.connect_timeout)
        .response_timeout(inner.config.command_timeout)
        .use_protocol(redis::ProtocolVersion::RESP3)
        .retries(3)
        .min_retry_wait(inner.config.reconnect_step.as_millis() as u64)
        .max_retry_wait(inner.config.reconnect_max.as_millis() as u64);
    if let Some(settings) = settings {
        if let Some(username) = settings.username() {
            builder = builder.username(username);
        }
        if let Some(password) = settings.password() {
            builder = builder.password(password);
        }
    }
    if let Some(tls) = tls {
        builder = builder.certs(certificates(tls));
    }
    if let Some(sink) = inner.push.clone() {
        builder = builder.push_sender(move |push: PushInfo| -> Result<(), LayerError> {
            if push.kind != PushKind::Disconnection {
                sink(push);
            }
            Ok(())
        });
    }
    let client = builder.build()?;
    Ok(AnyConnection::Cluster(client.get_async_connection().await?))
}

/// Listens for `+switch-master` on the sentinels, so a failover moves writes to the
/// new master within milliseconds instead of after the old master is demoted
/// (writes it accepted meanwhile would be lost then).
async fn watch_sentinels(
    weak: Weak<Inner>,
    master_name: String,
    sentinels: Vec<redis::ConnectionInfo>,
) {
    use futures_util::StreamExt;
    let mut attempt: u32 = 0;
    loop {
        for sentinel in &sentinels {
            let Ok(client) = redis::Client::open(sentinel.clone()) else {
                continue;
            };
            let Ok(Ok(mut pubsub)) =
                tokio::time::timeout(std::time::Duration::from_secs(2), client.get_async_pubsub())
                    .await
            else {
                continue;
            };
            if pubsub.subscribe("+switch-master").await.is_err() {
                continue;
            }
            attempt = 0;
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                let payload: String = message.get_payload().unwrap_or_default();
                if payload.split(' ').next() != Some(master_name.as_str()) {
                    continue;
                }
                let Some(inner) = weak.upgrade() else { return };
                let live = lock(&inner.state)
                    .connection
                    .as_ref()
                    .map(|(_, generation)| *generation);
                if let Some(generation) = live {
                    connection_lost(&inner, generation, "Sentinel switched the master");
                }
            }
        }
        attempt = attempt.saturating_add(1);
        if !back_off(&weak, attempt).await {
            return;
        }
    }
}

/// Sleeps the configured backoff for `attempt`; false once the connection is gone.
async fn back_off(weak: &Weak<Inner>, attempt: u32) -> bool {
    let Some(inner) = weak.upgrade() else {
        return false;
    };
    let delay = reconnect_delay(
        attempt,
        inner.config.reconnect_step,
        inner.config.reconnect_max,
    );
    drop(inner);
    tokio::time::sleep(delay).await;
    true
}

/// Drops the connection of `generation` (if it is still the live one) and starts
/// the single reconnect task.
fn connection_lost(inner: &Arc<Inner>, generation: u64, reason: &str) {
    let mut state = lock(&inner.state);
    let is_live = matches!(&state.connection, Some((_, live)) if *live == generation);
    if !is_live || state.closed {
        return;
    }
    state.connection = None;
    let (Some(target), Some(runtime)) = (state.target.clone(), state.runtime.clone()) else {
        return;
    };
    if state.reconnect_task.is_some() {
        return;
    }
    let task = runtime.spawn(reconnect_loop(Arc::downgrade(inner), target.clone()));
    state.reconnect_task = Some(task.abort_handle());
    drop(state);
    (inner.events)(Event::Disconnected {
        target: target.display,
        reason: reason.to_string(),
    });
}

async fn reconnect_loop(weak: Weak<Inner>, target: Target) {
    let mut attempt: u32 = 0;
    loop {
        attempt = attempt.saturating_add(1);
        if !back_off(&weak, attempt).await {
            return;
        }
        let Some(inner) = weak.upgrade() else { return };
        match open(&inner, &target).await {
            Ok((connection, generation)) => {
                let mut state = lock(&inner.state);
                state.reconnect_task = None;
                if state.closed {
                    return;
                }
                state.connection = Some((connection.clone(), generation));
                drop(state);
                (inner.events)(Event::Connected {
                    target: target.display.clone(),
                    reconnected: true,
                });
                let hook = lock(&inner.on_reconnect).clone();
                if let Some(hook) = hook {
                    hook(connection);
                }
                return;
            }
            Err(error) => (inner.events)(Event::ReconnectFailed {
                target: target.display.clone(),
                attempt,
                error,
            }),
        }
    }
}
