//! `NativeSubscriber`: one RESP3 socket that only does pub/sub.
//!
//! The server pushes messages on a Tokio thread; they wait in a bounded inbox and
//! reach JavaScript in batches, one wake-up per non-empty inbox (as `completions`
//! does for results). The inbox is bounded because a JS thread that falls behind
//! must not turn into unbounded memory: past the bound the oldest messages are
//! dropped and counted, and the count travels with the next batch so the loss is
//! logged.
//!
//! Subscriptions are remembered here and restored after every reconnect. While at
//! least one is active the wake-up function holds Node's event loop open, so a
//! worker that only listens stays up (as with node-redis); with none, or after
//! `close()`, it does not.
//!
//! The same socket carries key tracking for the local cache tier (`CLIENT TRACKING
//! ON BCAST`): invalidations travel through the inbox in order with the tracking's
//! state changes (lost when the socket closes, on once tracking is made again after
//! a reconnect), so JavaScript never serves a local copy across a gap.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use napi::bindgen_prelude::{Function, Null, ToNapiValue};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::{sys, Env};
use napi_derive::napi;
use redis::{PushInfo, PushKind, Value};
use redis_layer_core::any::SlotOwners;
use redis_layer_core::managed::PushSink;
use redis_layer_core::managed::WeakConnection;
use redis_layer_core::AnyConnection;
use redis_layer_core::{ErrorCode, LayerError, ManagedConnection};

use crate::callbacks::{self, waker, EventRelay, Waker};
use crate::completions::{Columns, CompletionSink};
use crate::errors::{closed, ErrorCodeName};
use crate::lock::lock;
use crate::options::NativeOptions;
use crate::reply::{check, js_string, utf8_lossy, Reply};

const DEFAULT_MAX_MESSAGES: u32 = 100_000;
const DEFAULT_MAX_BYTES: u32 = 64 * 1024 * 1024;

/// How much the inbox holds for a JavaScript thread that falls behind. Past either
/// bound the oldest messages are dropped (and the number dropped is reported).
#[napi(object)]
pub struct SubscriberLimits {
    /// Messages waiting for JavaScript. @default 100000
    pub max_messages: Option<u32>,
    /// Bytes of channel names and payloads waiting for JavaScript. @default 67108864 (64 MiB)
    pub max_bytes: Option<u32>,
}

/// What a message came through: a channel, a pattern (named), or a sharded channel;
/// or a key tracking notice (the channel being the invalidated key).
enum Source {
    Channel,
    Pattern(String),
    Shard,
    Tracking(Notice),
}

/// What key tracking tells JavaScript; its name is the delivery's payload.
#[derive(Clone, Copy)]
enum Notice {
    /// The key (the delivery's channel) changed.
    Key,
    /// Every key may have changed (FLUSHDB, FLUSHALL); tracking goes on.
    Flush,
    /// Tracking stopped (the socket closed): nothing local can be trusted until `On`.
    Lost,
    /// Tracking is on (again): invalidations from now on arrive.
    On,
}

impl Notice {
    fn name(self) -> &'static str {
        match self {
            Notice::Key => "key",
            Notice::Flush => "flush",
            Notice::Lost => "lost",
            Notice::On => "on",
        }
    }
}

struct Delivery {
    source: Source,
    channel: String,
    payload: String,
}

impl Delivery {
    fn size(&self) -> usize {
        let pattern = match &self.source {
            Source::Pattern(pattern) => pattern.len(),
            Source::Channel | Source::Shard | Source::Tracking(_) => 0,
        };
        pattern + self.channel.len() + self.payload.len()
    }

    fn from_push(push: PushInfo) -> Option<Self> {
        let mut data = push.data.into_iter().map(text);
        let source = match push.kind {
            PushKind::Message => Source::Channel,
            PushKind::SMessage => Source::Shard,
            PushKind::PMessage => Source::Pattern(data.next()??),
            _ => return None,
        };
        Some(Self {
            source,
            channel: data.next()??,
            payload: data.next()??,
        })
    }

    fn notice(notice: Notice, key: String) -> Self {
        Self {
            source: Source::Tracking(notice),
            channel: key,
            payload: String::new(),
        }
    }

    /// One `invalidate` push as notices: one per key, or `Flush` when it names none.
    fn invalidations(push: PushInfo) -> Vec<Self> {
        match push.data.into_iter().next() {
            Some(Value::Array(keys)) | Some(Value::Set(keys)) => keys
                .into_iter()
                .filter_map(text)
                .map(|key| Self::notice(Notice::Key, key))
                .collect(),
            _ => vec![Self::notice(Notice::Flush, String::new())],
        }
    }
}

fn text(value: Value) -> Option<String> {
    match value {
        Value::BulkString(bytes) => Some(utf8_lossy(bytes)),
        Value::SimpleString(text) => Some(text),
        _ => None,
    }
}

#[derive(Default)]
struct Inbox {
    queue: VecDeque<Delivery>,
    bytes: usize,
    dropped: i64,
}

/// One drained inbox as a flat array: `[dropped, source, channel, payload, …]`,
/// `source` being null for a channel message, the pattern for a pattern's, true
/// for a sharded channel's, and false for a tracking notice (`channel` the key,
/// `payload` the notice's name). A message JavaScript cannot hold (a string past V8's
/// limit) keeps its place with its payload's size in bytes instead of the payload,
/// and `source` null, for the broker to log and skip.
pub struct MessageBatch {
    deliveries: VecDeque<Delivery>,
    dropped: i64,
}

impl ToNapiValue for MessageBatch {
    unsafe fn to_napi_value(env: sys::napi_env, batch: Self) -> napi::Result<sys::napi_value> {
        // SAFETY: napi calls this on the JS thread with a live env.
        unsafe {
            let mut array = std::ptr::null_mut();
            napi::check_status!(sys::napi_create_array_with_length(
                env,
                1 + batch.deliveries.len() * 3,
                &mut array
            ))?;
            let dropped = i64::to_napi_value(env, batch.dropped)?;
            napi::check_status!(sys::napi_set_element(env, array, 0, dropped))?;
            for (index, delivery) in batch.deliveries.into_iter().enumerate() {
                let base = 1 + (index * 3) as u32;
                let [source, channel, payload] = match delivery.to_js(env) {
                    Ok(parts) => parts,
                    Err(_) => [
                        Null::to_napi_value(env, Null)?,
                        match js_string(env, &delivery.channel) {
                            Ok(channel) => channel,
                            Err(_) => Null::to_napi_value(env, Null)?,
                        },
                        f64::to_napi_value(env, delivery.payload.len() as f64)?,
                    ],
                };
                napi::check_status!(sys::napi_set_element(env, array, base, source))?;
                napi::check_status!(sys::napi_set_element(env, array, base + 1, channel))?;
                napi::check_status!(sys::napi_set_element(env, array, base + 2, payload))?;
            }
            Ok(array)
        }
    }
}

impl Delivery {
    /// `[source, channel, payload]` as JavaScript values.
    ///
    /// # Safety
    /// JS thread, live env.
    unsafe fn to_js(&self, env: sys::napi_env) -> Result<[sys::napi_value; 3], LayerError> {
        // SAFETY: forwarded from the caller.
        unsafe {
            let mut source = std::ptr::null_mut();
            match &self.source {
                Source::Pattern(pattern) => source = js_string(env, pattern)?,
                Source::Channel => check(env, sys::napi_get_null(env, &mut source))?,
                Source::Shard => check(env, sys::napi_get_boolean(env, true, &mut source))?,
                Source::Tracking(_) => check(env, sys::napi_get_boolean(env, false, &mut source))?,
            }
            let payload = match &self.source {
                Source::Tracking(notice) => js_string(env, notice.name())?,
                _ => js_string(env, &self.payload)?,
            };
            Ok([source, js_string(env, &self.channel)?, payload])
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Channel,
    Pattern,
    Shard,
}

/// What should be subscribed. Each entry carries the token of the call that added
/// it, so a failed subscribe removes its own entry and not a newer one.
#[derive(Default)]
struct Subscriptions {
    channels: HashMap<String, u64>,
    patterns: HashMap<String, u64>,
    shards: HashMap<String, u64>,
    next_token: u64,
}

impl Subscriptions {
    fn of(&mut self, kind: Kind) -> &mut HashMap<String, u64> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shards,
        }
    }

    fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.patterns.is_empty() && self.shards.is_empty()
    }
}

/// What is tracked, and which turning on of tracking may still report `on`.
#[derive(Default)]
struct Tracking {
    /// The key prefixes tracked (empty: every key); `None` while not tracking.
    prefixes: Option<Vec<String>>,
    /// How many times tracking was lost. A tracking begun before the latest loss ran on a
    /// socket that is gone or going, so its success is not reported as `on`.
    losses: u64,
    /// Who served which slots when tracking was last turned on (a cluster's); `None` while off.
    owners: Option<SlotOwners>,
}

struct State {
    subscriptions: Mutex<Subscriptions>,
    /// Key tracking for the local cache tier.
    tracking: Mutex<Tracking>,
    inbox: Mutex<Inbox>,
    max_messages: usize,
    max_bytes: usize,
    closed: AtomicBool,
    /// A renewal of the socket after a cluster node went away is pending.
    renewing: AtomicBool,
    /// The cluster's slot owners are being watched for the tracking (see `watch_slots`).
    watching: AtomicBool,
    /// Whether the waker currently holds the event loop open. Only touched on the JS thread.
    referenced: Mutex<bool>,
}

impl State {
    fn receive(&self, delivery: Delivery) -> bool {
        if self.closed.load(Ordering::Acquire) {
            return false;
        }
        let mut inbox = lock(&self.inbox);
        let was_empty = inbox.queue.is_empty();
        inbox.bytes += delivery.size();
        inbox.queue.push_back(delivery);
        while inbox.queue.len() > 1
            && (inbox.queue.len() > self.max_messages || inbox.bytes > self.max_bytes)
        {
            if let Some(oldest) = inbox.queue.pop_front() {
                inbox.bytes -= oldest.size();
                inbox.dropped += 1;
            }
        }
        was_empty
    }

    /// Queues a tracking notice; wakes JavaScript when the inbox was empty.
    fn notify(&self, mailbox: &Mailbox, notice: Notice) {
        if self.receive(Delivery::notice(notice, String::new())) {
            mailbox.wake();
        }
    }

    /// Reports tracking lost (when keys are tracked) and returns the count of losses, which
    /// a tracking begun from now on presents to `tracking_on`.
    fn tracking_lost(&self, mailbox: &Mailbox) -> u64 {
        let mut tracking = lock(&self.tracking);
        if tracking.prefixes.is_some() {
            tracking.losses += 1;
            tracking.owners = None;
            self.notify(mailbox, Notice::Lost);
        }
        tracking.losses
    }

    /// Reports tracking on, unless it was lost after the tracking that succeeded began
    /// (`began`: the count of losses then), or is no longer wanted.
    fn tracking_on(&self, mailbox: &Mailbox, began: u64, owners: Option<SlotOwners>) {
        let mut tracking = lock(&self.tracking);
        if tracking.prefixes.is_some() && tracking.losses == began {
            tracking.owners = owners;
            self.notify(mailbox, Notice::On);
        }
    }

    /// Whether a reconnect has anything to restore (subscriptions or tracking).
    fn has_work(&self) -> bool {
        !lock(&self.subscriptions).is_empty() || lock(&self.tracking).prefixes.is_some()
    }

    fn drain(&self) -> MessageBatch {
        let mut inbox = lock(&self.inbox);
        let batch = MessageBatch {
            deliveries: std::mem::take(&mut inbox.queue),
            dropped: inbox.dropped,
        };
        inbox.bytes = 0;
        inbox.dropped = 0;
        batch
    }

    /// Refs or unrefs the waker so that the event loop stays open exactly while a
    /// subscription is active. Must run on the JS thread.
    fn sync_keep_alive(&self, env: sys::napi_env, waker: sys::napi_threadsafe_function) {
        if waker.is_null() {
            return;
        }
        let wanted = !self.closed.load(Ordering::Acquire) && !lock(&self.subscriptions).is_empty();
        let mut referenced = lock(&self.referenced);
        if *referenced == wanted {
            return;
        }
        *referenced = wanted;
        // SAFETY: JS thread (every caller is a napi method or the waker's callback),
        // and the waker is alive while its owner or its callback runs.
        unsafe {
            if wanted {
                sys::napi_ref_threadsafe_function(env, waker);
            } else {
                sys::napi_unref_threadsafe_function(env, waker);
            }
        }
    }
}

/// The state plus the function that wakes the JS thread; what the socket's push
/// sink and the operation tasks hold. The function is released on close.
struct Mailbox {
    state: Arc<State>,
    waker: Mutex<Option<Waker<MessageBatch>>>,
}

impl Mailbox {
    fn wake(&self) {
        if let Some(waker) = lock(&self.waker).as_ref() {
            waker.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }

    /// Holds the event loop open exactly while a subscription is active (JS thread).
    fn sync_keep_alive(&self, env: &Env) {
        let waker = lock(&self.waker);
        let raw = waker
            .as_ref()
            .map_or(std::ptr::null_mut(), |waker| waker.raw());
        self.state.sync_keep_alive(env.raw(), raw);
    }

    fn release(&self) {
        let waker = lock(&self.waker).take();
        drop(waker);
    }
}

#[napi]
pub struct NativeSubscriber {
    connection: ManagedConnection,
    /// `None` once closed: the completion callback then goes with the last call in flight.
    sink: RefCell<Option<Arc<CompletionSink>>>,
    mailbox: Arc<Mailbox>,
    events: Arc<EventRelay>,
}

#[napi]
impl NativeSubscriber {
    #[napi(constructor, catch_unwind)]
    pub fn new(
        options: NativeOptions,
        limits: Option<SubscriberLimits>,
        #[napi(
            ts_arg_type = "(batch: [ids: Uint32Array, failed: Uint8Array, payloads: unknown[]]) => void"
        )]
        on_batch: Function<'_, Columns, ()>,
        #[napi(ts_arg_type = "(messages: unknown[]) => void")] on_messages: Function<
            '_,
            MessageBatch,
            (),
        >,
        #[napi(
            ts_arg_type = "(event: [level: string, message: string, kind?: 'connected' | 'reconnected' | 'disconnected' | 'reconnect-failed']) => void"
        )]
        on_event: Function<'_, Vec<String>, ()>,
    ) -> napi::Result<Self> {
        let limits = limits.unwrap_or(SubscriberLimits {
            max_messages: None,
            max_bytes: None,
        });
        let state = Arc::new(State {
            subscriptions: Mutex::new(Subscriptions::default()),
            tracking: Mutex::new(Tracking::default()),
            inbox: Mutex::new(Inbox::default()),
            max_messages: limits.max_messages.unwrap_or(DEFAULT_MAX_MESSAGES).max(1) as usize,
            max_bytes: limits.max_bytes.unwrap_or(DEFAULT_MAX_BYTES).max(1) as usize,
            closed: AtomicBool::new(false),
            renewing: AtomicBool::new(false),
            watching: AtomicBool::new(false),
            referenced: Mutex::new(false),
        });
        let drain_state = state.clone();
        let waker = waker(on_messages, move |env, own_handle| {
            drain_state.sync_keep_alive(env.raw(), own_handle);
            drain_state.drain()
        })?;
        let mailbox = Arc::new(Mailbox {
            state,
            waker: Mutex::new(Some(waker)),
        });

        let push_mailbox = mailbox.clone();
        // The socket the push sink subscribes again on, known once it exists (weakly: the
        // socket holds the sink).
        let socket: Arc<OnceLock<(WeakConnection, Arc<EventRelay>)>> = Arc::new(OnceLock::new());
        let push_socket = socket.clone();
        let push_sink: PushSink = Arc::new(move |push: PushInfo| {
            match push.kind {
                // A node ended one sharded subscription (its slot moved): subscribe where it lives now.
                PushKind::SUnsubscribe => {
                    let channel = push.data.into_iter().next().and_then(text);
                    if let (Some(channel), Some((connection, events))) =
                        (channel, push_socket.get())
                    {
                        if let Some(connection) = connection.upgrade() {
                            follow_shard(&push_mailbox.state, connection, events, channel);
                        }
                    }
                }
                // The socket (a cluster node's, on a cluster) closed: what it tracked is lost; a
                // cluster subscriber renews its socket, a single one is reconnected by core.
                PushKind::Disconnection => {
                    let state = &push_mailbox.state;
                    state.tracking_lost(&push_mailbox);
                    if let Some((connection, _)) = push_socket.get() {
                        if let Some(connection) = connection.upgrade() {
                            if connection.config().is_cluster() {
                                renew_after_node_loss(state, connection);
                            }
                        }
                    }
                }
                PushKind::Invalidate => {
                    let mut wake = false;
                    for notice in Delivery::invalidations(push) {
                        wake |= push_mailbox.state.receive(notice);
                    }
                    if wake {
                        push_mailbox.wake();
                    }
                }
                _ => {
                    if let Some(delivery) = Delivery::from_push(push) {
                        if push_mailbox.state.receive(delivery) {
                            push_mailbox.wake();
                        }
                    }
                }
            }
        });
        let (connection, events) = callbacks::connection(options, on_event, Some(push_sink))?;
        let _ = socket.set((connection.downgrade(), events.clone()));
        connection.set_reconnect_hook(resubscribe_hook(
            mailbox.clone(),
            events.clone(),
            connection.downgrade(),
        ));
        Ok(Self {
            connection,
            sink: RefCell::new(Some(CompletionSink::new(on_batch)?)),
            mailbox,
            events,
        })
    }

    #[napi(getter)]
    pub fn is_connected(&self) -> bool {
        self.connection.is_connected()
    }

    /// Messages received and not yet handed to JavaScript, including those dropped.
    #[napi(getter)]
    pub fn backlog(&self) -> i64 {
        let inbox = lock(&self.mailbox.state.inbox);
        inbox.queue.len() as i64 + inbox.dropped
    }

    #[napi(catch_unwind)]
    pub fn connect(&self, env: &Env, id: u32) -> napi::Result<(), ErrorCodeName> {
        self.sink()?.connect(env, id, self.connection.clone());
        Ok(())
    }

    /// Ends the socket and gives up its callbacks into JavaScript; messages not yet
    /// delivered are discarded, calls in flight still settle, later calls throw.
    #[napi(catch_unwind)]
    pub fn close(&self, env: &Env) {
        let state = &self.mailbox.state;
        state.closed.store(true, Ordering::Release);
        *lock(&state.subscriptions) = Subscriptions::default();
        lock(&state.tracking).prefixes = None;
        *lock(&state.inbox) = Inbox::default();
        self.connection.close();
        self.mailbox.sync_keep_alive(env);
        self.mailbox.release();
        drop(self.sink.borrow_mut().take());
        self.events.close();
    }

    #[napi(catch_unwind)]
    pub fn subscribe(
        &self,
        env: &Env,
        id: u32,
        channel: String,
    ) -> napi::Result<(), ErrorCodeName> {
        self.add(env, id, Kind::Channel, channel)
    }

    #[napi(catch_unwind)]
    pub fn psubscribe(
        &self,
        env: &Env,
        id: u32,
        pattern: String,
    ) -> napi::Result<(), ErrorCodeName> {
        self.add(env, id, Kind::Pattern, pattern)
    }

    /// Subscribes to a sharded channel (SSUBSCRIBE), on a cluster only.
    #[napi(catch_unwind)]
    pub fn ssubscribe(
        &self,
        env: &Env,
        id: u32,
        channel: String,
    ) -> napi::Result<(), ErrorCodeName> {
        self.add(env, id, Kind::Shard, channel)
    }

    #[napi(catch_unwind)]
    pub fn sunsubscribe(
        &self,
        env: &Env,
        id: u32,
        channel: String,
    ) -> napi::Result<(), ErrorCodeName> {
        self.remove(env, id, Kind::Shard, channel)
    }

    /// Tracks the keys starting with `prefixes` (every key when empty) for the local cache
    /// tier: their invalidations, and the tracking's `on`/`lost` notices, arrive with the
    /// messages. Kept across reconnects; a socket that is down tracks once it is back.
    #[napi(catch_unwind)]
    pub fn track(
        &self,
        env: &Env,
        id: u32,
        prefixes: Vec<String>,
    ) -> napi::Result<(), ErrorCodeName> {
        let sink = self.sink()?;
        let began = {
            let mut tracking = lock(&self.mailbox.state.tracking);
            tracking.prefixes = Some(prefixes.clone());
            tracking.losses
        };
        if self.connection.config().is_cluster()
            && !self.mailbox.state.watching.swap(true, Ordering::AcqRel)
        {
            watch_slots(self.mailbox.clone(), self.connection.downgrade());
        }
        let mailbox = self.mailbox.clone();
        sink.spawn(
            env,
            id,
            self.connection.clone(),
            move |connection| async move {
                let result = connection
                    .run(move |mut socket| async move {
                        track_noting_owners(&mut socket, &prefixes).await
                    })
                    .await;
                match result {
                    Ok(owners) => {
                        mailbox.state.tracking_on(&mailbox, began, owners);
                        Ok(Reply::Nil)
                    }
                    Err(error) if is_unreachable(&error) => Ok(Reply::Nil),
                    // A cluster in the middle of a change: a new socket tries again (as the hook does).
                    Err(_) if connection.config().is_cluster() => {
                        renew_after_node_loss(&mailbox.state, connection);
                        Ok(Reply::Nil)
                    }
                    Err(error) => {
                        lock(&mailbox.state.tracking).prefixes = None;
                        Err(error)
                    }
                }
            },
        );
        Ok(())
    }

    #[napi(catch_unwind)]
    pub fn unsubscribe(
        &self,
        env: &Env,
        id: u32,
        channel: String,
    ) -> napi::Result<(), ErrorCodeName> {
        self.remove(env, id, Kind::Channel, channel)
    }

    #[napi(catch_unwind)]
    pub fn punsubscribe(
        &self,
        env: &Env,
        id: u32,
        pattern: String,
    ) -> napi::Result<(), ErrorCodeName> {
        self.remove(env, id, Kind::Pattern, pattern)
    }
}

impl NativeSubscriber {
    /// Registers `name`, then subscribes. While Redis is unreachable the name stays
    /// registered and the call succeeds: the reconnect hook subscribes it when Redis
    /// is back, as node-redis' offline queue would.
    fn add(&self, env: &Env, id: u32, kind: Kind, name: String) -> napi::Result<(), ErrorCodeName> {
        let sink = self.sink()?;
        let token = {
            let mut subscriptions = lock(&self.mailbox.state.subscriptions);
            subscriptions.next_token += 1;
            let token = subscriptions.next_token;
            subscriptions.of(kind).insert(name.clone(), token);
            token
        };
        self.mailbox.sync_keep_alive(env);
        let mailbox = self.mailbox.clone();
        sink.spawn(
            env,
            id,
            self.connection.clone(),
            move |connection| async move {
                let sent = name.clone();
                let result = connection
                    .run(move |mut socket| async move {
                        match kind {
                            Kind::Channel => socket.subscribe(sent).await,
                            Kind::Pattern => socket.psubscribe(sent).await,
                            Kind::Shard => socket.ssubscribe(sent).await,
                        }
                    })
                    .await;
                match result {
                    Ok(()) => Ok(Reply::Nil),
                    Err(error) if is_unreachable(&error) => Ok(Reply::Nil),
                    Err(error) => {
                        let removed = {
                            let mut subscriptions = lock(&mailbox.state.subscriptions);
                            let names = subscriptions.of(kind);
                            let ours = names.get(&name) == Some(&token);
                            if ours {
                                names.remove(&name);
                            }
                            ours
                        };
                        if removed {
                            // Only the JS thread may unref the waker; its callback does.
                            mailbox.wake();
                        }
                        Err(error)
                    }
                }
            },
        );
        Ok(())
    }

    /// Forgets `name`, then unsubscribes. A socket that is down has no subscriptions
    /// to end, and the reconnect hook no longer restores the name, so that succeeds.
    fn remove(
        &self,
        env: &Env,
        id: u32,
        kind: Kind,
        name: String,
    ) -> napi::Result<(), ErrorCodeName> {
        let sink = self.sink()?;
        lock(&self.mailbox.state.subscriptions)
            .of(kind)
            .remove(&name);
        self.mailbox.sync_keep_alive(env);
        sink.spawn(
            env,
            id,
            self.connection.clone(),
            move |connection| async move {
                let result = connection
                    .run(move |mut socket| async move {
                        match kind {
                            Kind::Channel => socket.unsubscribe(name).await,
                            Kind::Pattern => socket.punsubscribe(name).await,
                            Kind::Shard => socket.sunsubscribe(name).await,
                        }
                    })
                    .await;
                match result {
                    Ok(()) => Ok(Reply::Nil),
                    Err(error) if is_unreachable(&error) || error.code == ErrorCode::Closed => {
                        Ok(Reply::Nil)
                    }
                    Err(error) => Err(error),
                }
            },
        );
        Ok(())
    }

    fn sink(&self) -> Result<Arc<CompletionSink>, napi::Error<ErrorCodeName>> {
        self.sink
            .borrow()
            .clone()
            .ok_or_else(|| closed("Redis subscriber"))
    }
}

fn is_unreachable(error: &LayerError) -> bool {
    matches!(
        error.code,
        ErrorCode::NotConnected | ErrorCode::ConnectionLost
    )
}

/// The first pause before following a sharded channel, and the longest between tries.
const FOLLOW_DELAY: std::time::Duration = std::time::Duration::from_millis(250);
const FOLLOW_MAX_DELAY: std::time::Duration = std::time::Duration::from_secs(2);
/// Failed tries after which the wait is logged (once), while trying goes on.
const FOLLOW_REPORT_AFTER: u32 = 20;

/// A node that stops serving a slot (a migration) ends the sharded subscriptions of
/// its channels with a SUNSUBSCRIBE of its own; one still wanted is made again, and
/// redis-rs routes it to the slot's new node (its MOVED reply refreshes the slot map).
/// It keeps trying while the cluster settles and stops once the channel is no longer
/// wanted. (A node that dies: see `renew_after_node_loss`.)
fn follow_shard(
    state: &Arc<State>,
    connection: ManagedConnection,
    events: &Arc<EventRelay>,
    channel: String,
) {
    let wanted = |state: &State, channel: &str| {
        !state.closed.load(Ordering::Acquire)
            && lock(&state.subscriptions).shards.contains_key(channel)
    };
    if !wanted(state, &channel) {
        return;
    }
    let (state, events) = (state.clone(), events.clone());
    napi::bindgen_prelude::spawn(async move {
        let mut delay = FOLLOW_DELAY;
        for attempt in 1.. {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(FOLLOW_MAX_DELAY);
            if !wanted(&state, &channel) {
                return;
            }
            let sent = channel.clone();
            match connection
                .run(move |mut socket| async move { socket.ssubscribe(sent).await })
                .await
            {
                Ok(()) => {
                    events.log(
                        "info",
                        "Redis pub/sub: a sharded channel moved to another node and was subscribed there"
                            .to_string(),
                    );
                    return;
                }
                Err(error) if attempt == FOLLOW_REPORT_AFTER => events.log(
                    "error",
                    format!(
                        "Redis pub/sub: a sharded channel lost its node and is not subscribed again yet (still trying): {}",
                        error.message
                    ),
                ),
                Err(_) => {}
            }
        }
    });
}

/// How often a tracking cluster subscriber looks at who serves which slots.
const SLOT_WATCH: std::time::Duration = std::time::Duration::from_secs(1);

/// Keeps a cluster's key tracking whole through topology changes. Each look is compared
/// with the picture taken when tracking was last turned on (`Tracking::owners`): slots
/// that moved between the same masters flush the local tiers (`Flush`); a changed set of
/// masters (a failover, a master added) loses the tracking and renews the socket, whose
/// reconnect hook tracks on every master of the new topology.
fn watch_slots(mailbox: Arc<Mailbox>, connection: WeakConnection) {
    napi::bindgen_prelude::spawn(async move {
        loop {
            tokio::time::sleep(SLOT_WATCH).await;
            let state = &mailbox.state;
            let Some(connection) = connection.upgrade() else {
                return;
            };
            if state.closed.load(Ordering::Acquire) {
                return;
            }
            if lock(&state.tracking).owners.is_none() || state.renewing.load(Ordering::Acquire) {
                continue;
            }
            let Ok((mut socket, _)) = connection.current() else {
                continue;
            };
            let Ok(Some(owners)) = socket.slot_owners().await else {
                continue;
            };
            let change = {
                let mut tracking = lock(&state.tracking);
                match tracking.owners.as_mut() {
                    Some(before) if before.masters != owners.masters => Some(Notice::Lost),
                    Some(before) if before.slots != owners.slots => {
                        *before = owners;
                        Some(Notice::Flush)
                    }
                    _ => None,
                }
            };
            match change {
                Some(Notice::Lost) => {
                    state.tracking_lost(&mailbox);
                    connection.renew("the cluster's masters changed while keys were tracked");
                }
                Some(notice) => state.notify(&mailbox, notice),
                None => {}
            }
        }
    });
}

/// Turns tracking on; on a cluster, first takes the picture of who serves which slots
/// (returned, for the slot watch to compare with), and succeeds only when every master in
/// it answered.
async fn track_noting_owners(
    socket: &mut AnyConnection,
    prefixes: &[String],
) -> redis::RedisResult<Option<SlotOwners>> {
    let owners = socket.slot_owners().await?;
    if owners.as_ref().is_some_and(|owners| !owners.complete) {
        return Err(redis::RedisError::from((
            redis::ErrorKind::Io,
            "key tracking waits for every slot to have a live master",
        )));
    }
    let tracked = socket.track(prefixes).await?;
    if let Some(missing) = owners
        .iter()
        .flat_map(|owners| owners.masters.iter())
        .find(|master| !tracked.contains(master))
    {
        // This client does not know a master yet (a failover in progress): try again later.
        return Err(redis::RedisError::from((
            redis::ErrorKind::Io,
            "key tracking is not on at every master yet",
            missing.clone(),
        )));
    }
    Ok(owners)
}

/// How long after a cluster node's socket closed the subscriber takes a new cluster
/// client: long enough for a burst of closes to come as one.
const RENEW_DELAY: std::time::Duration = std::time::Duration::from_millis(200);
/// The pause before a cluster subscriber whose subscriptions could not be restored tries again.
const RESTORE_RETRY: std::time::Duration = std::time::Duration::from_millis(800);

/// A cluster node holding subscriptions went away (its master died, say). redis-rs keeps
/// reconnecting to that address and its slot map stays stale on a socket that sends
/// nothing, so the subscriber takes a new cluster client, which learns the topology again,
/// and the reconnect hook subscribes everything there; until a replica has taken over, the
/// hook's subscribing fails and the socket is renewed again (see `resubscribe_hook`).
fn renew_after_node_loss(state: &Arc<State>, connection: ManagedConnection) {
    if state.closed.load(Ordering::Acquire) || !state.has_work() {
        return;
    }
    if state.renewing.swap(true, Ordering::AcqRel) {
        return;
    }
    let state = state.clone();
    napi::bindgen_prelude::spawn(async move {
        tokio::time::sleep(RENEW_DELAY).await;
        state.renewing.store(false, Ordering::Release);
        if !state.closed.load(Ordering::Acquire) {
            connection.renew("a cluster node holding subscriptions went away");
        }
    });
}

/// Restores every remembered subscription, and key tracking, on the fresh socket of a
/// reconnect. Tracking is reported lost first, since the server kept none of it.
fn resubscribe_hook(
    mailbox: Arc<Mailbox>,
    events: Arc<EventRelay>,
    managed: WeakConnection,
) -> Arc<dyn Fn(AnyConnection) + Send + Sync> {
    Arc::new(move |mut socket: AnyConnection| {
        let state = &mailbox.state;
        let (channels, patterns, shards): (Vec<String>, Vec<String>, Vec<String>) = {
            let subscriptions = lock(&state.subscriptions);
            (
                subscriptions.channels.keys().cloned().collect(),
                subscriptions.patterns.keys().cloned().collect(),
                subscriptions.shards.keys().cloned().collect(),
            )
        };
        let tracking = lock(&state.tracking).prefixes.clone();
        let began = state.tracking_lost(&mailbox);
        if channels.is_empty() && patterns.is_empty() && shards.is_empty() && tracking.is_none() {
            return;
        }
        let events = events.clone();
        let (mailbox, managed) = (mailbox.clone(), managed.clone());
        napi::bindgen_prelude::spawn(async move {
            let count = channels.len() + patterns.len() + shards.len();
            let mut result = Ok(());
            if !channels.is_empty() {
                result = socket.subscribe(channels).await;
            }
            if result.is_ok() && !patterns.is_empty() {
                result = socket.psubscribe(patterns).await;
            }
            // One SSUBSCRIBE per channel: a call's channels must share a slot.
            for shard in shards {
                if result.is_err() {
                    break;
                }
                result = socket.ssubscribe(shard).await;
            }
            if let (Ok(()), Some(prefixes)) = (&result, &tracking) {
                result = match track_noting_owners(&mut socket, prefixes).await {
                    Ok(owners) => {
                        mailbox.state.tracking_on(&mailbox, began, owners);
                        Ok(())
                    }
                    Err(error) => Err(error),
                };
            }
            let what = match (count, tracking.is_some()) {
                (0, _) => "key tracking".to_string(),
                (count, false) => format!("{count} subscriptions"),
                (count, true) => format!("{count} subscriptions and key tracking"),
            };
            match result {
                Ok(()) => events.log("info", format!("Redis pub/sub: restored {what}")),
                // A dropped socket reconnects again and this hook retries then. A cluster
                // socket does not drop (its client heals itself), so it is renewed after a
                // pause: a node that died may still be in the topology until a replica takes over.
                Err(err) => {
                    events.log(
                        "error",
                        format!(
                            "Redis pub/sub: restoring {what} failed: {}",
                            LayerError::from_command(&err).message
                        ),
                    );
                    if socket.is_cluster() {
                        tokio::time::sleep(RESTORE_RETRY).await;
                        if let Some(connection) = managed.upgrade() {
                            renew_after_node_loss(&mailbox.state, connection);
                        }
                    }
                }
            }
        });
    })
}
