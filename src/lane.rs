//! One ordered lane per socket. Calls leave in the order JavaScript made them
//! (as with node-redis and ioredis: an un-awaited `set` then `get` sees the write),
//! as pipelined writes of whatever has queued since the last one. Replies are matched
//! back to calls by position.
//!
//! Several batches may be in flight, so the server works on one while JavaScript
//! handles the replies of the previous one (with a single batch in flight the two
//! took turns, and each sat idle half the time). Order holds because each batch is
//! polled once, which hands its bytes to redis-rs' FIFO send queue, before the next
//! batch is made; a full queue parks senders in FIFO order too.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use futures_util::future::join_all;
use futures_util::stream::{FuturesUnordered, StreamExt};
use redis::aio::ConnectionLike;
use redis::cluster_routing::Slot;
use redis::{Cmd, Pipeline, Script, Value};
use redis_layer_core::{ErrorCode, LayerError, ManagedConnection};
use tokio::sync::mpsc;

use crate::dispatch::{CompletionGuard, Outcome};
use crate::reply::Reply;

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
        script: Arc<Script>,
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

    fn pack_into(&self, pipe: &mut Pipeline) {
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
                pipe.cmd("EVALSHA")
                    .arg(script.get_hash())
                    .arg(keys.len())
                    .arg(keys)
                    .arg(args);
            }
        }
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

    /// Queues calls in order. One send per JavaScript submission: per-call sends woke
    /// the I/O thread mid-submission, and it then fought the JS thread for the queue.
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
    let mut in_flight = FuturesUnordered::new();
    let mut submissions = Vec::new();
    let mut waiting: VecDeque<Request> = VecDeque::new();
    loop {
        while !waiting.is_empty() && in_flight.len() < MAX_IN_FLIGHT {
            let take = waiting.len().min(CHUNK);
            let batch: Vec<Request> = waiting.drain(..take).collect();
            let mut running: Pin<Box<dyn Future<Output = ()> + Send + '_>> =
                Box::pin(run_batch(&connection, batch));
            // The first poll queues the batch's write; only then may the next batch start.
            let started =
                std::future::poll_fn(|context| Poll::Ready(running.as_mut().poll(context)));
            if started.await.is_pending() {
                in_flight.push(running);
            }
        }
        tokio::select! {
            biased;
            Some(()) = in_flight.next(), if !in_flight.is_empty() => {}
            received = receiver.recv_many(&mut submissions, MAX_SUBMISSIONS), if waiting.is_empty() => {
                if received == 0 {
                    while in_flight.next().await.is_some() {}
                    return;
                }
                for submission in submissions.drain(..) {
                    waiting.extend(submission);
                }
            }
        }
    }
}

async fn run_batch(connection: &ManagedConnection, batch: Vec<Request>) {
    match connection.current() {
        Err(error) => return fail_all(batch, &error),
        Ok((socket, _)) if socket.is_cluster() => {
            return run_cluster_batch(connection, batch).await
        }
        Ok(_) => {}
    }
    let expected: usize = batch
        .iter()
        .map(|request| request.shape.reply_count())
        .sum();
    let mut pipe = redis::pipe();
    for request in &batch {
        request.shape.pack_into(&mut pipe);
    }
    let result = connection
        .run(|mut socket| async move { socket.req_packed_commands(&pipe, 0, expected).await })
        .await;
    let replies = match result {
        Ok(replies) if replies.len() == expected => replies,
        Ok(replies) => {
            let error = LayerError::new(
                ErrorCode::Protocol,
                format!(
                    "expected {expected} replies from Redis, got {}",
                    replies.len()
                ),
            );
            return fail_all(batch, &error);
        }
        Err(error) => return fail_all(batch, &error),
    };
    let mut replies = replies.into_iter();
    for request in batch {
        settle(request, &mut replies, connection);
    }
}

fn fail_all(batch: Vec<Request>, error: &LayerError) {
    for request in batch {
        request.guard.finish(Err(error.clone()));
    }
}

fn settle(
    request: Request,
    replies: &mut impl Iterator<Item = Value>,
    connection: &ManagedConnection,
) {
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
        Shape::Script { script, keys, args } => match replies.next() {
            Some(Value::ServerError(error)) if error.code() == "NOSCRIPT" => {
                // First run on this server (or after SCRIPT FLUSH): load and run it once
                // outside the lane; later calls find it cached.
                let connection = connection.clone();
                tokio::spawn(async move {
                    let outcome = connection
                        .run(|mut socket| async move {
                            let mut invocation = script.prepare_invoke();
                            invocation.key(keys).arg(args);
                            invocation.invoke_async::<Value>(&mut socket).await
                        })
                        .await
                        .map(Reply::from);
                    guard.finish(outcome);
                });
            }
            other => guard.finish(single(other, connection)),
        },
    }
}

fn single(reply: Option<Value>, connection: &ManagedConnection) -> Outcome {
    single_value(reply, connection).map(Reply::from)
}

fn single_value(reply: Option<Value>, connection: &ManagedConnection) -> Result<Value, LayerError> {
    match reply {
        Some(Value::ServerError(error)) => {
            let error = LayerError::from_server(&error);
            connection.notice(&error);
            Err(error)
        }
        Some(value) => Ok(value),
        None => Err(LayerError::new(
            ErrorCode::Protocol,
            "missing reply from Redis",
        )),
    }
}

fn json(reply: Result<Value, LayerError>) -> Outcome {
    reply.map(crate::json_array::json_array)
}

/// A cluster pipeline must stay within one slot (redis-rs routes it by its first
/// key), so on a cluster every call goes out on its own and redis-rs routes it;
/// a transaction is split per slot: atomic within each slot, never a CROSSSLOT error.
async fn run_cluster_batch(connection: &ManagedConnection, batch: Vec<Request>) {
    join_all(
        batch
            .into_iter()
            .map(|request| run_in_cluster(connection, request)),
    )
    .await;
}

async fn run_in_cluster(connection: &ManagedConnection, request: Request) {
    let Request { shape, guard } = request;
    let outcome = match shape {
        Shape::Single(command) => query(connection, command).await.map(Reply::from),
        Shape::JsonArray(command) => json(query(connection, command).await),
        Shape::Pipeline(commands) if one_slot(&commands) => {
            // Routed as a whole by its first key, so keyless commands such as WAIT run
            // on the node that took the writes before them.
            let count = commands.len();
            let mut pipe = redis::pipe();
            for command in commands {
                pipe.add_command(command);
            }
            connection
                .run(|mut socket| async move { socket.req_packed_commands(&pipe, 0, count).await })
                .await
                .map(|values| Reply::List(values.into_iter().map(Reply::from).collect()))
        }
        Shape::Pipeline(commands) => {
            let replies = join_all(
                commands
                    .into_iter()
                    .map(|command| query(connection, command)),
            )
            .await;
            Ok(Reply::List(replies.into_iter().map(inline).collect()))
        }
        Shape::Transaction(commands) => transaction_per_slot(connection, commands).await,
        Shape::Script { script, keys, args } => connection
            .run(|mut socket| async move {
                let mut invocation = script.prepare_invoke();
                invocation.key(keys).arg(args);
                invocation.invoke_async::<Value>(&mut socket).await
            })
            .await
            .map(Reply::from),
    };
    guard.finish(outcome);
}

async fn query(connection: &ManagedConnection, command: Cmd) -> Result<Value, LayerError> {
    connection
        .run(|mut socket| async move { socket.req_packed_command(&command).await })
        .await
        .and_then(|value| match value {
            Value::ServerError(error) => Err(LayerError::from_server(&error)),
            value => Ok(value),
        })
}

fn inline(result: Result<Value, LayerError>) -> Reply {
    match result {
        Ok(value) => Reply::from(value),
        Err(error) => Reply::Error(error.message),
    }
}

fn first_key_slot(command: &Cmd) -> Option<Slot> {
    command.args_iter().nth(1).and_then(|arg| match arg {
        redis::Arg::Simple(key) => Some(Slot::for_key(key)),
        _ => None,
    })
}

/// Whether every command naming a key names one in the same slot (keyless ones,
/// such as WAIT, go along).
fn one_slot(commands: &[Cmd]) -> bool {
    let mut slots = commands
        .iter()
        .filter(|command| !is_keyless(command))
        .filter_map(first_key_slot);
    match slots.next() {
        Some(first) => slots.all(|slot| slot == first),
        None => false,
    }
}

fn is_keyless(command: &Cmd) -> bool {
    matches!(
        command.args_iter().next(),
        Some(redis::Arg::Simple(name)) if name.eq_ignore_ascii_case(b"WAIT") || name.eq_ignore_ascii_case(b"PING")
    )
}

async fn transaction_per_slot(connection: &ManagedConnection, commands: Vec<Cmd>) -> Outcome {
    let mut groups: Vec<(Option<Slot>, Vec<usize>)> = Vec::new();
    for (index, command) in commands.iter().enumerate() {
        let slot = first_key_slot(command);
        match groups
            .iter_mut()
            .find(|(known, _)| known.is_none() || slot.is_none() || *known == slot)
        {
            Some((known, members)) => {
                if known.is_none() {
                    *known = slot;
                }
                members.push(index);
            }
            None => groups.push((slot, vec![index])),
        }
    }
    let runs = groups.iter().map(|(_, members)| {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for &index in members {
            pipe.add_command(commands[index].clone());
        }
        async move {
            connection
                .run(|mut socket| async move { pipe.query_async::<Vec<Value>>(&mut socket).await })
                .await
        }
    });
    let results = join_all(runs).await;
    let mut replies: Vec<Option<Reply>> = (0..commands.len()).map(|_| None).collect();
    for ((_, members), result) in groups.iter().zip(results) {
        let values = result?;
        for (&index, value) in members.iter().zip(values) {
            replies[index] = Some(Reply::from(value));
        }
    }
    Ok(Reply::List(
        replies
            .into_iter()
            .map(|reply| reply.unwrap_or(Reply::Nil))
            .collect(),
    ))
}
