// The board's clock as seen from this page. Countdowns and ages are computed against the server's
// `now_ms` (from /api/lanes) plus the time elapsed here since, so a browser whose clock is off by
// minutes still shows the right lease left. performance.now() is monotonic: a wall-clock step on
// this machine moves nothing.
let serverMs = Date.now();
let localAt = performance.now();

/** Adopts the server's `now_ms` from a reply. */
export function sync(nowMs) {
  if (typeof nowMs !== "number") return;
  serverMs = nowMs;
  localAt = performance.now();
}

/** The board's now, in ms. */
export function now() {
  return serverMs + (performance.now() - localAt);
}
