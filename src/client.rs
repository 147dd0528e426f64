//! `NativeClient`: one Redis socket and the operations JavaScript can queue on it.
//! Every operation takes a caller-chosen id and finishes through the batched
//! completion queue (see `dispatch`), never through a promise of its own.

use std::future::Future;
use std::sync::Arc;

use napi::bindgen_prelude::Function;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};
use napi_derive::napi;
use redis::{RedisResult, Value};
use redis_layer_core::managed::EventSink;
use redis_layer_core::scan;
use redis_layer_core::{
    AnyConnection, ConnectionConfig, ErrorCode, Event, LayerError, ManagedConnection,
};

use crate::dispatch::{Batch, CompletionGuard, CompletionSink, Outcome};
use crate::lane::{Lane, Request, Shape};
use crate::options::NativeOptions;
use crate::reply::Reply;
use crate::scripts;

type EventCallback = ThreadsafeFunction<Vec<String>, (), Vec<String>, Status, false, true>;

#[napi]
pub struct NativeClient {
    connection: ManagedConnection,
    sink: Arc<CompletionSink>,
    lane: Lane,
}

#[napi]
impl NativeClient {
    #[napi(constructor, catch_unwind)]
    pub fn new(
        options: NativeOptions,
        #[napi(ts_arg_type = "(batch: unknown[]) => void")] on_batch: Function<'_, Batch, ()>,
        #[napi(ts_arg_type = "(event: [level: string, message: string]) => void")]
        on_event: Function<'_, Vec<String>, ()>,
    ) -> napi::Result<Self> {
        let events: EventCallback = on_event
            .build_threadsafe_function::<Vec<String>>()
            .weak::<true>()
            .callee_handled::<false>()
            .build()?;
        let sink: EventSink = Arc::new(move |event: Event| {
            let (level, message) = describe(event);
            events.call(
                vec![level.to_string(), message],
                ThreadsafeFunctionCallMode::NonBlocking,
            );
        });
        let connection = ManagedConnection::new(ConnectionConfig::from(options), sink, None);
        Ok(Self {
            lane: Lane::start(connection.clone()),
            connection,
            sink: Arc::new(CompletionSink::new(on_batch)?),
        })
    }

    #[napi(getter)]
    pub fn is_connected(&self) -> bool {
        self.connection.is_connected()
    }

    #[napi(catch_unwind)]
    pub fn connect(&self, env: &Env, id: u32) {
        self.submit(env, id, |connection| async move {
            connection.connect().await.map(|()| Reply::Nil)
        });
    }

    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.connection.close();
    }

    #[napi(catch_unwind)]
    pub fn get(&self, env: &Env, id: u32, key: String) {
        let mut command = redis::cmd("GET");
        command.arg(key);
        self.enqueue(env, id, Shape::Single(command));
    }

    #[napi(catch_unwind)]
    pub fn set(&self, env: &Env, id: u32, key: String, value: String, ttl_seconds: Option<i64>) {
        let mut command = redis::cmd("SET");
        command.arg(key).arg(value);
        if let Some(ttl) = ttl_seconds {
            command.arg("EX").arg(ttl);
        }
        self.enqueue(env, id, Shape::Single(command));
    }

    /// Any command, as `[name, ...args]`.
    #[napi(catch_unwind)]
    pub fn command(&self, env: &Env, id: u32, args: Vec<String>) {
        if args.is_empty() {
            return self.reject(env, id, "sendCommand needs at least a command name");
        }
        self.enqueue(env, id, Shape::Single(to_command(&args)));
    }

    /// Several commands in one round trip; `atomic` wraps them in MULTI/EXEC.
    /// Errors of single commands come back in place, as Error objects.
    #[napi(catch_unwind)]
    pub fn pipeline(&self, env: &Env, id: u32, commands: Vec<Vec<String>>, atomic: bool) {
        if commands.iter().any(Vec::is_empty) {
            return self.reject(env, id, "every pipelined command needs a name");
        }
        let commands: Vec<redis::Cmd> = commands.iter().map(|args| to_command(args)).collect();
        let shape = if atomic {
            Shape::Transaction(commands)
        } else {
            Shape::Pipeline(commands)
        };
        self.enqueue(env, id, shape);
    }

    /// Runs a script registered with `registerScript`.
    #[napi(catch_unwind)]
    pub fn script(&self, env: &Env, id: u32, handle: u32, keys: Vec<String>, args: Vec<String>) {
        let Some(script) = scripts::script(handle) else {
            return self.reject(env, id, "unknown script handle");
        };
        self.enqueue(env, id, Shape::Script { script, keys, args });
    }

    /// Panics on purpose, inside the operation's task or right here, so the test
    /// suite can prove a panic rejects a promise instead of killing Node.
    #[napi(catch_unwind)]
    pub fn panic_for_testing(&self, env: &Env, id: u32, in_task: bool) {
        if !in_task {
            panic!("deliberate panic on the JS thread");
        }
        self.submit(env, id, |_| async move {
            panic!("deliberate panic inside an operation");
        });
    }

    /// Deletes every key matching `pattern` with SCAN + UNLINK in batches of about
    /// `count`, never KEYS; resolves to the number of keys removed.
    #[napi(catch_unwind)]
    pub fn scan_delete(&self, env: &Env, id: u32, pattern: String, count: u32) {
        self.query(env, id, move |connection| async move {
            scan::scan_delete(connection, &pattern, count.max(1))
                .await
                .map(Value::Int)
        });
    }
}

impl NativeClient {
    /// Queues a command on the ordered lane (see `lane`).
    fn enqueue(&self, env: &Env, id: u32, shape: Shape) {
        self.sink.begin(env);
        let guard = CompletionGuard::new(self.sink.clone(), id);
        self.lane.send(Request { shape, guard });
    }

    /// Runs an operation on its own task: for multi-step work (connect, SCAN loops)
    /// that must not hold up the lane.
    fn submit<F, Fut>(&self, env: &Env, id: u32, operation: F)
    where
        F: FnOnce(ManagedConnection) -> Fut + Send + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        self.sink.begin(env);
        let guard = CompletionGuard::new(self.sink.clone(), id);
        let connection = self.connection.clone();
        napi::bindgen_prelude::spawn(async move {
            let outcome = operation(connection).await;
            guard.finish(outcome);
        });
    }

    fn query<F, Fut>(&self, env: &Env, id: u32, operation: F)
    where
        F: FnOnce(AnyConnection) -> Fut + Send + 'static,
        Fut: Future<Output = RedisResult<Value>> + Send + 'static,
    {
        self.submit(env, id, |connection| async move {
            connection.run(operation).await.map(Reply::from)
        });
    }

    fn reject(&self, env: &Env, id: u32, message: &'static str) {
        self.submit(env, id, move |_| async move {
            Err(LayerError::new(ErrorCode::InvalidArgument, message))
        });
    }
}

fn to_command(args: &[String]) -> redis::Cmd {
    let mut command = redis::cmd(&args[0]);
    command.arg(&args[1..]);
    command
}

fn describe(event: Event) -> (&'static str, String) {
    match event {
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
