//! Results cross back to JavaScript in batches: finished operations queue here and
//! the JS thread is woken once per non-empty queue, not once per operation. While
//! any operation is in flight the wake-up function holds the event loop open, so a
//! script awaiting Redis does not exit early; when idle it does not.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use napi::bindgen_prelude::{Float64Array, Function, ToNapiValue, Uint32Array, Uint8Array};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::{sys, Env};
use redis_layer_core::{ErrorCode, LayerError, ManagedConnection};

use crate::callbacks::{waker, Waker};
use crate::lock::lock;
use crate::reply::Reply;

pub type Outcome = Result<Reply, LayerError>;

pub struct Completion {
    id: u32,
    outcome: Outcome,
    /// Milliseconds in the native lane and on the wire, for a timed call (see `Timing`).
    phases: Option<[f64; 2]>,
}

/// A drained queue as JavaScript gets it, `[ids, failed, payloads, phases?]`: `ids` a
/// Uint32Array, `failed` a Uint8Array (1 where the operation failed) and `payloads`
/// an array of replies, or of `[code, message]` where failed. The typed arrays are
/// filled with one copy each; only the payloads take a V8 store each. When any call
/// was timed, `phases` is a Float64Array of two numbers per call (NaN where untimed):
/// milliseconds from its hand-off to native code until its write was queued on the
/// socket, and from then until its reply was read.
pub struct Columns(Vec<Completion>);

impl ToNapiValue for Columns {
    unsafe fn to_napi_value(env: sys::napi_env, batch: Self) -> napi::Result<sys::napi_value> {
        let count = batch.0.len();
        let ids: Vec<u32> = batch.0.iter().map(|completion| completion.id).collect();
        let phases: Option<Vec<f64>> = batch
            .0
            .iter()
            .any(|completion| completion.phases.is_some())
            .then(|| {
                batch
                    .0
                    .iter()
                    .flat_map(|completion| completion.phases.unwrap_or([f64::NAN; 2]))
                    .collect()
            });
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
            let mut parts = vec![ids, failed, payloads];
            if let Some(phases) = phases {
                parts.push(Float64Array::to_napi_value(env, Float64Array::new(phases))?);
            }
            let mut result = std::ptr::null_mut();
            napi::check_status!(sys::napi_create_array_with_length(
                env,
                parts.len(),
                &mut result
            ))?;
            for (index, part) in parts.into_iter().enumerate() {
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

/// Finished operations wait here for the JS thread. Each operation's guard holds the
/// sink, so when its socket lets go of it (on close) the wake-up function is released
/// after the last operation has settled, its result still delivered.
pub struct CompletionSink {
    queue: Arc<Mutex<Vec<Completion>>>,
    waker: Waker<Columns>,
    in_flight: Arc<AtomicU32>,
}

impl CompletionSink {
    pub fn new(on_batch: Function<'_, Columns, ()>) -> napi::Result<Arc<Self>> {
        let queue: Arc<Mutex<Vec<Completion>>> = Arc::new(Mutex::new(Vec::new()));
        let in_flight = Arc::new(AtomicU32::new(0));
        let drain_queue = queue.clone();
        let drain_in_flight = in_flight.clone();
        let waker = waker(on_batch, move |env, own_handle| {
            let drained = std::mem::take(&mut *lock(&drain_queue));
            let count = drained.len() as u32;
            let before = drain_in_flight.fetch_sub(count, Ordering::AcqRel);
            if before == count && count > 0 && !own_handle.is_null() {
                // Last operation finished: let the process exit if nothing else runs.
                // SAFETY: JS thread, inside this tsfn's own callback.
                unsafe { sys::napi_unref_threadsafe_function(env.raw(), own_handle) };
            }
            Columns(drained)
        })?;
        Ok(Arc::new(Self {
            queue,
            waker,
            in_flight,
        }))
    }

    /// Runs a multi-step operation (connect, SCAN loops, subscriptions) on its own
    /// task, off the lane; a panic in it completes `id` with an error (see
    /// `CompletionGuard`). JS thread.
    pub fn spawn<F, Fut>(
        self: &Arc<Self>,
        env: &Env,
        id: u32,
        connection: ManagedConnection,
        operation: F,
    ) where
        F: FnOnce(ManagedConnection) -> Fut + Send + 'static,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let guard = self.begin(env, id);
        napi::bindgen_prelude::spawn(async move {
            let outcome = operation(connection).await;
            guard.finish(outcome);
        });
    }

    /// Opens `connection`; the reply is null.
    pub fn connect(self: &Arc<Self>, env: &Env, id: u32, connection: ManagedConnection) {
        self.spawn(env, id, connection, |connection| async move {
            connection.connect().await.map(|()| Reply::Nil)
        });
    }

    /// Counts operation `id` in flight (holding the event loop open) and returns the
    /// guard that completes it. JS thread.
    pub fn begin(self: &Arc<Self>, env: &Env, id: u32) -> CompletionGuard {
        if self.in_flight.fetch_add(1, Ordering::AcqRel) == 0 {
            // SAFETY: JS thread, live tsfn owned by self.
            unsafe {
                sys::napi_ref_threadsafe_function(env.raw(), self.waker.raw());
            }
        }
        CompletionGuard::new(self.clone(), id)
    }

    /// Called from any thread when an operation has finished.
    fn complete(&self, id: u32, outcome: Outcome, phases: Option<[f64; 2]>) {
        let first = {
            let mut queue = lock(&self.queue);
            queue.push(Completion {
                id,
                outcome,
                phases,
            });
            queue.len() == 1
        };
        if first {
            self.waker.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

/// Completes its operation with an error if dropped before `finish`, which is what
/// happens when the task running the operation panics: the promise rejects instead
/// of hanging.
pub struct CompletionGuard {
    sink: Arc<CompletionSink>,
    id: u32,
    finished: bool,
    timing: Option<Timing>,
}

/// When a timed call reached native code and when the lane queued its write: what
/// lets telemetry split a call's time between the native lane and the network.
#[derive(Clone, Copy)]
struct Timing {
    submitted: Instant,
    written: Option<Instant>,
}

impl CompletionGuard {
    fn new(sink: Arc<CompletionSink>, id: u32) -> Self {
        crate::busy_poll::call_started();
        Self {
            sink,
            id,
            finished: false,
            timing: None,
        }
    }

    /// Times this call from `submitted`, its hand-off to native code.
    pub fn time_from(&mut self, submitted: Instant) {
        self.timing = Some(Timing {
            submitted,
            written: None,
        });
    }

    /// The lane is queuing this call's write now (again, if it is sent again).
    pub fn writing(&mut self) {
        if let Some(timing) = &mut self.timing {
            timing.written = Some(Instant::now());
        }
    }

    pub fn finish(mut self, outcome: Outcome) {
        self.settle(outcome);
    }

    /// The call leaves the busy-poller's count before JavaScript can see its result,
    /// so a caller's next call never overlaps it there and looks concurrent.
    fn settle(&mut self, outcome: Outcome) {
        self.finished = true;
        crate::busy_poll::call_settled();
        let phases = self.timing.map(|timing| {
            let now = Instant::now();
            let written = timing.written.unwrap_or(now);
            let millis = |duration: std::time::Duration| duration.as_secs_f64() * 1000.0;
            [
                millis(written.saturating_duration_since(timing.submitted)),
                millis(now.saturating_duration_since(written)),
            ]
        });
        self.sink.complete(self.id, outcome, phases);
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
