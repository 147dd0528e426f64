//! One ordered lane per socket. Calls leave in the order JavaScript made them
//! (as with node-redis and ioredis: an un-awaited `set` then `get` sees the write),
//! and everything queued while a batch is on the wire leaves together as the next
//! pipelined write, so batches grow with load. Replies are matched back to calls by
//! position.
//!
//! One batch in flight is deliberate: with several (tried with FuturesUnordered)
//! redis-rs' send queue let later batches overtake earlier ones, and the measured
//! throughput was lower, not higher, because batches stayed small.

use std::sync::Arc;

use redis::{Cmd, Pipeline, Script, Value};
use redis_layer_core::{ErrorCode, LayerError, ManagedConnection};
use tokio::sync::mpsc;

use crate::dispatch::{CompletionGuard, Outcome};
use crate::reply::Reply;

/// Calls per pipelined write; more waiting calls form the next batch.
const MAX_BATCH: usize = 512;

pub enum Shape {
    Single(Cmd),
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
            Shape::Single(_) | Shape::Script { .. } => 1,
            Shape::Pipeline(commands) => commands.len(),
            // MULTI and EXEC answer too.
            Shape::Transaction(commands) => commands.len() + 2,
        }
    }

    fn pack_into(&self, pipe: &mut Pipeline) {
        match self {
            Shape::Single(command) => {
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
    sender: mpsc::UnboundedSender<Request>,
}

impl Lane {
    pub fn start(connection: ManagedConnection) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        napi::bindgen_prelude::spawn(drive(receiver, connection));
        Self { sender }
    }

    pub fn send(&self, request: Request) {
        if let Err(mpsc::error::SendError(request)) = self.sender.send(request) {
            request.guard.finish(Err(LayerError::new(
                ErrorCode::Closed,
                "Redis connection is closed",
            )));
        }
    }
}

async fn drive(mut receiver: mpsc::UnboundedReceiver<Request>, connection: ManagedConnection) {
    loop {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        if receiver.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        run_batch(&connection, batch).await;
    }
}

async fn run_batch(connection: &ManagedConnection, batch: Vec<Request>) {
    let expected: usize = batch
        .iter()
        .map(|request| request.shape.reply_count())
        .sum();
    let mut pipe = redis::pipe();
    for request in &batch {
        request.shape.pack_into(&mut pipe);
    }
    let result = connection
        .run(|mut socket| async move { socket.send_packed_commands(&pipe, 0, expected).await })
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
        Shape::Single(_) => guard.finish(single(replies.next())),
        Shape::Pipeline(commands) => {
            let list = replies.take(commands.len()).map(Reply::from).collect();
            guard.finish(Ok(Reply::List(list)));
        }
        Shape::Transaction(commands) => {
            let exec = replies.take(commands.len() + 2).last();
            guard.finish(single(exec));
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
            other => guard.finish(single(other)),
        },
    }
}

fn single(reply: Option<Value>) -> Outcome {
    match reply {
        Some(Value::ServerError(error)) => {
            Err(LayerError::new(ErrorCode::Server, error.to_string()))
        }
        Some(value) => Ok(Reply::from(value)),
        None => Err(LayerError::new(
            ErrorCode::Protocol,
            "missing reply from Redis",
        )),
    }
}
