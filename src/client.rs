//! `NativeClient`: one Redis socket and the operations JavaScript can queue on it.
//! Every operation takes a caller-chosen id and finishes through the batched
//! completion queue (see `completions`), never through a promise of its own.

use std::cell::{Ref, RefCell};
use std::future::Future;
use std::sync::Arc;

use napi::bindgen_prelude::{Array, Function};
use napi::Env;
use napi_derive::napi;
use redis::Value;
use redis_layer_core::scan;
use redis_layer_core::{AnyConnection, ErrorCode, ManagedConnection};

use crate::callbacks::{self, EventRelay};
use crate::completions::{Columns, CompletionSink};
use crate::errors::{closed, ErrorCodeName};
use crate::lane::{Lane, Request};
use crate::options::NativeOptions;
use crate::records;
use crate::reply::Reply;

#[napi]
pub struct NativeClient {
    connection: ManagedConnection,
    events: Arc<EventRelay>,
    /// `None` once closed: the completion callback then goes with the last call in flight.
    open: RefCell<Option<Open>>,
}

/// What queues and answers calls while the socket is open.
struct Open {
    sink: Arc<CompletionSink>,
    lane: Lane,
}

#[napi]
impl NativeClient {
    #[napi(constructor, catch_unwind)]
    pub fn new(
        options: NativeOptions,
        #[napi(
            ts_arg_type = "(batch: [ids: Uint32Array, failed: Uint8Array, payloads: unknown[]]) => void"
        )]
        on_batch: Function<'_, Columns, ()>,
        #[napi(
            ts_arg_type = "(event: [level: string, message: string, kind?: 'connected' | 'reconnected' | 'disconnected' | 'reconnect-failed']) => void"
        )]
        on_event: Function<'_, Vec<String>, ()>,
    ) -> napi::Result<Self> {
        let (connection, events) = callbacks::connection(options, on_event, None)?;
        let open = Open {
            lane: Lane::start(connection.clone()),
            sink: CompletionSink::new(on_batch)?,
        };
        Ok(Self {
            connection,
            events,
            open: RefCell::new(Some(open)),
        })
    }

    #[napi(getter)]
    pub fn is_connected(&self) -> bool {
        self.connection.is_connected()
    }

    #[napi(catch_unwind)]
    pub fn connect(&self, env: &Env, id: u32) -> napi::Result<(), ErrorCodeName> {
        self.open()?.sink.connect(env, id, self.connection.clone());
        Ok(())
    }

    /// Ends the socket and gives up its callbacks into JavaScript; calls in flight
    /// still settle (they fail, the socket being closed), later calls throw.
    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.connection.close();
        // The lane drains what was queued; the sink goes when its last call settles.
        drop(self.open.borrow_mut().take());
        self.events.close();
    }

    /// Queues many operations in one call, in order: a flat array of records
    /// `[kind, id, ...fields]` (see `OpKind`). A record whose fields do not convert
    /// fails alone, with an error through its id. `timed` asks for each call's time in
    /// the native lane and on the wire with its result (see `Columns`).
    #[napi(catch_unwind, ts_args_type = "ops: unknown[], timed?: boolean")]
    pub fn submit_batch(
        &self,
        env: &Env,
        ops: Array,
        timed: Option<bool>,
    ) -> napi::Result<(), ErrorCodeName> {
        let open = self.open()?;
        let submitted = (timed == Some(true)).then(std::time::Instant::now);
        let mut requests = Vec::new();
        // What parsed before a malformed record still goes out, in order.
        let parsed = records::parse(&ops, |id, shape| {
            let mut guard = open.sink.begin(env, id);
            if let Some(submitted) = submitted {
                guard.time_from(submitted);
            }
            match shape {
                Ok(shape) => requests.push(Request { shape, guard }),
                Err(error) => guard.finish(Err(error)),
            }
        });
        open.lane.send(requests);
        parsed.map_err(|error| {
            napi::Error::new(ErrorCodeName(ErrorCode::InvalidArgument), error.reason)
        })
    }

    /// Panics on purpose, inside the operation's task or right here, so the test
    /// suite can prove a panic rejects a promise instead of killing Node.
    #[napi(catch_unwind)]
    pub fn panic_for_testing(
        &self,
        env: &Env,
        id: u32,
        in_task: bool,
    ) -> napi::Result<(), ErrorCodeName> {
        if !in_task {
            panic!("deliberate panic on the JS thread");
        }
        self.open()?
            .sink
            .spawn(env, id, self.connection.clone(), |_| async move {
                panic!("deliberate panic inside an operation");
            });
        Ok(())
    }

    /// Deletes every key matching `pattern` with SCAN + UNLINK in batches of about
    /// `count`, never KEYS; resolves to the number of keys removed.
    #[napi(catch_unwind)]
    pub fn scan_delete(
        &self,
        env: &Env,
        id: u32,
        pattern: String,
        count: u32,
    ) -> napi::Result<(), ErrorCodeName> {
        self.run(env, id, move |connection| async move {
            scan::scan_delete(connection, &pattern, count.max(1))
                .await
                .map(Value::Int)
        })
    }

    /// One page of a key scan (every master in turn on a cluster): resolves to
    /// `[nextCursor, keys]`, the scan being over when `nextCursor` is `"0"`.
    #[napi(catch_unwind)]
    pub fn scan_page(
        &self,
        env: &Env,
        id: u32,
        cursor: String,
        pattern: Option<String>,
        count: u32,
        kind: Option<String>,
    ) -> napi::Result<(), ErrorCodeName> {
        self.run(env, id, move |connection| async move {
            let (next, keys) = scan::scan_page(
                connection,
                &cursor,
                pattern.as_deref(),
                count,
                kind.as_deref(),
            )
            .await?;
            Ok(Value::Array(vec![
                Value::BulkString(next.into_bytes()),
                Value::Array(keys),
            ]))
        })
    }
}

impl NativeClient {
    fn open(&self) -> Result<Ref<'_, Open>, napi::Error<ErrorCodeName>> {
        Ref::filter_map(self.open.borrow(), Option::as_ref).map_err(|_| closed("Redis connection"))
    }

    /// Runs an operation that is not a command of the lane (it takes the connection
    /// itself) as call `id`, its Redis value the call's reply.
    fn run<F, Fut>(&self, env: &Env, id: u32, operation: F) -> napi::Result<(), ErrorCodeName>
    where
        F: FnOnce(AnyConnection) -> Fut + Send + 'static,
        Fut: Future<Output = redis::RedisResult<Value>> + Send + 'static,
    {
        self.open()?.sink.spawn(
            env,
            id,
            self.connection.clone(),
            move |connection| async move { connection.run(operation).await.map(Reply::from) },
        );
        Ok(())
    }
}
