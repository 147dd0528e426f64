//! `NativeClient`: one Redis socket and the operations JavaScript can queue on it.
//! Every operation takes a caller-chosen id and finishes through the batched
//! completion queue (see `dispatch`), never through a promise of its own.

use std::cell::{Ref, RefCell};
use std::future::Future;
use std::sync::Arc;

use napi::bindgen_prelude::{Array, FromNapiValue, Function, JsValue};
use napi::sys;
use napi::Env;
use napi_derive::napi;
use redis::{Cmd, RedisResult, Value};
use redis_layer_core::scan;
use redis_layer_core::{AnyConnection, ConnectionConfig, ErrorCode, LayerError, ManagedConnection};

use crate::dispatch::{
    closed, Columns, CompletionGuard, CompletionSink, ErrorCodeName, EventRelay, Outcome,
};
use crate::lane::{Lane, Request, Shape};
use crate::options::NativeOptions;
use crate::reply::Reply;
use crate::scripts;

#[napi]
pub struct NativeClient {
    connection: ManagedConnection,
    events: Arc<EventRelay>,
    /// `None` once closed: the completion callback then goes with the last call in flight.
    open: RefCell<Option<Open>>,
}

/// What queues and answers calls while the socket is open.
struct Open {
    connection: ManagedConnection,
    sink: Arc<CompletionSink<Columns>>,
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
        #[napi(ts_arg_type = "(event: [level: string, message: string]) => void")]
        on_event: Function<'_, Vec<String>, ()>,
    ) -> napi::Result<Self> {
        let events = EventRelay::new(on_event)?;
        let connection =
            ManagedConnection::new(ConnectionConfig::from(options), events.sink(), None);
        let open = Open {
            lane: Lane::start(connection.clone()),
            connection: connection.clone(),
            sink: Arc::new(CompletionSink::new(on_batch)?),
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
        self.open()?.submit(env, id, |connection| async move {
            connection.connect().await.map(|()| Reply::Nil)
        });
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

    #[napi(catch_unwind)]
    pub fn get(&self, env: &Env, id: u32, key: String) -> napi::Result<(), ErrorCodeName> {
        let mut command = redis::cmd("GET");
        command.arg(key);
        self.open()?.enqueue(env, id, Ok(Shape::Single(command)));
        Ok(())
    }

    #[napi(catch_unwind)]
    pub fn set(
        &self,
        env: &Env,
        id: u32,
        key: String,
        value: String,
        ttl_seconds: Option<i64>,
    ) -> napi::Result<(), ErrorCodeName> {
        let shape = Shape::Single(set_command(key, value, ttl_seconds));
        self.open()?.enqueue(env, id, Ok(shape));
        Ok(())
    }

    /// Any command, as `[name, ...args]`.
    #[napi(catch_unwind)]
    pub fn command(
        &self,
        env: &Env,
        id: u32,
        args: Vec<String>,
    ) -> napi::Result<(), ErrorCodeName> {
        let shape = if args.is_empty() {
            Err(invalid("sendCommand needs at least a command name"))
        } else {
            Ok(Shape::Single(to_command(&args)))
        };
        self.open()?.enqueue(env, id, shape);
        Ok(())
    }

    /// Several commands in one round trip; `atomic` wraps them in MULTI/EXEC.
    /// Errors of single commands come back in place, as Error objects.
    #[napi(catch_unwind)]
    pub fn pipeline(
        &self,
        env: &Env,
        id: u32,
        commands: Vec<Vec<String>>,
        atomic: bool,
    ) -> napi::Result<(), ErrorCodeName> {
        self.open()?
            .enqueue(env, id, pipeline_shape(&commands, atomic));
        Ok(())
    }

    /// Queues many operations in one call, in order: a flat array of records
    /// `[kind, id, ...fields]` (see `Kind`). One crossing per microtask instead of one
    /// per command is most of what JavaScript used to pay to submit. A record whose
    /// fields do not convert fails alone, with an error through its id.
    #[napi(catch_unwind, ts_args_type = "ops: unknown[]")]
    pub fn submit_batch(&self, env: &Env, ops: Array) -> napi::Result<(), ErrorCodeName> {
        let open = self.open()?;
        let mut requests = Vec::new();
        // What parsed before a malformed record still goes out, in order.
        let parsed = open.parse_records(env, &ops, &mut requests);
        open.lane.send(requests);
        parsed.map_err(|error| {
            napi::Error::new(ErrorCodeName(ErrorCode::InvalidArgument), error.reason)
        })
    }

    /// Runs a script registered with `registerScript`.
    #[napi(catch_unwind)]
    pub fn script(
        &self,
        env: &Env,
        id: u32,
        handle: u32,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> napi::Result<(), ErrorCodeName> {
        let shape = match scripts::script(handle) {
            Some(script) => Ok(Shape::Script { script, keys, args }),
            None => Err(invalid("unknown script handle")),
        };
        self.open()?.enqueue(env, id, shape);
        Ok(())
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
        self.open()?.submit(env, id, |_| async move {
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
        self.open()?.query(env, id, move |connection| async move {
            scan::scan_delete(connection, &pattern, count.max(1))
                .await
                .map(Value::Int)
        });
        Ok(())
    }
}

impl NativeClient {
    fn open(&self) -> Result<Ref<'_, Open>, napi::Error<ErrorCodeName>> {
        Ref::filter_map(self.open.borrow(), Option::as_ref).map_err(|_| closed("Redis connection"))
    }
}

impl Open {
    fn parse_records(
        &self,
        env: &Env,
        ops: &Array,
        requests: &mut Vec<Request>,
    ) -> napi::Result<()> {
        let records = Records::new(ops);
        let mut index = 0;
        while index < ops.len() {
            let (Some(kind), Some(id)) = (ops.get::<u32>(index)?, ops.get::<u32>(index + 1)?)
            else {
                return Err(napi::Error::new(
                    napi::Status::InvalidArg,
                    "truncated operation record",
                ));
            };
            let at = index + 2;
            let (shape, fields) = match Kind::from_u32(kind) {
                Some(Kind::Get) => (records.command(&["GET"], &[at], None), 1),
                Some(Kind::Set) => {
                    let ttl = records.get::<Option<i64>>(at + 2);
                    let shape = ttl.and_then(|ttl| records.command(&["SET"], &[at, at + 1], ttl));
                    (shape, 3)
                }
                Some(Kind::Command) => (records.command_array(at).map(Shape::Single), 1),
                Some(Kind::JsonArray) => (records.command_array(at).map(Shape::JsonArray), 1),
                Some(Kind::Pipeline) => {
                    let shape = (|| {
                        let commands: Vec<Vec<String>> = records.get(at)?;
                        pipeline_shape(&commands, records.get(at + 1)?)
                    })();
                    (shape, 2)
                }
                Some(Kind::Script) => {
                    let shape = (|| {
                        let script = scripts::script(records.get(at)?)
                            .ok_or_else(|| invalid("unknown script handle"))?;
                        let keys = records.get(at + 1)?;
                        let args = records.get(at + 2)?;
                        Ok(Shape::Script { script, keys, args })
                    })();
                    (shape, 3)
                }
                None => {
                    return Err(napi::Error::new(
                        napi::Status::InvalidArg,
                        format!("unknown operation kind {kind}"),
                    ))
                }
            };
            if let Some(request) = self.request_or_reject(env, id, shape) {
                requests.push(request);
            }
            index = at + fields;
        }
        Ok(())
    }

    /// Queues a command on the ordered lane (see `lane`); a malformed one is rejected.
    fn enqueue(&self, env: &Env, id: u32, shape: Result<Shape, LayerError>) {
        if let Some(request) = self.request_or_reject(env, id, shape) {
            self.lane.send(vec![request]);
        }
    }

    /// The lane request for a well-formed call; a malformed one is rejected at once.
    fn request_or_reject(
        &self,
        env: &Env,
        id: u32,
        shape: Result<Shape, LayerError>,
    ) -> Option<Request> {
        self.sink.begin(env);
        let guard = CompletionGuard::new(self.sink.clone(), id);
        match shape {
            Ok(shape) => Some(Request { shape, guard }),
            Err(error) => {
                guard.finish(Err(error));
                None
            }
        }
    }

    /// Runs an operation on its own task: for multi-step work (connect, SCAN loops)
    /// that must not hold up the lane.
    fn submit<F, Fut>(&self, env: &Env, id: u32, operation: F)
    where
        F: FnOnce(ManagedConnection) -> Fut + Send + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        self.sink.spawn(env, id, self.connection.clone(), operation);
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
}

/// Operation kinds of `submit` records, after `[kind, id]`:
/// get `key`; set `key, value, ttl|undefined`; command `args`;
/// pipeline `commands, atomic`; script `handle, keys, args`.
enum Kind {
    Get,
    Set,
    Command,
    Pipeline,
    Script,
    JsonArray,
}

impl Kind {
    fn from_u32(kind: u32) -> Option<Self> {
        Some(match kind {
            0 => Kind::Get,
            1 => Kind::Set,
            2 => Kind::Command,
            3 => Kind::Pipeline,
            4 => Kind::Script,
            5 => Kind::JsonArray,
            _ => return None,
        })
    }
}

/// Reads `submitBatch` records straight from the JS array. Strings are copied once,
/// from V8 into a reused scratch buffer and from there into the command (no `String`
/// per argument, no zero-filled buffer, no separate UTF-8 length pass for short ones).
struct Records {
    env: sys::napi_env,
    array: sys::napi_value,
}

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; SCRATCH_SIZE]);
}

const SCRATCH_SIZE: usize = 16 * 1024;
const MAX_SCRATCH: usize = 1024 * 1024;

impl Records {
    fn new(ops: &Array) -> Self {
        Self {
            env: ops.value().env,
            array: ops.raw(),
        }
    }

    fn element(&self, array: sys::napi_value, index: u32) -> Result<sys::napi_value, LayerError> {
        let mut raw = std::ptr::null_mut();
        // SAFETY: JS thread, inside the submitBatch call that owns env and array.
        let status = unsafe { sys::napi_get_element(self.env, array, index, &mut raw) };
        if status != sys::Status::napi_ok {
            return Err(invalid("malformed operation record"));
        }
        Ok(raw)
    }

    fn get<T: FromNapiValue>(&self, index: u32) -> Result<T, LayerError> {
        let raw = self.element(self.array, index)?;
        // SAFETY: as in `element`.
        unsafe { T::from_napi_value(self.env, raw) }
            .map_err(|error| LayerError::new(ErrorCode::InvalidArgument, error.reason))
    }

    /// `prefix` then the strings at `fields` of the record array, then `EX ttl`.
    fn command(
        &self,
        prefix: &[&str],
        fields: &[u32],
        ttl: Option<i64>,
    ) -> Result<Shape, LayerError> {
        let values = fields
            .iter()
            .map(|&index| self.element(self.array, index))
            .collect::<Result<Vec<_>, _>>()?;
        let mut command = self.build(prefix, &values)?;
        if let Some(ttl) = ttl {
            command.arg("EX").arg(ttl);
        }
        Ok(Shape::Single(command))
    }

    /// A command given as one `[name, ...args]` array at `index`.
    fn command_array(&self, index: u32) -> Result<Cmd, LayerError> {
        let array = self.element(self.array, index)?;
        let mut length = 0;
        // SAFETY: as in `element`.
        let status = unsafe { sys::napi_get_array_length(self.env, array, &mut length) };
        if status != sys::Status::napi_ok {
            return Err(invalid("a command must be an array of strings"));
        }
        if length == 0 {
            return Err(invalid("sendCommand needs at least a command name"));
        }
        let values = (0..length)
            .map(|i| self.element(array, i))
            .collect::<Result<Vec<_>, _>>()?;
        self.build(&[], &values)
    }

    fn build(&self, prefix: &[&str], values: &[sys::napi_value]) -> Result<redis::Cmd, LayerError> {
        SCRATCH.with_borrow_mut(|scratch| {
            // All strings go into scratch first, so the command is allocated once at its size.
            let mut ends = Vec::with_capacity(values.len());
            let mut used = 0;
            for &value in values {
                used += self.copy_string(value, scratch, used)?;
                ends.push(used);
            }
            let prefix_len: usize = prefix.iter().map(|part| part.len()).sum();
            let mut command =
                redis::Cmd::with_capacity(prefix.len() + values.len() + 2, used + prefix_len + 24);
            for part in prefix {
                command.arg(*part);
            }
            let mut start = 0;
            for end in ends {
                command.arg(&scratch[start..end]);
                start = end;
            }
            if scratch.len() > MAX_SCRATCH {
                // One huge value must not pin its size for the life of the process.
                scratch.truncate(SCRATCH_SIZE);
                scratch.shrink_to_fit();
            }
            Ok(command)
        })
    }

    /// Appends the UTF-8 of the JS string `value` to `scratch` at `at`; returns its length.
    fn copy_string(
        &self,
        value: sys::napi_value,
        scratch: &mut Vec<u8>,
        at: usize,
    ) -> Result<usize, LayerError> {
        let not_a_string = || invalid("expected a string argument");
        let mut written = 0;
        let room = scratch.len() - at;
        if room > 8 {
            // SAFETY: the pointer and length describe scratch's unused tail.
            let status = unsafe {
                sys::napi_get_value_string_utf8(
                    self.env,
                    value,
                    scratch[at..].as_mut_ptr().cast(),
                    room,
                    &mut written,
                )
            };
            if status != sys::Status::napi_ok {
                return Err(not_a_string());
            }
            // V8 stops at a character boundary, so a string within 4 bytes of the end
            // may be cut short: only then measure it and copy again.
            if written + 4 < room - 1 {
                return Ok(written);
            }
        }
        let mut length = 0;
        // SAFETY: length query only.
        let status = unsafe {
            sys::napi_get_value_string_utf8(self.env, value, std::ptr::null_mut(), 0, &mut length)
        };
        if status != sys::Status::napi_ok {
            return Err(not_a_string());
        }
        scratch.resize((at + length + 1).max(scratch.len()), 0);
        // SAFETY: scratch has length + 1 bytes from `at`.
        let status = unsafe {
            sys::napi_get_value_string_utf8(
                self.env,
                value,
                scratch[at..].as_mut_ptr().cast(),
                length + 1,
                &mut written,
            )
        };
        if status != sys::Status::napi_ok {
            return Err(not_a_string());
        }
        Ok(written)
    }
}

fn invalid(message: &'static str) -> LayerError {
    LayerError::new(ErrorCode::InvalidArgument, message)
}

fn set_command(key: String, value: String, ttl_seconds: Option<i64>) -> redis::Cmd {
    let mut command = redis::cmd("SET");
    command.arg(key).arg(value);
    if let Some(ttl) = ttl_seconds {
        command.arg("EX").arg(ttl);
    }
    command
}

fn pipeline_shape(commands: &[Vec<String>], atomic: bool) -> Result<Shape, LayerError> {
    if commands.iter().any(Vec::is_empty) {
        return Err(invalid("every pipelined command needs a name"));
    }
    let commands: Vec<redis::Cmd> = commands.iter().map(|args| to_command(args)).collect();
    Ok(if atomic {
        Shape::Transaction(commands)
    } else {
        Shape::Pipeline(commands)
    })
}

fn to_command(args: &[String]) -> redis::Cmd {
    let mut command = redis::cmd(&args[0]);
    command.arg(&args[1..]);
    command
}
