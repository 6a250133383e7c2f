// The live event feed: one EventSource on api/stream for the whole page. The browser reconnects by
// itself and sends Last-Event-ID, so the server replays what was missed; this module only fans the
// events out to whoever listens and reports the connection's state. Nothing here polls the board.

// SSE delivers named events (`event: <type>`) only to listeners of that exact name, so every kind
// must be listed: the bridge's own (EventKind in KanbanModel/Vocabulary.swift) and the kinds Hermes
// writes to the same board (its kanban_db.py), which the change watcher imports unchanged.
const BRIDGE_KINDS = [
  "created", "available", "claimed", "heartbeat", "completed", "blocked", "released", "timed_out",
  "gave_up", "reclaimed", "assigned", "unblocked", "linked", "promoted", "claim_rejected", "spawned",
  "crashed", "spawn_failed", "lane_registered", "lane_updated", "lane_removed",
];
// Hermes 0.19.0's kinds and those of its newer source (0.21.x, main: kanban_db.py, kanban_db_dispatch.py).
// A kind missing here is dropped silently, so the newer ones are listed before any Hermes writes them.
const HERMES_KINDS = [
  "commented", "archived", "scheduled", "reclaim_deferred", "edited", "status_changed", "dependency",
  "protocol_violation", "rate_limited", "promoted_manual", "specified", "attached", "worktree",
  "status", "reprioritized", "decomposed", "unlinked", "attachment_removed", "claim_extended", "stale",
  "completion_blocked_hallucination", "suspected_hallucinated_references", "dependency_wait",
  "block_loop_detected", "tip_scratch_workspace", "respawn_guarded",
  "skipped_nonspawnable", "reconciled", "worker_registered", "terminal_worker_reaped",
  "changes_requested", "review_reopened",
];
const RECENT_MAX = 500;

export class Stream {
  constructor() {
    this.listeners = new Set();
    this.stateListeners = new Set();
    this.recent = []; // newest last, at most RECENT_MAX: what the Events page shows first
    this.state = "connecting";
    this.source = null;
    this.retryTimer = null;
  }

  open() {
    this.close();
    const source = new EventSource("api/stream");
    this.source = source;
    const deliver = (msg) => this.deliver(msg);
    for (const kind of [...BRIDGE_KINDS, ...HERMES_KINDS]) source.addEventListener(kind, deliver);
    source.addEventListener("message", deliver); // an event sent without an `event:` line
    source.addEventListener("open", () => this.setState("live"));
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (a non-200 answer, e.g. 401 after the session ended). The app decides
        // whether to log in again; otherwise try once more in a while with a fresh source.
        this.setState("closed");
        this.retryTimer = setTimeout(() => this.open(), 5000);
      } else {
        this.setState("reconnecting");
      }
    });
  }

  close() {
    clearTimeout(this.retryTimer);
    this.source?.close();
    this.source = null;
  }

  deliver(msg) {
    let event;
    try { event = JSON.parse(msg.data); } catch { return; }
    if (!event || typeof event !== "object") return;
    event.type ??= msg.type;
    this.recent.push(event);
    if (this.recent.length > RECENT_MAX) this.recent.splice(0, this.recent.length - RECENT_MAX);
    for (const listener of this.listeners) listener(event);
  }

  setState(state) {
    this.state = state;
    for (const listener of this.stateListeners) listener(state);
  }

  /** Calls `fn(event)` for each event until the returned function is called. */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onState(fn) {
    this.stateListeners.add(fn);
    fn(this.state);
    return () => this.stateListeners.delete(fn);
  }
}

/**
 * Runs `fn` once, `waitMs` after the first of a burst of calls, and never two at once: a call that
 * comes while `fn` runs schedules one more run after it. A burst of 200 events costs one refetch,
 * and a steady trickle (heartbeats every second) still refreshes every `waitMs` instead of never.
 */
export function coalesced(fn, waitMs) {
  let timer = null, running = false, again = false;
  const run = async () => {
    timer = null;
    if (running) { again = true; return; }
    running = true;
    try { await fn(); } catch { /* fn reports its own errors */ } finally {
      running = false;
      if (again) { again = false; trigger(); }
    }
  };
  const trigger = () => { if (timer === null) timer = setTimeout(run, waitMs); };
  trigger.cancel = () => { clearTimeout(timer); timer = null; again = false; };
  return trigger;
}
