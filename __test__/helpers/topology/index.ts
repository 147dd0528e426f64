/**
 * Multi-process topologies for the fault-injection suite: a Redis Cluster, a Sentinel set, a TLS
 * server and an ACL server, all real redis-server processes on 127.0.0.1 with working files in a
 * private temp directory.
 */
export { type Reply, RedisReplyError, type TopologyNode } from './node';
export { type Cluster, type ClusterNode, type ClusterOptions, keySlot, startCluster } from './cluster';
export { type SentinelOptions, type SentinelSet, startSentinelSet } from './sentinel';
export {
  type CertificateFiles,
  startTlsServer,
  type TlsOptions,
  type TlsServer,
  tlsSupported,
  tlsUnsupportedReason,
} from './tls';
export { type AclOptions, type AclServer, startAclServer } from './acl';
