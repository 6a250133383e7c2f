// Stuck flags. The server computes them when it answers /api/lanes, but two of them come about by
// time passing with nothing happening (no heartbeat is exactly "no event"), so the page recomputes
// those every second from the claim's own numbers, with the same rules as docs/CONSOLE.md:
//   lease_expiring: under a third of the lease left and no heartbeat in the last third of it;
//   over_runtime:   a claim older than its lane's max_runtime_seconds (only spawned and pool lanes
//                   set one; their runs are stopped at that age, so one still live is stuck).
// `unclaimable` (a ready task no lane can take) needs the whole board, so only the server says it.

export const LABELS = {
  lease_expiring: "lease running out, no heartbeat",
  over_runtime: "past its runtime limit",
  unclaimable: "no lane can take it",
};

/** The time-driven flags of one claim at `nowMs`: a subset of ["lease_expiring", "over_runtime"]. */
export function claimFlags(claim, lane, nowMs) {
  const flags = [];
  const third = claim.lease_ms / 3;
  const lastBeatMs = claim.last_heartbeat_at != null ? claim.last_heartbeat_at * 1000 : claim.claimed_at_ms;
  if (claim.lease_expires_at_ms - nowMs < third && nowMs - lastBeatMs > third) flags.push("lease_expiring");
  if (lane.max_runtime_seconds != null
      && nowMs - claim.claimed_at_ms > lane.max_runtime_seconds * 1000) flags.push("over_runtime");
  return flags;
}
