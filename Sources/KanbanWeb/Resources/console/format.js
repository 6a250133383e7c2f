// Times on the board come in two units: Hermes' columns are unix seconds (created_at,
// oldest_queued_at, last_heartbeat_at), the bridge's own are milliseconds (claimed_at_ms,
// lease_expires_at_ms, since_ms, an event's `at`). Names ending in Ms/S below say which.

/** "4s", "2m 05s", "1h 02m", "3d 4h": a duration for a person glancing at a board. */
export function duration(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(hrs / 24)}d ${hrs % 24}h`;
}

/** "12s ago" from a past instant in ms, given the board's now in ms. */
export function ago(thenMs, nowMs) {
  return thenMs == null ? "never" : `${duration(nowMs - thenMs)} ago`;
}

/** A lease countdown: "0:42 left" or "expired 5s ago". */
export function countdown(expiresMs, nowMs) {
  const left = expiresMs - nowMs;
  if (left <= 0) return `expired ${duration(-left)} ago`;
  const s = Math.ceil(left / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")} left`;
}

/** A local date and time for an instant in ms (title attributes, run history). */
export function when(ms) {
  return ms == null ? "—" : new Date(ms).toLocaleString();
}

export const secondsToMs = (s) => (s == null ? null : s * 1000);
