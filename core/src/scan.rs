//! Deleting by pattern without KEYS: SCAN in batches and UNLINK what each batch
//! found. On a cluster every master is scanned (SCAN is per node) and UNLINK is
//! routed by redis-rs, which splits a multi-key command per slot.

use redis::aio::ConnectionLike;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{RedisResult, Value};

use crate::any::AnyConnection;

/// Deletes every key matching `pattern`, scanning `count` keys per round trip; returns
/// how many were deleted.
pub async fn scan_delete(connection: AnyConnection, pattern: &str, count: u32) -> RedisResult<i64> {
    match connection {
        AnyConnection::Single(mut single) => scan_node(&mut single, None, pattern, count).await,
        AnyConnection::Cluster(mut cluster) => {
            let mut deleted = 0;
            for (host, port) in masters(&mut cluster).await? {
                let route =
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host, port });
                deleted += scan_node(&mut cluster, Some(route), pattern, count).await?;
            }
            Ok(deleted)
        }
    }
}

/// One page of a key scan: SCAN `cursor` with an optional MATCH pattern and TYPE, about
/// `count` keys. On a cluster the cursor also names the master being scanned
/// (`"<master>:<cursor>"`, masters in address order), so a scan walks every master in turn.
/// The scan is over when the returned cursor is `"0"`.
pub async fn scan_page(
    connection: AnyConnection,
    cursor: &str,
    pattern: Option<&str>,
    count: u32,
    kind: Option<&str>,
) -> RedisResult<(String, Vec<Value>)> {
    let command = |node_cursor: u64| {
        let mut scan = redis::cmd("SCAN");
        scan.arg(node_cursor);
        if let Some(pattern) = pattern {
            scan.arg("MATCH").arg(pattern);
        }
        scan.arg("COUNT").arg(count.max(1));
        if let Some(kind) = kind {
            scan.arg("TYPE").arg(kind);
        }
        scan
    };
    match connection {
        AnyConnection::Single(mut single) => {
            let node_cursor = parse_cursor(cursor)?;
            let (next, keys): (u64, Vec<Value>) =
                redis::from_redis_value(single.send_to(command(node_cursor), None).await?)?;
            Ok((next.to_string(), keys))
        }
        AnyConnection::Cluster(mut cluster) => {
            let (node, node_cursor) = match cursor.split_once(':') {
                Some((node, rest)) => (
                    node.parse::<usize>().map_err(|_| bad_cursor())?,
                    parse_cursor(rest)?,
                ),
                None if cursor == "0" => (0, 0),
                None => return Err(bad_cursor()),
            };
            let mut nodes = masters(&mut cluster).await?;
            nodes.sort();
            let Some((host, port)) = nodes.get(node).cloned() else {
                return Ok(("0".to_string(), Vec::new()));
            };
            let route = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host, port });
            let (next, keys): (u64, Vec<Value>) =
                redis::from_redis_value(cluster.send_to(command(node_cursor), Some(route)).await?)?;
            let next = match (next, node + 1 < nodes.len()) {
                (0, true) => format!("{}:0", node + 1),
                (0, false) => "0".to_string(),
                (next, _) => format!("{node}:{next}"),
            };
            Ok((next, keys))
        }
    }
}

fn parse_cursor(text: &str) -> RedisResult<u64> {
    text.parse().map_err(|_| bad_cursor())
}

fn bad_cursor() -> redis::RedisError {
    redis::RedisError::from((redis::ErrorKind::Client, "not a cursor this scan returned"))
}

async fn scan_node<C: ConnectionLike + Routed>(
    connection: &mut C,
    route: Option<RoutingInfo>,
    pattern: &str,
    count: u32,
) -> RedisResult<i64> {
    let mut cursor: u64 = 0;
    let mut deleted: i64 = 0;
    loop {
        let mut scan = redis::cmd("SCAN");
        scan.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(count);
        let reply = connection.send_to(scan, route.clone()).await?;
        let (next, keys): (u64, Vec<Vec<u8>>) = redis::from_redis_value(reply)?;
        if !keys.is_empty() {
            let removed: i64 = redis::cmd("UNLINK")
                .arg(keys)
                .query_async(connection)
                .await?;
            deleted += removed;
        }
        if next == 0 {
            return Ok(deleted);
        }
        cursor = next;
    }
}

/// Sends a command to a specific cluster node when a route is given.
trait Routed {
    async fn send_to(
        &mut self,
        command: redis::Cmd,
        route: Option<RoutingInfo>,
    ) -> RedisResult<Value>;
}

impl Routed for redis::aio::MultiplexedConnection {
    async fn send_to(&mut self, command: redis::Cmd, _: Option<RoutingInfo>) -> RedisResult<Value> {
        command.query_async(self).await
    }
}

impl Routed for ClusterConnection {
    async fn send_to(
        &mut self,
        command: redis::Cmd,
        route: Option<RoutingInfo>,
    ) -> RedisResult<Value> {
        match route {
            Some(route) => self.route_command(command, route).await,
            None => command.query_async(self).await,
        }
    }
}

/// Live masters as (host, port), from CLUSTER NODES.
async fn masters(cluster: &mut ClusterConnection) -> RedisResult<Vec<(String, u16)>> {
    let text: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(cluster)
        .await?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let flags = fields.get(2)?;
            if !flags.split(',').any(|f| f == "master") || flags.contains("fail") {
                return None;
            }
            let address = fields.get(1)?.split('@').next()?;
            let (host, port) = address.rsplit_once(':')?;
            Some((host.to_string(), port.parse().ok()?))
        })
        .collect())
}
