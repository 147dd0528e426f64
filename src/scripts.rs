//! Lua scripts registered once per process and run by handle, so hot calls do not
//! send their source; `redis::Script` loads a script again on NOSCRIPT.

use std::sync::{Arc, RwLock};

use napi_derive::napi;
use once_cell::sync::Lazy;
use redis::Script;

static SCRIPTS: Lazy<RwLock<Vec<Arc<Script>>>> = Lazy::new(|| RwLock::new(Vec::new()));

/// Registers a Lua script and returns its handle (identical sources share one).
#[napi]
pub fn register_script(source: String) -> u32 {
    let script = Script::new(&source);
    let mut scripts = SCRIPTS
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(index) = scripts
        .iter()
        .position(|known| known.get_hash() == script.get_hash())
    {
        return index as u32;
    }
    scripts.push(Arc::new(script));
    (scripts.len() - 1) as u32
}

pub fn script(handle: u32) -> Option<Arc<Script>> {
    let scripts = SCRIPTS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    scripts.get(handle as usize).cloned()
}
