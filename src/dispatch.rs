//! Results cross back to JavaScript in batches: finished operations queue here and
//! the JS thread is woken once per non-empty queue, not once per operation. While
//! any operation is in flight the wake-up function holds the event loop open, so a
//! script awaiting Redis does not exit early; when idle it does not.
//!
//! Every callback into JavaScript is a threadsafe function, a handle Node keeps
//! registered until it is released. A socket's `close()` gives up its own; each is
//! released once nothing can call it any more (see `CompletionSink`, `EventRelay`).

use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{Function, ToNapiValue, Uint32Array, Uint8Array};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{sys, Env, Status};
use redis_layer_core::managed::EventSink;
use redis_layer_core::{ErrorCode, Event, LayerError, ManagedConnection};

use crate::reply::Reply;

pub type Outcome = Result<Reply, LayerError>;

pub struct Completion {
    id: u32,
    outcome: Outcome,
}

/// A drained queue, delivered as one flat array: `[id, ok, payload, id, ok, payload…]`
/// where `payload` is the reply when `ok`, else `[code, message]`.
pub struct Batch(Vec<Completion>);

impl From<Vec<Completion>> for Batch {
    fn from(completions: Vec<Completion>) -> Self {
        Batch(completions)
    }
}

impl ToNapiValue for Batch {
    unsafe fn to_napi_value(env: sys::napi_env, batch: Self) -> napi::Result<sys::napi_value> {
        // SAFETY: napi calls this on the JS thread with a live env.
        unsafe {
            let mut array = std::ptr::null_mut();
            napi::check_status!(sys::napi_create_array_with_length(
                env,
                batch.0.len() * 3,
                &mut array
            ))?;
            for (index, completion) in batch.0.into_iter().enumerate() {
                let base = (index * 3) as u32;
                let id = u32::to_napi_value(env, completion.id)?;
                let (ok, payload) = payload(env, completion.outcome)?;
                let ok = bool::to_napi_value(env, ok)?;
                napi::check_status!(sys::napi_set_element(env, array, base, id))?;
                napi::check_status!(sys::napi_set_element(env, array, base + 1, ok))?;
                napi::check_status!(sys::napi_set_element(env, array, base + 2, payload))?;
            }
            Ok(array)
        }
    }
}

/// The same, as `[ids, failed, payloads]`: `ids` a Uint32Array,
/// `failed` a Uint8Array (1 where the operation failed) and `payloads` an array of
/// replies, or of `[code, message]` where failed. Typed arrays are filled with one
/// copy; only the payloads need a V8 store each (a flat `[id, ok, payload…]` array
/// took three, which was a third of the cost of delivering a batch).
pub struct Columns(Vec<Completion>);

impl From<Vec<Completion>> for Columns {
    fn from(completions: Vec<Completion>) -> Self {
        Columns(completions)
    }
}

impl ToNapiValue for Columns {
    unsafe fn to_napi_value(env: sys::napi_env, batch: Self) -> napi::Result<sys::napi_value> {
        let count = batch.0.len();
        let ids: Vec<u32> = batch.0.iter().map(|completion| completion.id).collect();
        let mut failed: Vec<u8> = Vec::with_capacity(count);
        // SAFETY: napi calls this on the JS thread with a live env.
        unsafe {
            let mut payloads = std::ptr::null_mut();
            napi::check_status!(sys::napi_create_array_with_length(
                env,
                count,
                &mut payloads
            ))?;
            for (index, completion) in batch.0.into_iter().enumerate() {
                let (ok, payload) = payload(env, completion.outcome)?;
                failed.push(u8::from(!ok));
                napi::check_status!(sys::napi_set_element(env, payloads, index as u32, payload))?;
            }
            let ids = Uint32Array::to_napi_value(env, Uint32Array::new(ids))?;
            let failed = Uint8Array::to_napi_value(env, Uint8Array::new(failed))?;
            let mut result = std::ptr::null_mut();
            napi::check_status!(sys::napi_create_array_with_length(env, 3, &mut result))?;
            for (index, part) in [ids, failed, payloads].into_iter().enumerate() {
                napi::check_status!(sys::napi_set_element(env, result, index as u32, part))?;
            }
            Ok(result)
        }
    }
}

/// One operation's payload and whether it succeeded: a reply JavaScript cannot hold
/// fails that operation alone, never the batch.
///
/// # Safety
/// JS thread, live env.
unsafe fn payload(env: sys::napi_env, outcome: Outcome) -> napi::Result<(bool, sys::napi_value)> {
    // SAFETY: forwarded from the caller.
    unsafe {
        let error = match outcome.and_then(|reply| reply.into_js(env)) {
            Ok(value) => return Ok((true, value)),
            Err(error) => error,
        };
        let payload = Vec::<String>::to_napi_value(
            env,
            vec![error.code.as_str().to_string(), error.message],
        )?;
        Ok((false, payload))
    }
}

type Waker<B> = ThreadsafeFunction<(), (), B, Status, false, true>;

/// Finished operations wait here for the JS thread; `B` is the shape a drained
/// queue takes in JavaScript. Each operation's guard holds the sink, so when its
/// socket lets go of it (on close) the wake-up function is released after the last
/// operation has settled, its result still delivered.
pub struct CompletionSink<B: ToNapiValue + 'static = Batch> {
    queue: Arc<Mutex<Vec<Completion>>>,
    waker: Waker<B>,
    in_flight: Arc<AtomicU32>,
}

impl<B> CompletionSink<B>
where
    B: From<Vec<Completion>> + ToNapiValue + 'static,
{
    pub fn new(on_batch: Function<'_, B, ()>) -> napi::Result<Self> {
        let queue: Arc<Mutex<Vec<Completion>>> = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(AtomicU32::new(0));
        let drain_queue = queue.clone();
        let drain_in_flight = in_flight.clone();
        // The callback needs its own handle to unref it, which exists only after build.
        let own_handle: Arc<AtomicPtr<sys::napi_threadsafe_function__>> =
            Arc::new(AtomicPtr::new(std::ptr::null_mut()));
        let callback_handle = own_handle.clone();
        let waker = on_batch
            .build_threadsafe_function::<()>()
            .weak::<true>()
            .callee_handled::<false>()
            .build_callback(move |ctx| {
                let drained = std::mem::take(&mut *lock(&drain_queue));
                let count = drained.len() as u32;
                let before = drain_in_flight.fetch_sub(count, Ordering::AcqRel);
                if before == count && count > 0 {
                    // Last operation finished: let the process exit if nothing else runs.
                    let raw = callback_handle.load(Ordering::Acquire);
                    if !raw.is_null() {
                        // SAFETY: JS thread, inside this tsfn's own callback.
                        unsafe { sys::napi_unref_threadsafe_function(ctx.env.raw(), raw) };
                    }
                }
                Ok(B::from(drained))
            })?;
        own_handle.store(waker.raw(), Ordering::Release);
        Ok(Self {
            queue,
            waker,
            in_flight,
        })
    }

    /// Called on the JS thread before an operation starts.
    /// Runs a multi-step operation on its own task; a panic in it completes `id` with
    /// an error (see `CompletionGuard`).
    pub fn spawn<F, Fut>(
        self: &Arc<Self>,
        env: &Env,
        id: u32,
        connection: ManagedConnection,
        operation: F,
    ) where
        B: ToNapiValue + 'static,
        F: FnOnce(ManagedConnection) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Outcome> + Send + 'static,
    {
        self.begin(env);
        let guard = CompletionGuard::new(self.clone(), id);
        napi::bindgen_prelude::spawn(async move {
            let outcome = operation(connection).await;
            guard.finish(outcome);
        });
    }

    pub fn begin(&self, env: &Env) {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) == 0 {
            // SAFETY: JS thread, live tsfn owned by self.
            unsafe {
                sys::napi_ref_threadsafe_function(env.raw(), self.waker.raw());
            }
        }
    }
}

/// What a `CompletionGuard` needs of its sink, whatever its batch shape.
pub trait Complete: Send + Sync {
    /// Called from any thread when an operation has finished.
    fn complete(&self, id: u32, outcome: Outcome);
}

impl<B: ToNapiValue + 'static> Complete for CompletionSink<B> {
    fn complete(&self, id: u32, outcome: Outcome) {
        let first = {
            let mut queue = lock(&self.queue);
            queue.push(Completion { id, outcome });
            queue.len() == 1
        };
        if first {
            self.waker.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Completes its operation with an error if dropped before `finish`, which is what
/// happens when the task running the operation panics: the promise rejects instead
/// of hanging.
pub struct CompletionGuard {
    sink: Arc<dyn Complete>,
    id: u32,
    finished: bool,
}

impl CompletionGuard {
    pub fn new<B: ToNapiValue + 'static>(sink: Arc<CompletionSink<B>>, id: u32) -> Self {
        crate::busy_poll::call_started();
        Self {
            sink,
            id,
            finished: false,
        }
    }

    pub fn finish(mut self, outcome: Outcome) {
        self.settle(outcome);
    }

    /// The call leaves the busy-poller's count before JavaScript can see its result:
    /// counted after, a caller whose next call came first (this thread preempted in
    /// between) looked like two concurrent calls and turned polling off for 10 ms.
    fn settle(&mut self, outcome: Outcome) {
        self.finished = true;
        crate::busy_poll::call_settled();
        self.sink.complete(self.id, outcome);
    }
}

impl Drop for CompletionGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.settle(Err(LayerError::new(
                ErrorCode::Internal,
                "redis-layer internal error: the operation panicked",
            )));
        }
    }
}

type EventCallback = ThreadsafeFunction<Vec<String>, (), Vec<String>, Status, false, true>;

/// The `[level, message]` callback through which a socket logs. Reconnect tasks and the
/// connection hold it for as long as they run; `close` releases it at once, and what
/// is logged after that is dropped.
pub struct EventRelay(Mutex<Option<EventCallback>>);

impl EventRelay {
    pub fn new(on_event: Function<'_, Vec<String>, ()>) -> napi::Result<Arc<Self>> {
        let callback = on_event
            .build_threadsafe_function::<Vec<String>>()
            .weak::<true>()
            .callee_handled::<false>()
            .build()?;
        Ok(Arc::new(Self(Mutex::new(Some(callback)))))
    }

    /// Called from any thread.
    pub fn log(&self, level: &str, message: String) {
        if let Some(callback) = lock(&self.0).as_ref() {
            callback.call(
                vec![level.to_string(), message],
                ThreadsafeFunctionCallMode::NonBlocking,
            );
        }
    }

    /// The connection's events, logged here.
    pub fn sink(self: &Arc<Self>) -> EventSink {
        let relay = self.clone();
        Arc::new(move |event: Event| {
            let (level, message) = event.describe();
            relay.log(level, message);
        })
    }

    pub fn close(&self) {
        let callback = lock(&self.0).take();
        drop(callback);
    }
}

/// The error a closed socket throws when called again; its `code` is `ERR_CLOSED`.
pub fn closed(what: &str) -> napi::Error<ErrorCodeName> {
    napi::Error::new(
        ErrorCodeName(ErrorCode::Closed),
        format!("{what} is closed"),
    )
}

/// An `ErrorCode` as the `code` of an error thrown into JavaScript.
pub struct ErrorCodeName(pub ErrorCode);

impl AsRef<str> for ErrorCodeName {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}
