//! The process-wide tokio runtime, supplied to napi-rs at module load.
//!
//! One worker thread: the lane task, redis-rs' connection driver and the socket all
//! live on it, so a command hands off between tasks without waking another thread
//! (with napi's default of one worker per core, each hand-off could be a wake-up).

use napi::bindgen_prelude::create_custom_tokio_runtime;
use tokio::runtime::Builder;

#[napi_derive::module_init]
fn init() {
    match Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("redis-layer-io")
        .enable_all()
        .build()
    {
        Ok(runtime) => create_custom_tokio_runtime(runtime),
        // napi falls back to its default runtime; slower, still correct.
        Err(error) => eprintln!("redis-layer: custom tokio runtime unavailable: {error}"),
    }
}
