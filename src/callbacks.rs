//! Callbacks into JavaScript that other threads call. Each is a threadsafe function,
//! a handle Node keeps registered until it is released: a socket's `close()` gives up
//! its own, and each is released once nothing can call it any more.

use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{Function, ToNapiValue};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{sys, Env, Status};
use redis_layer_core::managed::{EventSink, PushSink};
use redis_layer_core::{ConnectionConfig, Event, ManagedConnection};

use crate::lock::lock;
use crate::options::NativeOptions;

/// Wakes the JS thread to hand it a `T`, made there when the call runs.
pub type Waker<T> = ThreadsafeFunction<(), (), T, Status, false, true>;

/// A weak `Waker` (it holds the event loop open only while referenced) whose `drain`
/// makes what JavaScript gets. `drain` also gets the waker's own handle, to ref or
/// unref it, which exists only once the waker is built.
pub fn waker<T, F>(callback: Function<'_, T, ()>, mut drain: F) -> napi::Result<Waker<T>>
where
    T: ToNapiValue + 'static,
    F: FnMut(&Env, sys::napi_threadsafe_function) -> T + 'static,
{
    let own_handle: Arc<AtomicPtr<sys::napi_threadsafe_function__>> =
        Arc::new(AtomicPtr::new(std::ptr::null_mut()));
    let callback_handle = own_handle.clone();
    let waker = callback
        .build_threadsafe_function::<()>()
        .weak::<true>()
        .callee_handled::<false>()
        .build_callback(move |ctx| Ok(drain(&ctx.env, callback_handle.load(Ordering::Acquire))))?;
    own_handle.store(waker.raw(), Ordering::Release);
    Ok(waker)
}

type EventCallback = ThreadsafeFunction<Vec<String>, (), Vec<String>, Status, false, true>;

/// The `[level, message, kind?]` callback through which a socket logs; `kind` names a
/// connection lifecycle event (see `Event::kind`). Reconnect tasks and the connection hold
/// it for as long as they run; `close` releases it at once, and what is logged after that
/// is dropped.
pub struct EventRelay(Mutex<Option<EventCallback>>);

/// A reconnecting socket for `options` that logs through `on_event`; `push` gets the
/// messages the server pushes. The relay is the socket's to close.
pub fn connection(
    options: NativeOptions,
    on_event: Function<'_, Vec<String>, ()>,
    push: Option<PushSink>,
) -> napi::Result<(ManagedConnection, Arc<EventRelay>)> {
    let callback = on_event
        .build_threadsafe_function::<Vec<String>>()
        .weak::<true>()
        .callee_handled::<false>()
        .build()?;
    let events = Arc::new(EventRelay(Mutex::new(Some(callback))));
    let connection = ManagedConnection::new(ConnectionConfig::from(options), events.sink(), push);
    Ok((connection, events))
}

impl EventRelay {
    /// Called from any thread.
    pub fn log(&self, level: &str, message: String) {
        self.send(vec![level.to_string(), message]);
    }

    fn send(&self, record: Vec<String>) {
        if let Some(callback) = lock(&self.0).as_ref() {
            callback.call(record, ThreadsafeFunctionCallMode::NonBlocking);
        }
    }

    fn sink(self: &Arc<Self>) -> EventSink {
        let relay = self.clone();
        Arc::new(move |event: Event| {
            let kind = event.kind();
            let (level, message) = event.describe();
            relay.send(vec![level.to_string(), message, kind.to_string()]);
        })
    }

    pub fn close(&self) {
        let callback = lock(&self.0).take();
        drop(callback);
    }
}
