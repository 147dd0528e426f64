//! A multiplexed connection that replaces itself when it breaks.
//!
//! redis-rs' `ConnectionManager` parks every command while it reconnects, which is how
//! node-redis #1789/#2632-style hangs happen. Here a command issued while the socket is
//! down fails at once with `ERR_NOT_CONNECTED`, and one background task reconnects with
//! the seed's linear backoff until it succeeds or the connection is closed.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::cluster::ClusterClient;
use redis::sentinel::{SentinelClientBuilder, SentinelServerType};
use redis::{AsyncConnectionConfig, PushInfo, PushKind, RedisError, RedisResult};
use redis::{ClientTlsConfig, ConnectionAddr, ConnectionInfo, RedisConnectionInfo};
use redis::{TlsCertificates, TlsMode};
use tokio::runtime::Handle;
use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::any::AnyConnection;
use crate::backoff::reconnect_delay;
use crate::config::{ConnectionConfig, Endpoint, Target, TlsSettings};
use crate::error::{is_auth_failure, ErrorCode, LayerError};

/// Lifecycle events, for the application's logger.
#[derive(Clone, Debug)]
pub enum Event {
    /// A connection is up.
    Connected {
        /// The server or topology, without credentials.
        target: String,
        /// False for the first connection after `connect()`, true after a reconnect.
        reconnected: bool,
    },
    /// The connection broke; commands fail with `ERR_NOT_CONNECTED` until it is back.
    Disconnected {
        /// The server or topology, without credentials.
        target: String,
        /// Why the connection was given up.
        reason: String,
    },
    /// One reconnect attempt failed; the next follows after the backoff delay.
    ReconnectFailed {
        /// The server or topology, without credentials.
        target: String,
        /// Counts from 1 since the connection broke.
        attempt: u32,
        /// Why the attempt failed.
        error: LayerError,
    },
}

impl Event {
    /// What happened, as telemetry names it: `connected`, `reconnected`, `disconnected`
    /// or `reconnect-failed`.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Connected {
                reconnected: false, ..
            } => "connected",
            Event::Connected {
                reconnected: true, ..
            } => "reconnected",
            Event::Disconnected { .. } => "disconnected",
            Event::ReconnectFailed { .. } => "reconnect-failed",
        }
    }

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

/// Receives the lifecycle events; called from the connection's own tasks, so it must
/// return quickly.
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;
/// Receives server pushes (pub/sub messages, invalidations) and the library's
/// `Disconnection` notice when a socket closes.
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
    /// Counts `close()` calls (bumped under the `state` lock), so a `connect()` still
    /// opening can tell that it lost to a close and give its socket up.
    closes: watch::Sender<u64>,
    generation: AtomicU64,
    events: EventSink,
    push: Option<PushSink>,
    on_reconnect: Mutex<Option<ReconnectHook>>,
}

/// A connection that fails commands at once while it is down and reconnects in the
/// background. Clones share one connection.
#[derive(Clone)]
pub struct ManagedConnection {
    inner: Arc<Inner>,
}

/// A handle on a [`ManagedConnection`] that does not keep it alive: for what the
/// connection itself holds (its push sink), which would otherwise never let it go.
#[derive(Clone)]
pub struct WeakConnection(Weak<Inner>);

impl WeakConnection {
    /// The connection, unless every strong handle is gone.
    pub fn upgrade(&self) -> Option<ManagedConnection> {
        self.0.upgrade().map(|inner| ManagedConnection { inner })
    }
}

impl ManagedConnection {
    /// A handle that does not keep this connection alive.
    pub fn downgrade(&self) -> WeakConnection {
        WeakConnection(Arc::downgrade(&self.inner))
    }

    /// A connection that opens nothing until [`connect`](Self::connect); `events` receives
    /// its lifecycle and `push` the server's pushes (pub/sub messages).
    pub fn new(config: ConnectionConfig, events: EventSink, push: Option<PushSink>) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State::default()),
                closes: watch::Sender::new(0),
                generation: AtomicU64::new(0),
                events,
                push,
                on_reconnect: Mutex::new(None),
            }),
        }
    }

    /// The settings this connection was made with.
    pub fn config(&self) -> &ConnectionConfig {
        &self.inner.config
    }

    /// Sets the function run after every successful reconnect (not after `connect()`).
    pub fn set_reconnect_hook(&self, hook: ReconnectHook) {
        *lock(&self.inner.on_reconnect) = Some(hook);
    }

    /// Opens the first connection. Idempotent while connected; after `close()` it opens
    /// a fresh connection. A `close()` while this is still opening wins: the attempt is
    /// dropped (with its socket) and this fails with `ERR_CLOSED`.
    pub async fn connect(&self) -> Result<(), LayerError> {
        if self.is_connected() {
            return Ok(());
        }
        let mut closes = self.inner.closes.subscribe();
        let epoch = *closes.borrow_and_update();
        let target = self.inner.config.resolve()?;
        let (connection, generation) = tokio::select! {
            opened = open(&self.inner, &target) => opened?,
            _ = closes.changed() => return Err(closed_while_connecting()),
        };
        let mut state = lock(&self.inner.state);
        if *self.inner.closes.borrow() != epoch {
            return Err(closed_while_connecting());
        }
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
                target.tls.clone(),
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

    /// Whether a connection is up right now.
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

    /// Replaces the live connection with a new one, on a cluster too, and runs the
    /// reconnect hook on it: a new cluster client learns the topology from the seed
    /// nodes again, where redis-rs' own map stays stale on a socket that sends nothing
    /// (a subscriber's, after the node holding its subscriptions died).
    pub fn renew(&self, reason: &str) {
        let live = lock(&self.inner.state)
            .connection
            .as_ref()
            .map(|(_, generation)| *generation);
        if let Some(generation) = live {
            connection_lost(&self.inner, generation, reason);
        }
    }

    /// Ends the connection and any reconnect in progress; in-flight commands fail.
    pub fn close(&self) {
        let mut state = lock(&self.inner.state);
        state.closed = true;
        state.connection = None;
        self.inner.closes.send_modify(|closes| *closes += 1);
        for task in [state.reconnect_task.take(), state.sentinel_watch.take()]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
    }
}

fn closed_while_connecting() -> LayerError {
    LayerError::new(
        ErrorCode::Closed,
        "Redis connection was closed while connecting",
    )
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
                let client =
                    sentinel_master(master_name, sentinels, master_settings, target.tls.as_ref())
                        .await?;
                open_single(inner, client, generation).await
            }
        }
    };
    let outcome = match inner.config.connect_timeout {
        Some(limit) => tokio::time::timeout(limit, attempt)
            .await
            .map_err(|_| limit),
        None => Ok(attempt.await),
    };
    match outcome {
        Ok(Ok(connection)) => Ok((connection, generation)),
        Ok(Err(err)) => Err(LayerError::from_connect(&err, &target.display)),
        Err(limit) => Err(LayerError::new(
            ErrorCode::ConnectTimeout,
            format!(
                "Timed out after {} ms connecting to Redis at {}",
                limit.as_millis(),
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

fn single_client(info: ConnectionInfo, tls: Option<&TlsSettings>) -> RedisResult<redis::Client> {
    match tls {
        Some(tls) => redis::Client::build_with_tls(info, certificates(tls)),
        None => redis::Client::open(info),
    }
}

/// A client for the master the sentinels name. The certificates apply to the sentinels
/// and to the master, which speaks TLS exactly when they do; the sentinels' credentials
/// (from their URLs) and the master's (`master_settings`) stay apart.
async fn sentinel_master(
    master_name: &str,
    sentinels: &[ConnectionInfo],
    master_settings: &RedisConnectionInfo,
    tls: Option<&TlsSettings>,
) -> RedisResult<redis::Client> {
    let addresses = sentinels
        .iter()
        .map(|info| {
            Ok(single_client(info.clone(), tls)?
                .get_connection_info()
                .addr()
                .clone())
        })
        .collect::<RedisResult<Vec<_>>>()?;
    let mut builder =
        SentinelClientBuilder::new(addresses.clone(), master_name, SentinelServerType::Master)?
            .set_client_to_redis_protocol(master_settings.protocol())
            .set_client_to_redis_db(master_settings.db());
    if let Some(username) = master_settings.username() {
        builder = builder.set_client_to_redis_username(username);
    }
    if let Some(password) = master_settings.password() {
        builder = builder.set_client_to_redis_password(password);
    }
    // `resolve` made sure every sentinel shares the first one's scheme and credentials.
    if let Some(first) = sentinels.first().map(ConnectionInfo::redis_settings) {
        if let Some(username) = first.username() {
            builder = builder.set_client_to_sentinel_username(username);
        }
        if let Some(password) = first.password() {
            builder = builder.set_client_to_sentinel_password(password);
        }
    }
    if let Some(ConnectionAddr::TcpTls { insecure, .. }) = addresses.first() {
        builder = builder.set_client_to_redis_tls_mode(if *insecure {
            TlsMode::Insecure
        } else {
            TlsMode::Secure
        });
        if let Some(tls) = tls {
            builder = builder.set_client_to_redis_certificates(certificates(tls));
        }
    }
    let master = builder.build()?.async_get_client().await?;
    // The sentinels' answer gives the address and TLS; the settings are ours in full.
    redis::Client::open(
        master
            .get_connection_info()
            .clone()
            .set_redis_settings(master_settings.clone()),
    )
}

async fn open_single(
    inner: &Arc<Inner>,
    client: redis::Client,
    generation: u64,
) -> RedisResult<AnyConnection> {
    let weak = Arc::downgrade(inner);
    let push_sink = inner.push.clone();
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(inner.config.connect_timeout)
        .set_response_timeout(inner.config.command_timeout)
        // The sink hears of a disconnection before the reconnect starts, so what it does
        // about the lost socket comes before the reconnect hook's work on the new one.
        .set_push_sender(move |push: PushInfo| -> Result<(), LayerError> {
            let disconnected = push.kind == PushKind::Disconnection;
            if let Some(sink) = &push_sink {
                sink(push);
            }
            if disconnected {
                if let Some(inner) = weak.upgrade() {
                    connection_lost(&inner, generation, "the server closed the connection");
                }
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
    nodes: Vec<ConnectionInfo>,
    tls: Option<&TlsSettings>,
) -> RedisResult<AnyConnection> {
    let seeds = nodes.clone();
    let settings = nodes.first().map(|n| n.redis_settings().clone());
    // The cluster client always has a connect timeout; "none" is one tokio treats as never.
    let mut builder = ClusterClient::builder(nodes)
        .connection_timeout(inner.config.connect_timeout.unwrap_or(Duration::MAX))
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
    if let Some(limit) = inner.config.command_timeout {
        builder = builder.response_timeout(limit);
    }
    if let Some(tls) = tls {
        builder = builder.certs(certificates(tls));
    }
    // A node's socket closing reaches the sink too (as `Disconnection`): a subscriber renews
    // its socket then, since what was subscribed on that node must be made again elsewhere.
    if let Some(sink) = inner.push.clone() {
        builder = builder.push_sender(move |push: PushInfo| -> Result<(), LayerError> {
            sink(push);
            Ok(())
        });
    }
    let client = builder.build()?;
    match client.get_async_connection().await {
        Ok(connection) => Ok(AnyConnection::Cluster(connection)),
        Err(err) => Err(seed_auth_failure(inner, &seeds, tls).await.unwrap_or(err)),
    }
}

/// redis-rs' cluster client reports a failed start as one I/O error that keeps its cause
/// only as text. One plain connection per seed node recovers a refused password as an
/// error of its own kind, so it is classified as on a single server.
async fn seed_auth_failure(
    inner: &Inner,
    seeds: &[ConnectionInfo],
    tls: Option<&TlsSettings>,
) -> Option<RedisError> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(inner.config.connect_timeout)
        .set_response_timeout(inner.config.command_timeout);
    for seed in seeds {
        let Ok(client) = single_client(seed.clone(), tls) else {
            continue;
        };
        if let Err(err) = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            if is_auth_failure(&err) {
                return Some(err);
            }
        }
    }
    None
}

/// Listens for `+switch-master` on the sentinels, so a failover moves writes to the
/// new master within milliseconds instead of after the old master is demoted
/// (writes it accepted meanwhile would be lost then).
async fn watch_sentinels(
    weak: Weak<Inner>,
    master_name: String,
    sentinels: Vec<ConnectionInfo>,
    tls: Option<TlsSettings>,
) {
    use futures_util::StreamExt;
    let mut attempt: u32 = 0;
    loop {
        for sentinel in &sentinels {
            let Ok(client) = single_client(sentinel.clone(), tls.as_ref()) else {
                continue;
            };
            let Ok(Ok(mut pubsub)) =
                tokio::time::timeout(Duration::from_secs(2), client.get_async_pubsub()).await
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind as IoErrorKind;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn close_wins_over_a_connect_in_progress() {
        // A server that accepts and never answers: connect() waits for its HELLO reply.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("address").port();
        let config = ConnectionConfig {
            url: Some(format!("redis://127.0.0.1:{port}")),
            connect_timeout: None,
            ..ConnectionConfig::default()
        };
        let connection = ManagedConnection::new(config, Arc::new(|_| {}), None);
        let pending = tokio::spawn({
            let connection = connection.clone();
            async move { connection.connect().await }
        });
        let (socket, _) = listener.accept().await.expect("accept");
        connection.close();

        let outcome = tokio::time::timeout(Duration::from_secs(2), pending)
            .await
            .expect("connect() settles at once")
            .expect("the task ends normally");
        assert_eq!(outcome.err().map(|e| e.code), Some(ErrorCode::Closed));
        assert!(!connection.is_connected());
        let mut buffer = vec![0; 4096];
        let closed = tokio::time::timeout(Duration::from_secs(2), async {
            while socket.readable().await.is_ok() {
                match socket.try_read(&mut buffer) {
                    Ok(0) => break,
                    Err(err) if err.kind() != IoErrorKind::WouldBlock => break,
                    _ => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "the abandoned attempt closed its socket");
    }
}
