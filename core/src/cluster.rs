//! Running a lane's calls on a Redis Cluster. A pipeline must stay within one slot
//! (redis-rs routes it by its first key), so a call goes out on its own and redis-rs
//! routes it by its key; a pipeline whose keys share a slot goes out whole, any other
//! command by command; a transaction is split per slot: atomic within each slot,
//! never a CROSSSLOT error.

use futures_util::future::join_all;
use redis::aio::ConnectionLike;
use redis::cluster_routing::Slot;
use redis::{Arg, Cmd, Value};

use crate::error::LayerError;
use crate::managed::ManagedConnection;

/// Runs one command; an error reply is an error.
pub async fn query(connection: &ManagedConnection, command: Cmd) -> Result<Value, LayerError> {
    connection
        .run(|mut socket| async move { socket.req_packed_command(&command).await })
        .await
        .and_then(error_reply)
}

/// Like [`query`] for an `EVALSHA`: `None` when the node does not have the script.
pub async fn query_script(
    connection: &ManagedConnection,
    command: Cmd,
) -> Result<Option<Value>, LayerError> {
    let reply = connection
        .run(|mut socket| async move {
            match socket.req_packed_command(&command).await {
                Err(error) if error.code() == Some("NOSCRIPT") => Ok(None),
                other => other.map(Some),
            }
        })
        .await?;
    match reply {
        Some(Value::ServerError(error)) if error.code() == "NOSCRIPT" => Ok(None),
        Some(value) => error_reply(value).map(Some),
        None => Ok(None),
    }
}

/// A reply as a result: an error reply becomes the error it reports.
#[inline]
pub fn error_reply(reply: Value) -> Result<Value, LayerError> {
    match reply {
        Value::ServerError(error) => Err(LayerError::from_server(&error)),
        value => Ok(value),
    }
}

/// Runs a pipeline, one reply per command in call order. When its keyed commands
/// share a slot it is one pipelined write, routed as a whole by its first key, so
/// keyless commands such as WAIT run on the node that took the writes before them;
/// otherwise each command goes on its own and one that fails leaves `failed(error)`
/// in its place. `R` is the caller's reply type.
pub async fn pipeline<R: From<Value>>(
    connection: &ManagedConnection,
    commands: Vec<Cmd>,
    failed: impl Fn(LayerError) -> R,
) -> Result<Vec<R>, LayerError> {
    if one_slot(&commands) {
        let count = commands.len();
        let mut pipe = redis::pipe();
        for command in commands {
            pipe.add_command(command);
        }
        let values = connection
            .run(|mut socket| async move { socket.req_packed_commands(&pipe, 0, count).await })
            .await?;
        return Ok(values.into_iter().map(R::from).collect());
    }
    let replies = join_all(
        commands
            .into_iter()
            .map(|command| query(connection, command)),
    )
    .await;
    Ok(replies
        .into_iter()
        .map(|reply| match reply {
            Ok(value) => R::from(value),
            Err(error) => failed(error),
        })
        .collect())
}

/// Runs a transaction as one MULTI/EXEC per slot group (see [`slot_groups`]), the
/// groups at once; the replies come back in call order. It fails if any group does.
pub async fn transaction(
    connection: &ManagedConnection,
    commands: Vec<Cmd>,
) -> Result<Vec<Value>, LayerError> {
    let groups = slot_groups(&commands);
    let runs = groups.iter().map(|members| {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for &index in members {
            pipe.add_command(commands[index].clone());
        }
        async move {
            connection
                .run(|mut socket| async move { pipe.query_async::<Vec<Value>>(&mut socket).await })
                .await
        }
    });
    let results = join_all(runs).await;
    in_call_order(&groups, results, commands.len())
}

/// Puts the replies of each slot group back at its commands' places; a place no
/// reply reached is `Nil`.
fn in_call_order(
    groups: &[Vec<usize>],
    results: Vec<Result<Vec<Value>, LayerError>>,
    count: usize,
) -> Result<Vec<Value>, LayerError> {
    let mut replies = vec![Value::Nil; count];
    for (members, result) in groups.iter().zip(results) {
        for (&index, value) in members.iter().zip(result?) {
            replies[index] = value;
        }
    }
    Ok(replies)
}

/// The slot of a command's first argument after its name, taken as its key.
pub fn first_key_slot(command: &Cmd) -> Option<Slot> {
    command.args_iter().nth(1).and_then(|arg| match arg {
        Arg::Simple(key) => Some(Slot::for_key(key)),
        _ => None,
    })
}

/// Whether the command names no key although it has arguments (WAIT, PING).
pub fn is_keyless(command: &Cmd) -> bool {
    matches!(
        command.args_iter().next(),
        Some(Arg::Simple(name)) if name.eq_ignore_ascii_case(b"WAIT") || name.eq_ignore_ascii_case(b"PING")
    )
}

/// Whether every command naming a key names one in the same slot, and at least one
/// does (keyless ones, such as WAIT, go along).
pub fn one_slot(commands: &[Cmd]) -> bool {
    let mut slots = commands
        .iter()
        .filter(|command| !is_keyless(command))
        .filter_map(first_key_slot);
    match slots.next() {
        Some(first) => slots.all(|slot| slot == first),
        None => false,
    }
}

/// A transaction's commands grouped by slot, as indices in call order. A command
/// without arguments joins the first group; a group of only such commands takes the
/// slot of the next command with one.
pub fn slot_groups(commands: &[Cmd]) -> Vec<Vec<usize>> {
    let mut groups: Vec<(Option<Slot>, Vec<usize>)> = Vec::new();
    for (index, command) in commands.iter().enumerate() {
        let slot = first_key_slot(command);
        match groups
            .iter_mut()
            .find(|(known, _)| known.is_none() || slot.is_none() || *known == slot)
        {
            Some((known, members)) => {
                if known.is_none() {
                    *known = slot;
                }
                members.push(index);
            }
            None => groups.push((slot, vec![index])),
        }
    }
    groups.into_iter().map(|(_, members)| members).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    /// A command from its words, e.g. `command("SET a 1")`.
    fn command(line: &str) -> Cmd {
        let mut words = line.split_whitespace();
        let mut command = redis::cmd(words.next().expect("a command name"));
        for word in words {
            command.arg(word);
        }
        command
    }

    fn commands(lines: &[&str]) -> Vec<Cmd> {
        lines.iter().map(|line| command(line)).collect()
    }

    #[test]
    fn first_key_slot_is_the_slot_of_the_first_argument() {
        assert_eq!(
            first_key_slot(&command("GET user")),
            Some(Slot::for_key("user"))
        );
        // A hash tag decides the slot: both keys of one tag share it.
        assert_eq!(
            first_key_slot(&command("SET {user:1}:name ada")),
            first_key_slot(&command("HGET {user:1}:profile age")),
        );
        assert_eq!(first_key_slot(&command("PING")), None);
        assert_eq!(first_key_slot(&command("EXEC")), None);
    }

    #[test]
    fn is_keyless_names_wait_and_ping_in_any_case() {
        let table = [
            ("WAIT 1 100", true),
            ("wait 1 100", true),
            ("PING hello", true),
            ("Ping", true),
            ("GET wait", false),
            ("SET ping 1", false),
            ("WAITAOF 1 1 100", false),
        ];
        for (line, keyless) in table {
            assert_eq!(is_keyless(&command(line)), keyless, "{line}");
        }
    }

    #[test]
    fn one_slot_over_hash_tags_and_keyless_commands() {
        let table: &[(&[&str], bool)] = &[
            (&["SET {u1}:a 1", "SET {u1}:b 2", "GET {u1}:c"], true),
            (&["SET {u1}:a 1", "WAIT 1 100"], true),
            (
                &["PING", "SET {u1}:a 1", "WAIT 1 100", "PING x", "GET {u1}:b"],
                true,
            ),
            (&["SET same 1", "GET same"], true),
            (&["SET {u1}:a 1", "SET {u2}:a 1"], false),
            (&["SET {u1}:a 1", "WAIT 1 100", "GET {u2}:a"], false),
            // Nothing names a key: no slot to route the pipeline by.
            (&["WAIT 1 100", "PING"], false),
            (&["PING", "EXEC"], false),
            (&[], false),
        ];
        for (lines, expected) in table {
            assert_eq!(one_slot(&commands(lines)), *expected, "{lines:?}");
        }
    }

    #[test]
    fn slot_groups_keep_call_order_within_each_slot() {
        let table: &[(&[&str], &[&[usize]])] = &[
            (&["SET {a}:1 x", "SET {a}:2 y"], &[&[0, 1]]),
            (
                &[
                    "SET {a}:1 x",
                    "SET {b}:1 y",
                    "GET {a}:1",
                    "GET {b}:1",
                    "DEL {c}:1",
                ],
                &[&[0, 2], &[1, 3], &[4]],
            ),
            // A command without arguments joins the first group.
            (&["SET {a}:1 x", "SET {b}:1 y", "PING"], &[&[0, 2], &[1]]),
            // A group begun by one takes the slot of the next keyed command.
            (
                &["PING", "SET {b}:1 y", "SET {a}:1 x", "GET {b}:1"],
                &[&[0, 1, 3], &[2]],
            ),
            (&["PING", "PING"], &[&[0, 1]]),
            (&[], &[]),
        ];
        for (lines, expected) in table {
            let expected: Vec<Vec<usize>> = expected.iter().map(|group| group.to_vec()).collect();
            assert_eq!(slot_groups(&commands(lines)), expected, "{lines:?}");
        }
    }

    #[test]
    fn slot_groups_cover_every_command_once() {
        let lines: Vec<String> = (0..40).map(|n| format!("INCR {{k{}}}:n", n % 7)).collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let groups = slot_groups(&commands(&lines));
        let mut seen: Vec<usize> = groups.iter().flatten().copied().collect();
        assert!(groups.iter().all(|group| group.is_sorted()));
        seen.sort_unstable();
        assert_eq!(seen, (0..40).collect::<Vec<_>>());
        for group in &groups {
            let slots: Vec<_> = group
                .iter()
                .map(|&index| Slot::for_key(&lines[index][5..]))
                .collect();
            assert!(slots.iter().all(|slot| *slot == slots[0]), "{group:?}");
        }
    }

    fn text(word: &str) -> Value {
        Value::BulkString(word.as_bytes().to_vec())
    }

    #[test]
    fn in_call_order_puts_each_reply_at_its_command() {
        let groups = vec![vec![0, 2], vec![1, 3]];
        let results = vec![
            Ok(vec![text("a"), text("c")]),
            Ok(vec![text("b"), text("d")]),
        ];
        assert_eq!(
            in_call_order(&groups, results, 4),
            Ok(vec![text("a"), text("b"), text("c"), text("d")])
        );
        // A group that answered short leaves Nil where its reply is missing.
        let results = vec![Ok(vec![text("a")]), Ok(vec![text("b"), text("d")])];
        assert_eq!(
            in_call_order(&groups, results, 4),
            Ok(vec![text("a"), text("b"), Value::Nil, text("d")])
        );
    }

    #[test]
    fn in_call_order_fails_when_any_group_failed() {
        let groups = vec![vec![0], vec![1]];
        let error = LayerError::new(ErrorCode::ConnectionLost, "gone");
        let results = vec![Ok(vec![text("a")]), Err(error.clone())];
        assert_eq!(in_call_order(&groups, results, 2), Err(error));
    }

    #[test]
    fn error_reply_turns_an_error_reply_into_its_error() {
        let error = match redis::parse_redis_value(b"-NOSCRIPT No matching script\r\n") {
            Ok(Value::ServerError(error)) => error,
            other => panic!("not an error reply: {other:?}"),
        };
        let result = error_reply(Value::ServerError(error.clone()));
        assert_eq!(result, Err(LayerError::from_server(&error)));
        assert_eq!(error_reply(Value::Okay), Ok(Value::Okay));
    }
}
