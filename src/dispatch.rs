//! Results cross back to JavaScript in batches: finished operations queue here and
//! the JS thread is woken once per non-empty queue, not once per operation. While
//! any operation is in flight the wake-up function holds the event loop open, so a
//! script awaiting Redis does not exit early; when idle it does not.

use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{Function, ToNapiValue, Uint32Array, Uint8Array};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{sys, Env, Status};
use redis_layer_core::{ErrorCode, LayerError, ManagedConnection};

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
                let (ok, payload) = match completion.outcome {
                    Ok(reply) => (true, Reply::to_napi_value(env, reply)?),
                    Err(error) => (
                        false,
                        Vec::<String>::to_napi_value(
                            env,
                            vec![error.code.as_str().to_string(), error.message],
                        )?,
                    ),
                };
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
        let failed: Vec<u8> = batch
            .0
            .iter()
            .map(|completion| u8::from(completion.outcome.is_err()))
            .collect();
        // SAFETY: napi calls this on the JS thread with a live env.
        unsafe {
            let ids = Uint32Array::to_napi_value(env, Uint32Array::new(ids))?;
            let failed = Uint8Array::to_napi_value(env, Uint8Array::new(failed))?;
            let mut payloads = std::ptr::null_mut();
            napi::check_status!(sys::napi_create_array_with_length(
                env,
                count,
                &mut payloads
            ))?;
            for (index, completion) in batch.0.into_iter().enumerate() {
                let payload = match completion.outcome {
                    Ok(reply) => reply_to_js(env, reply)?,
                    Err(error) => Vec::<String>::to_napi_value(
                        env,
                        vec![error.code.as_str().to_string(), error.message],
                    )?,
                };
                napi::check_status!(sys::napi_set_element(env, payloads, index as u32, payload))?;
            }
            let mut result = std::ptr::null_mut();
            napi::check_status!(sys::napi_create_array_with_length(env, 3, &mut result))?;
            for (index, part) in [ids, failed, payloads].into_iter().enumerate() {
                napi::check_status!(sys::napi_set_element(env, result, index as u32, part))?;
            }
            Ok(result)
        }
    }
}

/// Text as a one-byte string when it is ASCII (a plain copy; JSON values almost
/// always are), else decoded from UTF-8; lists element by element; the rest as `Reply`.
///
/// # Safety
/// JS thread, live env.
unsafe fn reply_to_js(env: sys::napi_env, reply: Reply) -> napi::Result<sys::napi_value> {
    // SAFETY: forwarded from the caller.
    unsafe {
        match reply {
            Reply::Text(text) => {
                let mut value = std::ptr::null_mut();
                let create = if text.is_ascii() {
                    sys::napi_create_string_latin1
                } else {
                    sys::napi_create_string_utf8
                };
                napi::check_status!(create(
                    env,
                    text.as_ptr().cast(),
                    text.len() as isize,
                    &mut value
                ))?;
                Ok(value)
            }
            Reply::List(items) => {
                let mut array = std::ptr::null_mut();
                napi::check_status!(sys::napi_create_array_with_length(
                    env,
                    items.len(),
                    &mut array
                ))?;
                for (index, item) in items.into_iter().enumerate() {
                    let value = reply_to_js(env, item)?;
                    napi::check_status!(sys::napi_set_element(env, array, index as u32, value))?;
                }
                Ok(array)
            }
            other => Reply::to_napi_value(env, other),
        }
    }
}

type Waker<B> = ThreadsafeFunction<(), (), B, Status, false, true>;

/// Finished operations wait here for the JS thread; `B` is the shape a drained
/// queue takes in JavaScript.
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
