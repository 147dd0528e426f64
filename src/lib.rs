//! Node binding of redis-layer. The JavaScript layer (`ts/`) owns promises, JSON and
//! realm-correct errors; this crate owns sockets, reconnection, pipelining and scripts.
//! One module per concern; `lib.rs` only wires them together.

mod busy_poll;
mod callbacks;
mod client;
mod completions;
mod errors;
mod json_array;
mod lane;
mod lock;
mod options;
mod records;
mod reply;
mod runtime;
mod scripts;
mod subscriber;

/// See the mimalloc line of Cargo.toml for why.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
