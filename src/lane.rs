//! One ordered lane per socket. Calls leave in the order JavaScript made them
//! (as with node-redis and ioredis: an un-awaited `set` then `get` sees the write),
//! as pipelined writes of whatever has queued since the last one. Replies are matched
//! back to calls by position.
//!
//! Several batches may be in flight, so the server works on one while JavaScript
//! handles the replies of the previous one. Order holds because each batch is
//! polled once, which hands its bytes to redis-rs' FIFO send queue, before the next
//! batch is made; a full queue parks senders in FIFO order too.
//!
//! Scripts run by hash. A server that has not cached one yet (new connection,
//! reconnect) gets `SCRIPT LOAD` right before the first call in the same pipelined
//! write, so no call overtakes it. A `NOSCRIPT` all the same (an operator's SCRIPT
//! FLUSH) pauses the lane until the batches on the wire have settled, then their
//! script calls go out again first, in call order (see `LostScriptCalls`).
//!
//! On a cluster each call goes out on its own, routed by redis-rs (see
//! `redis_layer_core::cluster`), and scripts carry their source until loaded.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;

use futures_util::future::{join, join_all};
use futures_util::stream::{FuturesUnordered, StreamExt};
use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, Value};
use redis_layer_core::cluster::{self, error_reply};
use redis_layer_core::{ErrorCode, LayerError, ManagedConnection};
use tokio::sync::mpsc;

use crate::completions::{CompletionGuard, Outcome};
use crate::lock::lock;
use crate::reply::Reply;
use crate::scripts::LuaScript;

/// JavaScript submissions (each a microtask turn's calls) taken per wake-up.
const MAX_SUBMISSIONS: usize = 64;

/// Calls per pipelined batch: replies reach JavaScript a batch at a time, so a huge
/// submission does not wait for its last reply before its first settles.
const CHUNK: usize = 32;

/// Batches on the wire at once; beyond it calls wait and leave together.
const MAX_IN_FLIGHT: usize = 16;

pub enum Shape {
    Single(Cmd),
    /// An MGET whose values come back as one JSON array text (see `json_array`).
    JsonArray(Cmd),
    Pipeline(Vec<Cmd>),
    Transaction(Vec<Cmd>),
    Script {
        script: Arc<LuaScript>,
        keys: Vec<String>,
        args: Vec<String>,
    },
}

impl Shape {
    fn reply_count(&self) -> usize {
        match self {
            Shape::Single(_) | Shape::JsonArray(_) | Shape::Script { .. } => 1,
            Shape::Pipeline(commands) => commands.len(),
            // MULTI and EXEC answer too.
            Shape::Transaction(commands) => commands.len() + 2,
        }
    }

    /// Adds the calls to `pipe`; `load_script` puts a script's `SCRIPT LOAD` first.
    fn pack_into(&self, pipe: &mut Pipeline, load_script: bool) {
        match self {
            Shape::Single(command) | Shape::JsonArray(command) => {
                pipe.add_command(command.clone());
            }
            Shape::Pipeline(commands) => {
                for command in commands {
                    pipe.add_command(command.clone());
                }
            }
            Shape::Transaction(commands) => {
                pipe.cmd("MULTI");
                for command in commands {
                    pipe.add_command(command.clone());
                }
                pipe.cmd("EXEC");
            }
            Shape::Script { script, keys, args } => {
                if load_script {
                    pipe.add_command(script.load());
                }
                pipe.add_command(script.evalsha(keys, args));
            }
        }
    }
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum ScriptState {
    #[default]
    Unknown,
    /// A cluster-wide `SCRIPT LOAD` is on its way; meanwhile calls carry the source.
    Loading,
    Loaded,
}

/// Which scripts the lane's server has cached, as far as the lane knows: per script
/// handle, for one connection generation (a reconnect may reach a server with none).
#[derive(Default)]
struct LoadedScripts(Mutex<Known>);

#[derive(Default)]
struct Known {
    generation: u64,
    states: Vec<ScriptState>,
}

impl LoadedScripts {
    fn on(&self, generation: u64) -> ScriptsGuard<'_> {
        let mut known = lock(&self.0);
        if known.generation != generation {
            known.generation = generation;
            known.states.clear();
        }
        ScriptsGuard(known)
    }

    /// Records `state` for `handle`, unless the connection moved on meanwhile.
    fn set(&self, generation: u64, handle: u32, state: ScriptState) {
        let known = lock(&self.0);
        if known.generation == generation {
            *ScriptsGuard(known).state(handle) = state;
        }
    }
}

struct ScriptsGuard<'a>(MutexGuard<'a, Known>);

impl ScriptsGuard<'_> {
    fn state(&mut self, handle: u32) -> &mut ScriptState {
        let index = handle as usize;
        if index >= self.0.states.len() {
            self.0.states.resize(index + 1, ScriptState::Unknown);
        }
        &mut self.0.states[index]
    }

    /// The script's state before this call, which then becomes `next` unless the
    /// script was loaded already.
    fn advance(&mut self, handle: u32, next: ScriptState) -> ScriptState {
        let state = self.state(handle);
        let was = *state;
        if was != ScriptState::Loaded {
            *state = next;
        }
        was
    }
}

pub struct Request {
    pub shape: Shape,
    pub guard: CompletionGuard,
}

pub struct Lane {
    sender: mpsc::UnboundedSender<Vec<Request>>,
}

impl Lane {
    pub fn start(connection: ManagedConnection) -> Self {
        crate::busy_poll::start();
        let (sender, receiver) = mpsc::unbounded_channel();
        napi::bindgen_prelude::spawn(drive(receiver, connection));
        Self { sender }
    }

    /// Queues calls in order, one channel send per JavaScript submission, so the I/O
    /// thread wakes once for a submission rather than part-way through it.
    pub fn send(&self, requests: Vec<Request>) {
        if requests.is_empty() {
            return;
        }
        if let Err(mpsc::error::SendError(requests)) = self.sender.send(requests) {
            let error = LayerError::new(ErrorCode::Closed, "Redis connection is closed");
            fail_all(requests, &error);
        }
    }
}

async fn drive(mut receiver: mpsc::UnboundedReceiver<Vec<Request>>, connection: ManagedConnection) {
    let scripts = LoadedScripts::default();
    let lost = LostScriptCalls::default();
    let mut sent: u64 = 0;
    let mut in_flight = FuturesUnordered::new();
    let mut submissions = Vec::new();
    let mut waiting: VecDeque<Request> = VecDeque::new();
    let mut again: VecDeque<Request> = VecDeque::new();
    let mut closed = false;
    loop {
        if in_flight.is_empty() && lost.any() {
            again.extend(lost.take());
        }
        while in_flight.len() < MAX_IN_FLIGHT {
            // Calls sent again go first; new ones wait while lost calls are collected.
            let (queue, resend) = if !again.is_empty() {
                (&mut again, true)
            } else if !waiting.is_empty() && !lost.any() {
                (&mut waiting, false)
            } else {
                break;
            };
            let take = queue.len().min(CHUNK);
            let batch: Vec<Request> = queue.drain(..take).collect();
            let context = BatchContext {
                connection: &connection,
                scripts: &scripts,
                lost: (!resend).then_some((&lost, sent)),
            };
            sent += 1;
            let mut running: Pin<Box<dyn Future<Output = ()> + Send + '_>> =
                Box::pin(run_batch(context, batch));
            // The first poll queues the batch's write; only then may the next batch start.
            let started =
                std::future::poll_fn(|context| Poll::Ready(running.as_mut().poll(context)));
            if started.await.is_pending() {
                in_flight.push(running);
            }
        }
        if closed && in_flight.is_empty() && waiting.is_empty() && again.is_empty() {
            return;
        }
        tokio::select! {
            biased;
            Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
            received = receiver.recv_many(&mut submissions, MAX_SUBMISSIONS), if waiting.is_empty() && !closed => {
                if received == 0 {
                    closed = true;
                }
                for submission in submissions.drain(..) {
                    waiting.extend(submission);
                }
            }
        }
    }
}

/// What a batch runs with. `lost`, with the batch's place in the send order, takes
/// the script calls the server did not know; a batch of such calls sent again has none.
struct BatchContext<'a> {
    connection: &'a ManagedConnection,
    scripts: &'a LoadedScripts,
    lost: Option<(&'a LostScriptCalls, u64)>,
}

async fn run_batch(context: BatchContext<'_>, mut batch: Vec<Request>) {
    for request in &mut batch {
        request.guard.writing();
    }
    let BatchContext {
        connection,
        scripts,
        lost,
    } = context;
    let generation = match connection.current() {
        Err(error) => return fail_all(batch, &error),
        Ok((socket, _)) if socket.is_cluster() => {
            return run_cluster_batch(connection, scripts, batch).await
        }
        Ok((_, generation)) => generation,
    };
    let sent = send(connection, scripts, generation, &batch).await;
    let unknown = settle_all(batch, sent, connection, |request| match lost {
        Some(_) => {
            if let Shape::Script { script, .. } = &request.shape {
                scripts.set(generation, script.handle, ScriptState::Unknown);
            }
            Some(request)
        }
        None => {
            request.guard.finish(Err(no_script()));
            None
        }
    });
    if let (Some((lost, seq)), false) = (lost, unknown.is_empty()) {
        lost.add(seq, unknown);
    }
}

/// Script calls that met `NOSCRIPT` (an operator's SCRIPT FLUSH), by the batch they
/// came in. While there are any the lane sends nothing new; once every batch on the
/// wire has settled they go out again first, in call order, their script loaded again.
#[derive(Default)]
struct LostScriptCalls {
    any: AtomicBool,
    calls: Mutex<Vec<(u64, Vec<Request>)>>,
}

impl LostScriptCalls {
    fn any(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    fn add(&self, seq: u64, calls: Vec<Request>) {
        lock(&self.calls).push((seq, calls));
        self.any.store(true, Ordering::Release);
    }

    fn take(&self) -> Vec<Request> {
        let mut batches = std::mem::take(&mut *lock(&self.calls));
        self.any.store(false, Ordering::Release);
        batches.sort_by_key(|(seq, _)| *seq);
        batches.into_iter().flat_map(|(_, calls)| calls).collect()
    }
}

/// The replies to a batch sent as one pipelined write, and per script call whether
/// its `SCRIPT LOAD` went first.
type Sent = Result<(Vec<Value>, Vec<bool>), LayerError>;

async fn send(
    connection: &ManagedConnection,
    scripts: &LoadedScripts,
    generation: u64,
    batch: &[Request],
) -> Sent {
    let mut pipe = redis::pipe();
    let mut loads = Vec::new();
    {
        let mut known = None;
        for request in batch {
            let load = match &request.shape {
                Shape::Script { script, .. } => {
                    let known = known.get_or_insert_with(|| scripts.on(generation));
                    let load =
                        known.advance(script.handle, ScriptState::Loaded) != ScriptState::Loaded;
                    loads.push(load);
                    load
                }
                _ => false,
            };
            request.shape.pack_into(&mut pipe, load);
        }
    }
    let expected = batch
        .iter()
        .map(|request| request.shape.reply_count())
        .sum::<usize>()
        + loads.iter().filter(|&&load| load).count();
    let replies = connection
        .run(|mut socket| async move { socket.req_packed_commands(&pipe, 0, expected).await })
        .await?;
    if replies.len() != expected {
        return Err(LayerError::new(
            ErrorCode::Protocol,
            format!(
                "expected {expected} replies from Redis, got {}",
                replies.len()
            ),
        ));
    }
    Ok((replies, loads))
}

/// Completes the batch's calls in order; a script call the server did not know goes
/// to `unknown`, and those it hands back are returned, in call order.
fn settle_all(
    batch: Vec<Request>,
    sent: Sent,
    connection: &ManagedConnection,
    mut unknown: impl FnMut(Request) -> Option<Request>,
) -> Vec<Request> {
    let (replies, loads) = match sent {
        Ok(sent) => sent,
        Err(error) => {
            fail_all(batch, &error);
            return Vec::new();
        }
    };
    let mut replies = replies.into_iter();
    let mut loads = loads.into_iter();
    batch
        .into_iter()
        .filter_map(|request| settle(request, &mut replies, &mut loads, connection))
        .filter_map(&mut unknown)
        .collect()
}

fn no_script() -> LayerError {
    LayerError::new(
        ErrorCode::Server,
        "NOSCRIPT: Redis lost the script again right after loading it",
    )
}

fn fail_all(batch: Vec<Request>, error: &LayerError) {
    for request in batch {
        request.guard.finish(Err(error.clone()));
    }
}

/// Completes one call from its replies; hands back a script call the server did not know.
fn settle(
    request: Request,
    replies: &mut impl Iterator<Item = Value>,
    loads: &mut impl Iterator<Item = bool>,
    connection: &ManagedConnection,
) -> Option<Request> {
    let Request { shape, guard } = request;
    match shape {
        Shape::Single(_) => guard.finish(single(replies.next(), connection)),
        Shape::JsonArray(_) => guard.finish(json(single_value(replies.next(), connection))),
        Shape::Pipeline(commands) => {
            let list = replies.take(commands.len()).map(Reply::from).collect();
            guard.finish(Ok(Reply::List(list)));
        }
        Shape::Transaction(commands) => {
            let exec = replies.take(commands.len() + 2).last();
            guard.finish(single(exec, connection));
        }
        Shape::Script { script, keys, args } => {
            let load = match loads.next() {
                Some(true) => replies.next(),
                _ => None,
            };
            match (load, replies.next()) {
                (load, Some(Value::ServerError(error))) if error.code() == "NOSCRIPT" => {
                    if let Some(Value::ServerError(load_error)) = load {
                        // A script that does not compile: its SCRIPT LOAD says why.
                        guard.finish(Err(LayerError::from_server(&load_error)));
                    } else {
                        let shape = Shape::Script { script, keys, args };
                        return Some(Request { shape, guard });
                    }
                }
                (_, reply) => guard.finish(single(reply, connection)),
            }
        }
    }
    None
}

fn single(reply: Option<Value>, connection: &ManagedConnection) -> Outcome {
    single_value(reply, connection).map(Reply::from)
}

fn single_value(reply: Option<Value>, connection: &ManagedConnection) -> Result<Value, LayerError> {
    match reply {
        Some(value) => error_reply(value).inspect_err(|error| connection.notice(error)),
        None => Err(LayerError::new(
            ErrorCode::Protocol,
            "missing reply from Redis",
        )),
    }
}

fn json(reply: Result<Value, LayerError>) -> Outcome {
    reply.map(crate::json_array::json_array)
}

/// On a cluster the batch's calls go out at once, each on its own.
async fn run_cluster_batch(
    connection: &ManagedConnection,
    scripts: &LoadedScripts,
    batch: Vec<Request>,
) {
    join_all(
        batch
            .into_iter()
            .map(|request| run_in_cluster(connection, scripts, request)),
    )
    .await;
}

async fn run_in_cluster(connection: &ManagedConnection, scripts: &LoadedScripts, request: Request) {
    let Request { shape, guard } = request;
    let outcome = match shape {
        Shape::Single(command) => cluster::query(connection, command).await.map(Reply::from),
        Shape::JsonArray(command) => json(cluster::query(connection, command).await),
        Shape::Pipeline(commands) => {
            cluster::pipeline(connection, commands, |error| Reply::Error(error.message))
                .await
                .map(Reply::List)
        }
        Shape::Transaction(commands) => cluster::transaction(connection, commands)
            .await
            .map(|values| Reply::List(values.into_iter().map(Reply::from).collect())),
        Shape::Script { script, keys, args } => {
            script_in_cluster(connection, scripts, &script, &keys, &args)
                .await
                .map(Reply::from)
        }
    };
    guard.finish(outcome);
}

/// A script call on a cluster, routed by its key. Until a `SCRIPT LOAD` on every
/// node has succeeded (the first call starts it) calls carry the source (`EVAL`),
/// which runs on its node in order and caches it there.
async fn script_in_cluster(
    connection: &ManagedConnection,
    scripts: &LoadedScripts,
    script: &LuaScript,
    keys: &[String],
    args: &[String],
) -> Result<Value, LayerError> {
    let generation = connection.current()?.1;
    let was = scripts
        .on(generation)
        .advance(script.handle, ScriptState::Loading);
    let reply = match was {
        ScriptState::Loaded => cluster::query_script(connection, script.evalsha(keys, args)).await,
        ScriptState::Loading => cluster::query_script(connection, script.eval(keys, args)).await,
        ScriptState::Unknown => {
            let (reply, loaded) = join(
                cluster::query_script(connection, script.eval(keys, args)),
                cluster::query(connection, script.load()),
            )
            .await;
            let state = if loaded.is_ok() {
                ScriptState::Loaded
            } else {
                ScriptState::Unknown
            };
            scripts.set(generation, script.handle, state);
            reply
        }
    };
    match reply? {
        Some(value) => Ok(value),
        // A node that lost it (SCRIPT FLUSH, or a new node after resharding).
        None => {
            scripts.set(generation, script.handle, ScriptState::Unknown);
            cluster::query(connection, script.eval(keys, args)).await
        }
    }
}
