/** The cluster map, routing and the forwarding decision, and the ledger of a move. */
export {
  adopt,
  clusterMapSchema,
  decide,
  FROM_CLIENT,
  leaderStep,
  MAX_HOPS,
  movingShards,
  newer,
  parseClusterMap,
  previousRingOf,
  ringOf,
  route,
  sameMap,
  singleShardMap,
} from './cluster-map.ts';
export type {
  Arrival,
  ClusterError,
  ClusterMap,
  ClusterNode,
  ClusterShard,
  Decision,
  LeaderStep,
  Moving,
  Route,
  Target,
} from './cluster-map.ts';
export { Handoff } from './handoff.ts';
