// The Lanes page (#/): every lane's capacity, queue, parked workers, live claims with their lease
// countdown and last heartbeat, and stuck flags; Hermes' dispatcher caps beside what lanes hold.
// It refetches /api/lanes when an event arrives (coalesced, see stream.js), never on a timer; the
// one-second tick only recomputes countdowns and ages from the last answer.
import { api } from "./api.js";
import * as clock from "./clock.js";
import { h, replace } from "./dom.js";
import { ago, countdown, duration } from "./format.js";
import { coalesced } from "./stream.js";
import { claimFlags, LABELS } from "./stuck.js";
import * as actions from "./actions.js";

const taskLink = (id) => h("a", { href: `#/tasks/${encodeURIComponent(id)}`, class: "mono" }, id);
const parkedCount = (p) => (Array.isArray(p) ? p.length : Number(p ?? 0));

export function mount(main, ctx) {
  let ticking = []; // [{update(nowMs)}] for the rows on screen
  let lastShown = null;
  const status = h("p", { class: "muted", role: "status" }, "Loading lanes…");
  const body = h("div", { class: "lanes-body" });
  replace(main, h("section", { class: "page" }, h("div", { class: "page-head" }, h("h1", {}, "Lanes"), status), body));

  const load = async () => {
    try {
      const reply = await api("api/lanes");
      clock.sync(reply.now_ms);
      ctx.setLaneNames(reply.lanes.map((l) => l.name));
      // Re-render only on a change: a rebuilt card would drop the focus of a keyboard user.
      const shown = JSON.stringify({ ...reply, now_ms: 0 });
      if (shown !== lastShown) {
        lastShown = shown;
        ticking = render(body, reply, ctx, load);
        tick();
      }
      status.textContent = summary(reply.lanes);
    } catch (err) {
      status.textContent = `Could not load lanes: ${err.code}`;
    }
  };
  const tick = () => { const t = clock.now(); for (const row of ticking) row.update(t); };
  const refetch = coalesced(load, 250);
  const unsubscribe = ctx.stream.subscribe(() => refetch());
  const unState = ctx.stream.onState((s) => { if (s === "live") refetch(); }); // after a reconnect
  const timer = setInterval(tick, 1000);
  load();
  return { unmount() { unsubscribe(); unState(); refetch.cancel(); clearInterval(timer); } };
}

function summary(lanes) {
  const running = lanes.reduce((n, l) => n + l.running, 0);
  const queued = lanes.reduce((n, l) => n + l.queued, 0);
  return `${lanes.length} lane${lanes.length === 1 ? "" : "s"} · ${running} running · ${queued} queued`;
}

/** Draws the page from one /api/lanes reply; returns the rows that tick. */
function render(body, reply, ctx, reload) {
  const focusKey = document.activeElement?.dataset?.key;
  const ticking = [];
  const cards = reply.lanes.map((lane) => laneCard(lane, ctx, ticking, reload));
  replace(body,
    caps(reply.hermes_caps, reply.lanes),
    reply.lanes.length ? h("div", { class: "lane-grid" }, cards)
      : h("p", { class: "empty" }, "No lanes registered. `kanban-bridge lanes register NAME` adds one."),
    unregistered(reply.unregistered ?? [], ticking));
  if (focusKey) body.querySelector(`[data-key="${CSS.escape(focusKey)}"]`)?.focus();
  return ticking;
}

function caps(hermesCaps, lanes) {
  if (!hermesCaps) return null;
  const running = lanes.reduce((n, l) => n + l.running, 0);
  const busiest = lanes.reduce((n, l) => Math.max(n, l.running), 0);
  const reach = lanes.reduce((n, l) => n + (l.max_concurrency ?? 0), 0);
  const items = [];
  const cap = (key, label, held, heldLabel, value = hermesCaps[key]) => {
    if (value == null) return;
    const full = held != null && held >= value;
    items.push(h("li", { class: full ? "cap full" : "cap" },
      h("span", { class: "cap-name" }, label), " ", h("strong", {}, String(value)),
      held != null ? h("span", { class: "muted" }, ` · lanes hold ${held} ${heldLabel}`) : null,
      full ? h("span", { class: "flag" }, "Hermes spawns nothing more") : null));
  };
  // Unset, Hermes 0.21+ derives the global cap from the host's memory (0.19 applies none).
  const effective = hermesCaps.max_in_progress_effective ?? hermesCaps.max_in_progress;
  const derived = hermesCaps.max_in_progress_source === "derived";
  cap("max_in_progress", derived ? "max_in_progress (derived, Hermes 0.21+)" : "max_in_progress", running, "running", effective);
  cap("max_in_progress_per_profile", "max_in_progress_per_profile", busiest, "in the busiest lane");
  cap("max_spawn", "max_spawn", null);
  // Lanes that can take every slot starve Hermes' own dispatcher while they are busy.
  const starve = effective != null && reach >= effective
    ? h("p", { class: "flag starve" }, `Lanes can take all ${effective} slots (max_concurrency adds up to ${reach}): `
      + `set kanban.max_in_progress in ${hermesCaps.hermes_home}/config.yaml to at least ${reach + 1}, or lower the lanes' max_concurrency.`)
    : null;
  return h("section", { class: "caps", "aria-label": "Hermes dispatcher caps" },
    h("h2", {}, "Hermes' dispatcher caps"),
    h("p", { class: "muted" }, "They count every running task on the host, lanes' claims included."
      + (derived ? ` Unset, Hermes 0.21+ derives max_in_progress from MemTotal (${hermesCaps.mem_total_mib} MiB); 0.19 applies none.` : "")),
    items.length ? h("ul", {}, items) : h("p", {}, "none set"), starve);
}

function laneCard(lane, ctx, ticking, reload) {
  const serverFlags = new Map(); // task_id -> [kind] for flags that belong to a claim row
  const claimIds = new Set(lane.claims.map((c) => c.task_id));
  const loose = [];
  for (const flag of lane.stuck ?? []) {
    if (claimIds.has(flag.task_id) && flag.kind !== "unclaimable") {
      serverFlags.set(flag.task_id, [...(serverFlags.get(flag.task_id) ?? []), flag.kind]);
    } else loose.push(flag);
  }
  const stuckBadge = h("span", { class: "flag lane-stuck", hidden: true }, "stuck");
  const oldestMs = lane.oldest_queued_at != null ? lane.oldest_queued_at * 1000 : null;
  const oldest = h("span", { class: "oldest" }, "—");
  const free = Math.max(0, lane.max_concurrency - lane.running);
  const slots = h("span", { class: "slots", "aria-hidden": "true" },
    Array.from({ length: Math.min(lane.max_concurrency, 24) }, (_, i) => h("span", { class: i < lane.running ? "slot busy" : "slot" })));
  const claimRows = lane.claims.map((c) => claimRow(c, lane, serverFlags.get(c.task_id) ?? [], ctx, ticking, reload));
  const looseRows = loose.map((f) => looseFlag(f, ticking));
  const rowFlagged = () => claimRows.some((r) => r.flagged());
  ticking.push({ update(now) {
    oldest.textContent = oldestMs == null ? "—" : duration(now - oldestMs);
    stuckBadge.hidden = !(looseRows.length || rowFlagged());
  } });
  return h("article", { class: "lane-card", dataset: { lane: lane.name }, "aria-label": `lane ${lane.name}` },
    h("header", { class: "lane-head" },
      h("h2", {}, lane.name), stuckBadge,
      h("span", { class: "muted kind" }, `${lane.kind} · ${lane.claim_mode}`)),
    h("p", { class: "capacity" }, h("span", { class: "running" }, `${lane.running}/${lane.max_concurrency} running`),
      slots, h("span", { class: "muted" }, free ? ` ${free} free` : " full")),
    h("dl", { class: "stats" },
      h("div", {}, h("dt", {}, "Queued"), h("dd", { class: "queued" }, String(lane.queued))),
      h("div", {}, h("dt", {}, "Oldest wait"), h("dd", {}, oldest)),
      h("div", {}, h("dt", {}, "Parked"), h("dd", { class: "parked" }, String(parkedCount(lane.parked))))),
    claimRows.length ? h("ul", { class: "claims", "aria-label": "live claims" }, claimRows.map((r) => r.el))
      : h("p", { class: "muted no-claims" }, "No live claims."),
    runnerList(lane.runners ?? []),
    looseRows.length ? h("ul", { class: "stuck-list", "aria-label": "stuck" }, looseRows.map((r) => r.el)) : null);
}

// Runners (`kanban-bridge runner`) serving the lane from any host, as they last reported.
function runnerList(runners) {
  if (!runners.length) return null;
  return h("ul", { class: "runners", "aria-label": "runners" }, runners.map((r) =>
    h("li", { class: "runner", dataset: { host: r.host } },
      h("span", { class: "runner-host" }, `runner ${r.host}`), h("span", { class: "muted" }, ` pid ${r.pid} · `),
      h("span", { class: "runner-slots" }, `${r.running.length}/${r.slots} slots busy`),
      h("span", { class: "muted" }, ` · seen ${duration(r.seen_ms_ago)} ago`))));
}

function claimRow(claim, lane, serverFlags, ctx, ticking, reload) {
  const lease = h("span", { class: "lease" });
  const beat = h("span", { class: "heartbeat muted" });
  const flags = h("span", { class: "flags" });
  let current = [];
  const beatMs = claim.last_heartbeat_at != null ? claim.last_heartbeat_at * 1000 : null;
  const reclaim = ctx.isAdmin
    ? h("button", { type: "button", class: "small danger reclaim", dataset: { key: `reclaim:${claim.task_id}` },
        onclick: async () => { if (await actions.reclaim(claim.task_id)) reload(); } }, "Reclaim")
    : null;
  const el = h("li", { class: "claim", dataset: { task: claim.task_id } },
    h("span", { class: "claim-id" }, taskLink(claim.task_id), h("span", { class: "muted" }, ` run ${claim.run_id}`)),
    lease, beat, flags, reclaim);
  ticking.push({ update(now) {
    lease.textContent = `lease ${countdown(claim.lease_expires_at_ms, now)}`;
    lease.classList.toggle("warn", claim.lease_expires_at_ms - now < claim.lease_ms / 3);
    beat.textContent = beatMs == null ? "no heartbeat yet" : `heartbeat ${ago(beatMs, now)}`;
    const next = [...new Set([...serverFlags, ...claimFlags(claim, lane, now)])];
    if (next.join() !== current.join()) {
      current = next;
      replace(flags, next.map((k) => h("span", { class: "flag", dataset: { kind: k } }, LABELS[k] ?? k)));
    }
  } });
  return { el, flagged: () => current.length > 0 };
}

function looseFlag(flag, ticking) {
  const age = h("span", { class: "muted" });
  ticking.push({ update(now) { age.textContent = flag.since_ms != null ? ` for ${duration(now - flag.since_ms)}` : ""; } });
  return { el: h("li", { class: "stuck-item", dataset: { kind: flag.kind } },
    h("span", { class: "flag" }, LABELS[flag.kind] ?? flag.kind), " ",
    flag.task_id ? taskLink(flag.task_id) : null, age,
    flag.detail ? h("span", { class: "detail" }, ` — ${flag.detail}`) : null) };
}

function unregistered(entries, ticking) {
  if (!entries.length) return null;
  const rows = entries.map((e) => {
    const oldest = h("td", {});
    const since = e.oldest_queued_at != null ? e.oldest_queued_at * 1000 : null;
    ticking.push({ update(now) { oldest.textContent = since == null ? "—" : duration(now - since); } });
    const stuck = (e.stuck ?? []).map((f) => looseFlag(f, ticking).el);
    return h("tr", { dataset: { assignee: e.assignee } },
      h("th", { scope: "row" }, e.assignee), h("td", { class: "num" }, String(e.queued)), oldest,
      h("td", {}, stuck.length ? h("ul", { class: "stuck-list" }, stuck) : "—"));
  });
  return h("section", { class: "unregistered" },
    h("h2", {}, "Ready work no lane serves"),
    h("p", { class: "muted" }, "Assigned to names that are neither a lane nor a Hermes profile: nothing will claim it."),
    h("div", { class: "scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Assignee"), h("th", { scope: "col" }, "Queued"),
        h("th", { scope: "col" }, "Oldest wait"), h("th", { scope: "col" }, "Stuck"))),
      h("tbody", {}, rows))));
}
