//! The record format of `NativeClient.submitBatch`: a flat JavaScript array of
//! `[kind, id, ...fields]` records, read here straight from V8 into commands.
//!
//! An operation is its `OpKind` variant, its field count in `OpKind::fields`, its arm in
//! `parse`, and its `NativeQueue` method in `ts/lib/queue.ts` (which takes the kinds and
//! field counts from this binding).

use std::cell::RefCell;

use napi::bindgen_prelude::{Array, FromNapiValue, JsValue};
use napi::sys;
use napi_derive::napi;
use redis::Cmd;
use redis_layer_core::{ErrorCode, LayerError};

use crate::errors::invalid;
use crate::lane::Shape;
use crate::scripts;

/// The kind of a `submitBatch` record, its first element.
#[napi]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// `key`
    Get = 0,
    /// `key, value, ttlSeconds | undefined`
    Set = 1,
    /// `[name, ...args]`
    Command = 2,
    /// `commands: [name, ...args][], atomic: boolean`
    Pipeline = 3,
    /// `handle, keys, args`
    Script = 4,
    /// `[name, ...args]` of an MGET answered as one JSON array text
    JsonArray = 5,
}

impl OpKind {
    /// How many fields follow `[kind, id]`.
    pub const fn fields(self) -> u32 {
        match self {
            OpKind::Get | OpKind::Command | OpKind::JsonArray => 1,
            OpKind::Pipeline => 2,
            OpKind::Set | OpKind::Script => 3,
        }
    }
}

/// How many fields follow `[kind, id]` in a record of `kind`.
#[napi]
pub fn op_fields(kind: OpKind) -> u32 {
    kind.fields()
}

/// Reads the records of `ops` in order and hands `each` every id with its command, or
/// with why its fields do not make one (that record fails alone). A record that cannot
/// be read at all (unknown kind, no id) ends the batch with an error.
pub fn parse(
    ops: &Array,
    mut each: impl FnMut(u32, Result<Shape, LayerError>),
) -> napi::Result<()> {
    let records = Records::new(ops);
    let mut index = 0;
    while index < ops.len() {
        let (Some(kind), Some(id)) = (ops.get::<OpKind>(index)?, ops.get::<u32>(index + 1)?) else {
            return Err(napi::Error::new(
                napi::Status::InvalidArg,
                "truncated operation record",
            ));
        };
        let at = index + 2;
        let shape = match kind {
            OpKind::Get => records.command("GET", &[at], None).map(Shape::Single),
            OpKind::Set => records
                .get::<Option<i64>>(at + 2)
                .and_then(|ttl| records.command("SET", &[at, at + 1], ttl))
                .map(Shape::Single),
            OpKind::Command => records.command_array(at).map(Shape::Single),
            OpKind::JsonArray => records.command_array(at).map(Shape::JsonArray),
            OpKind::Pipeline => records
                .commands(at)
                .and_then(|commands| Ok(pipeline(commands, records.get(at + 1)?))),
            OpKind::Script => (|| {
                let script = scripts::script(records.get(at)?)
                    .ok_or_else(|| invalid("unknown script handle"))?;
                let keys = records.get(at + 1)?;
                let args = records.get(at + 2)?;
                Ok(Shape::Script { script, keys, args })
            })(),
        };
        each(id, shape);
        index = at + kind.fields();
    }
    Ok(())
}

fn pipeline(commands: Vec<Cmd>, atomic: bool) -> Shape {
    if atomic {
        Shape::Transaction(commands)
    } else {
        Shape::Pipeline(commands)
    }
}

/// Reads record fields straight from the JS array. Strings are copied once, from V8
/// into a reused scratch buffer and from there into the command (no `String` per
/// argument, no zero-filled buffer, no separate UTF-8 length pass for short ones).
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

    /// `name`, the strings at `fields` of the record array, then `EX ttl`.
    fn command(&self, name: &str, fields: &[u32], ttl: Option<i64>) -> Result<Cmd, LayerError> {
        let values = fields
            .iter()
            .map(|&index| self.element(self.array, index))
            .collect::<Result<Vec<_>, _>>()?;
        let mut command = self.build(Some(name), &values)?;
        if let Some(ttl) = ttl {
            command.arg("EX").arg(ttl);
        }
        Ok(command)
    }

    /// A command given as one `[name, ...args]` array at `index`.
    fn command_array(&self, index: u32) -> Result<Cmd, LayerError> {
        self.command_from(self.element(self.array, index)?)
    }

    /// The commands of the `[[name, ...args], ...]` array at `index` (a pipeline).
    fn commands(&self, index: u32) -> Result<Vec<Cmd>, LayerError> {
        let array = self.element(self.array, index)?;
        (0..self.length(array, "a pipeline must be an array of commands")?)
            .map(|i| self.command_from(self.element(array, i)?))
            .collect()
    }

    /// A command from its `[name, ...args]` array: strings, or bytes of a Uint8Array (a Buffer).
    fn command_from(&self, array: sys::napi_value) -> Result<Cmd, LayerError> {
        let length = self.length(array, "a command must be an array of strings")?;
        if length == 0 {
            return Err(invalid("a command needs at least a command name"));
        }
        let values = (0..length)
            .map(|i| self.element(array, i))
            .collect::<Result<Vec<_>, _>>()?;
        self.build(None, &values)
    }

    fn length(
        &self,
        array: sys::napi_value,
        not_an_array: &'static str,
    ) -> Result<u32, LayerError> {
        let mut length = 0;
        // SAFETY: as in `element`.
        let status = unsafe { sys::napi_get_array_length(self.env, array, &mut length) };
        if status != sys::Status::napi_ok {
            return Err(invalid(not_an_array));
        }
        Ok(length)
    }

    fn build(&self, name: Option<&str>, values: &[sys::napi_value]) -> Result<Cmd, LayerError> {
        SCRATCH.with_borrow_mut(|scratch| {
            // All strings go into scratch first, so the command is allocated once at its size.
            let mut ends = Vec::with_capacity(values.len());
            let mut used = 0;
            for &value in values {
                used += self.copy_argument(value, scratch, used)?;
                ends.push(used);
            }
            let name_len = name.map_or(0, str::len);
            let mut command = Cmd::with_capacity(
                usize::from(name.is_some()) + values.len() + 2,
                used + name_len + 24,
            );
            if let Some(name) = name {
                command.arg(name);
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

    /// Appends an argument to `scratch` at `at`, a string's UTF-8 or a Uint8Array's bytes (a Node
    /// Buffer included); returns its length.
    fn copy_argument(
        &self,
        value: sys::napi_value,
        scratch: &mut Vec<u8>,
        at: usize,
    ) -> Result<usize, LayerError> {
        match self.copy_string(value, scratch, at) {
            Ok(length) => Ok(length),
            Err(sys::Status::napi_string_expected) => self.copy_bytes(value, scratch, at),
            Err(_) => Err(not_an_argument()),
        }
    }

    /// Appends the bytes of a Uint8Array to `scratch` at `at`; returns their length.
    fn copy_bytes(
        &self,
        value: sys::napi_value,
        scratch: &mut Vec<u8>,
        at: usize,
    ) -> Result<usize, LayerError> {
        let mut is_typed_array = false;
        // SAFETY: type query on a value of this call's env.
        let status = unsafe { sys::napi_is_typedarray(self.env, value, &mut is_typed_array) };
        if status != sys::Status::napi_ok || !is_typed_array {
            return Err(not_an_argument());
        }
        let mut kind = 0;
        let mut length = 0;
        let mut data = std::ptr::null_mut();
        let mut buffer = std::ptr::null_mut();
        let mut offset = 0;
        // SAFETY: `value` is a typed array; `data` then points at its first element.
        let status = unsafe {
            sys::napi_get_typedarray_info(
                self.env,
                value,
                &mut kind,
                &mut length,
                &mut data,
                &mut buffer,
                &mut offset,
            )
        };
        if status != sys::Status::napi_ok || kind != sys::TypedarrayType::uint8_array {
            return Err(not_an_argument());
        }
        scratch.resize((at + length).max(scratch.len()), 0);
        if length > 0 {
            // SAFETY: a Uint8Array of `length` elements holds `length` bytes at `data`, and
            // nothing else runs on this thread while they are copied.
            let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), length) };
            scratch[at..at + length].copy_from_slice(bytes);
        }
        Ok(length)
    }

    /// Appends the UTF-8 of the JS string `value` to `scratch` at `at`; returns its length, or
    /// napi's status when `value` cannot be read as a string.
    fn copy_string(
        &self,
        value: sys::napi_value,
        scratch: &mut Vec<u8>,
        at: usize,
    ) -> Result<usize, sys::napi_status> {
        let ok = |status| {
            if status == sys::Status::napi_ok {
                Ok(())
            } else {
                Err(status)
            }
        };
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
            ok(status)?;
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
        ok(status)?;
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
        ok(status)?;
        Ok(written)
    }
}

fn not_an_argument() -> LayerError {
    invalid("expected a string or Buffer argument")
}
