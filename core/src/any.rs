//! One connection type for every topology, so the rest of the code (lanes,
//! scripts, scans) does not care whether it talks to one server or a cluster.

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, ToRedisArgs, Value};

/// A cheap-to-clone handle on one live connection, whatever the topology.
#[derive(Clone)]
pub enum AnyConnection {
    /// One server: standalone, or the master Sentinel named.
    Single(MultiplexedConnection),
    /// A Redis Cluster; redis-rs routes each command to its slot's node.
    Cluster(ClusterConnection),
}

impl AnyConnection {
    /// Whether this is a cluster connection, which heals itself and is never replaced.
    pub fn is_cluster(&self) -> bool {
        matches!(self, AnyConnection::Cluster(_))
    }

    /// Subscribes to `channel`; messages arrive through the connection's push sink.
    pub async fn subscribe(&mut self, channel: impl ToRedisArgs) -> RedisResult<()> {
        match self {
            AnyConnection::Single(c) => c.subscribe(channel).await,
            AnyConnection::Cluster(c) => c.subscribe(channel).await,
        }
    }

    /// Stops the subscription to `channel`.
    pub async fn unsubscribe(&mut self, channel: impl ToRedisArgs) -> RedisResult<()> {
        match self {
            AnyConnection::Single(c) => c.unsubscribe(channel).await,
            AnyConnection::Cluster(c) => c.unsubscribe(channel).await,
        }
    }

    /// Subscribes to the channels matching `pattern`.
    pub async fn psubscribe(&mut self, pattern: impl ToRedisArgs) -> RedisResult<()> {
        match self {
            AnyConnection::Single(c) => c.psubscribe(pattern).await,
            AnyConnection::Cluster(c) => c.psubscribe(pattern).await,
        }
    }

    /// Stops the subscription to `pattern`.
    pub async fn punsubscribe(&mut self, pattern: impl ToRedisArgs) -> RedisResult<()> {
        match self {
            AnyConnection::Single(c) => c.punsubscribe(pattern).await,
            AnyConnection::Cluster(c) => c.punsubscribe(pattern).await,
        }
    }

    /// Subscribes to the sharded channel `channel` (SSUBSCRIBE) on the node serving its
    /// slot; redis-rs moves it when the slot moves. Only on a cluster: a single server
    /// has nothing to shard.
    pub async fn ssubscribe(&mut self, channel: impl ToRedisArgs) -> RedisResult<()> {
        match self {
            AnyConnection::Single(_) => Err(not_sharded()),
            AnyConnection::Cluster(c) => c.ssubscribe(channel).await,
        }
    }

    /// Turns on server-assisted invalidation in broadcast mode (`CLIENT TRACKING ON
    /// BCAST`, for the keys starting with one of `prefixes`, or every key when there
    /// are none): every write to such a key then pushes an `invalidate` message here.
    /// On a cluster every master this client knows is asked, since each pushes for the
    /// keys it serves; the answer is the addresses that turned it on (empty on a single
    /// server).
    pub async fn track(&mut self, prefixes: &[String]) -> RedisResult<Vec<String>> {
        let mut command = redis::cmd("CLIENT");
        command.arg("TRACKING").arg("ON").arg("BCAST");
        for prefix in prefixes {
            command.arg("PREFIX").arg(prefix);
        }
        match self {
            AnyConnection::Single(c) => command.query_async::<()>(c).await.map(|()| Vec::new()),
            AnyConnection::Cluster(c) => {
                let all = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                let Value::Map(answers) = c.route_command(command, all).await? else {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::UnexpectedReturnType,
                        "CLIENT TRACKING: no answer per node",
                    )));
                };
                let mut tracked = Vec::new();
                for (address, answer) in answers {
                    if let Value::ServerError(error) = answer {
                        return Err(error.into());
                    }
                    if let Value::BulkString(address) = address {
                        tracked.push(String::from_utf8_lossy(&address).into_owned());
                    }
                }
                Ok(tracked)
            }
        }
    }

    /// Who serves which slots on a cluster (`None` on a single server), from the
    /// answering node's `CLUSTER NODES`: a slot migration, a failover or a new master
    /// changes it.
    pub async fn slot_owners(&mut self) -> RedisResult<Option<SlotOwners>> {
        match self {
            AnyConnection::Single(_) => Ok(None),
            AnyConnection::Cluster(c) => {
                let text: String = redis::cmd("CLUSTER").arg("NODES").query_async(c).await?;
                Ok(Some(SlotOwners::parse(&text)))
            }
        }
    }

    /// Stops the subscription to the sharded channel `channel`.
    pub async fn sunsubscribe(&mut self, channel: impl ToRedisArgs) -> RedisResult<()> {
        match self {
            AnyConnection::Single(_) => Err(not_sharded()),
            AnyConnection::Cluster(c) => c.sunsubscribe(channel).await,
        }
    }
}

impl ConnectionLike for AnyConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            AnyConnection::Single(c) => c.req_packed_command(cmd),
            AnyConnection::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            AnyConnection::Single(c) => c.req_packed_commands(cmd, offset, count),
            AnyConnection::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            AnyConnection::Single(c) => c.get_db(),
            AnyConnection::Cluster(c) => c.get_db(),
        }
    }
}

/// The live masters of a cluster and the slots each serves, comparable between two looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotOwners {
    /// Each live master's address, sorted.
    pub masters: Vec<String>,
    /// Each live master's address and slot ranges (migrations included), sorted.
    pub slots: Vec<String>,
    /// Whether live masters serve all 16384 slots (not while a failed master's replica is
    /// still to take over).
    pub complete: bool,
}

impl SlotOwners {
    /// Reads `CLUSTER NODES` text; masters flagged failing are left out.
    pub fn parse(nodes: &str) -> Self {
        let mut masters = Vec::new();
        let mut slots = Vec::new();
        let mut served = 0u32;
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let (Some(address), Some(flags)) = (fields.get(1), fields.get(2)) else {
                continue;
            };
            if !flags.split(',').any(|flag| flag == "master") || flags.contains("fail") {
                continue;
            }
            let address = address.split('@').next().unwrap_or(address);
            masters.push(address.to_string());
            let ranges: Vec<&str> = fields.iter().skip(8).copied().collect();
            for range in ranges.iter().filter(|range| !range.starts_with('[')) {
                let (first, last) = range.split_once('-').unwrap_or((range, range));
                if let (Ok(first), Ok(last)) = (first.parse::<u32>(), last.parse::<u32>()) {
                    served += last.saturating_sub(first) + 1;
                }
            }
            slots.push(format!("{address} {}", ranges.join(" ")));
        }
        masters.sort();
        slots.sort();
        Self {
            masters,
            slots,
            complete: served >= 16384,
        }
    }
}

fn not_sharded() -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::InvalidClientConfig,
        "sharded pub/sub needs a Redis Cluster",
    ))
}

#[cfg(test)]
mod tests {
    use super::SlotOwners;

    const NODES: &str = "\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-8191
b1 127.0.0.1:7001@17001 master - 0 0 2 connected 8192-16383
c1 127.0.0.1:7002@17002 slave a1 0 0 1 connected
";

    #[test]
    fn reads_masters_and_their_slots() {
        let owners = SlotOwners::parse(NODES);
        assert_eq!(owners.masters, ["127.0.0.1:7000", "127.0.0.1:7001"]);
        assert_eq!(
            owners.slots,
            ["127.0.0.1:7000 0-8191", "127.0.0.1:7001 8192-16383"]
        );
    }

    #[test]
    fn a_migration_changes_the_slots_only_and_a_failover_the_masters() {
        let migrated = NODES
            .replace("0-8191", "0-8190")
            .replace("8192-16383", "8191-16383");
        let moved = SlotOwners::parse(&migrated);
        let before = SlotOwners::parse(NODES);
        assert_eq!(moved.masters, before.masters);
        assert_ne!(moved.slots, before.slots);

        let failed_over = NODES
            .replace("myself,master", "myself,master,fail")
            .replace("slave a1", "master -")
            .replace("1 connected\n", "3 connected 0-8191\n");
        let after = SlotOwners::parse(&failed_over);
        assert_eq!(after.masters, ["127.0.0.1:7001", "127.0.0.1:7002"]);
        assert!(after.complete);

        let orphaned = NODES.replace("myself,master", "myself,master,fail");
        assert!(!SlotOwners::parse(&orphaned).complete);
        assert!(before.complete);
    }
}
