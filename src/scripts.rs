//! Lua scripts registered once per process and run by handle, so hot calls do not
//! send their source; the lane loads a script on each server before it first runs it
//! there (see `lane::LoadedScripts`).

use std::sync::{Arc, RwLock};

use napi_derive::napi;
use redis::Cmd;

pub struct LuaScript {
    /// Its index in the registry, which the lane uses to remember where it is loaded.
    pub handle: u32,
    hash: String,
    source: String,
}

impl LuaScript {
    /// `EVALSHA`: runs the script the server has cached.
    pub fn evalsha(&self, keys: &[String], args: &[String]) -> Cmd {
        self.call("EVALSHA", &self.hash, keys, args)
    }

    /// `EVAL` with the source: runs it, and caches it on that server, where it may not be cached yet.
    pub fn eval(&self, keys: &[String], args: &[String]) -> Cmd {
        self.call("EVAL", &self.source, keys, args)
    }

    /// `SCRIPT LOAD` with the source.
    pub fn load(&self) -> Cmd {
        let mut command = redis::cmd("SCRIPT");
        command.arg("LOAD").arg(&self.source);
        command
    }

    fn call(&self, name: &str, body: &str, keys: &[String], args: &[String]) -> Cmd {
        let bytes = keys.iter().chain(args).map(String::len).sum::<usize>() + body.len() + 16;
        let mut command = Cmd::with_capacity(3 + keys.len() + args.len(), bytes);
        command
            .arg(name)
            .arg(body)
            .arg(keys.len())
            .arg(keys)
            .arg(args);
        command
    }
}

static SCRIPTS: RwLock<Vec<Arc<LuaScript>>> = RwLock::new(Vec::new());

/// Registers a Lua script and returns its handle (identical sources share one).
#[napi]
pub fn register_script(source: String) -> u32 {
    let hash = redis::Script::new(&source).get_hash().to_string();
    let mut scripts = SCRIPTS
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(known) = scripts.iter().find(|known| known.hash == hash) {
        return known.handle;
    }
    let handle = scripts.len() as u32;
    scripts.push(Arc::new(LuaScript {
        handle,
        hash,
        source,
    }));
    handle
}

pub fn script(handle: u32) -> Option<Arc<LuaScript>> {
    let scripts = SCRIPTS
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    scripts.get(handle as usize).cloned()
}
