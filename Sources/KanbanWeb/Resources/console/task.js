// The Task page (#/tasks/<id>): body, parents and children, every run with its outcome, reason and
// metadata, and the tail of the worker's log. It reloads when an event about this task arrives.
import { api } from "./api.js";
import { h, replace } from "./dom.js";
import { when } from "./format.js";
import { coalesced } from "./stream.js";
import * as actions from "./actions.js";

// Run fields shown in their own columns; any other field the server sends is shown as metadata.
const RUN_COLUMNS = new Set(["id", "task_id", "status", "outcome", "summary", "error", "reason", "started_at", "ended_at", "profile", "metadata"]);

export function mount(main, ctx, _params, id) {
  const page = h("section", { class: "page" }, h("p", { class: "muted", role: "status" }, `Loading ${id}…`));
  replace(main, page);
  const load = async () => {
    try {
      const reply = await api(`api/tasks/${encodeURIComponent(id)}`);
      render(page, reply, ctx, load);
    } catch (err) {
      replace(page, h("h1", {}, id), h("p", { class: "error", role: "alert" },
        err.code === "not_found" ? "No such task." : `Could not load the task: ${err.code}`));
    }
  };
  const refetch = coalesced(load, 300);
  const unsubscribe = ctx.stream.subscribe((e) => { if (e.task_id === id) refetch(); });
  load();
  return { unmount() { unsubscribe(); refetch.cancel(); } };
}

function render(page, { task, log_tail: logTail }, ctx, reload) {
  const after = (p) => p.then((r) => { if (r) reload(); });
  const buttons = ctx.isAdmin ? [
    task.status === "running" ? h("button", { type: "button", class: "danger", onclick: () => after(actions.reclaim(task.id)) }, "Reclaim") : null,
    task.status === "blocked" ? h("button", { type: "button", onclick: () => after(actions.unblock(task.id)) }, "Unblock") : null,
    !["done", "archived"].includes(task.status)
      ? h("button", { type: "button", onclick: () => after(actions.assign(task.id, task.assignee, ctx.laneNames())) }, "Assign…") : null,
  ] : [];
  const links = (ids) => (ids?.length ? ids.map((p) => h("a", { href: `#/tasks/${encodeURIComponent(p)}`, class: "mono link-chip" }, p)) : "—");
  replace(page,
    h("div", { class: "page-head" }, h("h1", { class: "task-title" }, task.title), h("div", { class: "actions" }, buttons)),
    h("dl", { class: "facts" },
      fact("Id", h("span", { class: "mono" }, task.id)),
      fact("Status", h("span", { class: `status s-${task.status}`, id: "task-status" }, task.status)),
      fact("Assignee", task.assignee ?? "—"),
      fact("Priority", String(task.priority ?? 0)),
      fact("Created", when(task.created_at * 1000)),
      task.claim_lock ? fact("Claim", h("span", { class: "mono" }, task.claim_lock)) : null,
      fact("Parents", links(task.parents)),
      fact("Children", links(task.children)),
      task.result ? fact("Result", task.result) : null),
    h("h2", {}, "Body"),
    task.body ? h("pre", { class: "body" }, task.body) : h("p", { class: "muted" }, "No body."),
    h("h2", {}, "Runs"),
    runs(task.runs ?? []),
    h("h2", {}, "Worker log (tail)"),
    logTail ? h("pre", { class: "log", tabindex: "0", "aria-label": "worker log" }, logTail)
      : h("p", { class: "muted" }, "No log for this task (only spawned and pool workers write one)."));
}

const fact = (name, value) => h("div", {}, h("dt", {}, name), h("dd", {}, value));

function runs(list) {
  if (!list.length) return h("p", { class: "muted" }, "Never run.");
  return h("div", { class: "scroll" }, h("table", { class: "runs" },
    h("thead", {}, h("tr", {}, ["Run", "Status", "Outcome", "Reason", "Started", "Ended", "Metadata"].map((c) => h("th", { scope: "col" }, c)))),
    h("tbody", {}, [...list].reverse().map((r) => h("tr", {},
      h("td", { class: "mono" }, String(r.id)),
      h("td", {}, r.status ?? "—"),
      h("td", {}, r.outcome ? h("span", { class: `outcome o-${r.outcome}` }, r.outcome) : "—"),
      h("td", { class: "reason" }, r.reason ?? r.error ?? r.summary ?? "—"),
      h("td", {}, when(r.started_at * 1000)),
      h("td", {}, r.ended_at ? when(r.ended_at * 1000) : "—"),
      h("td", { class: "meta" }, metadata(r)))))));
}

/** Everything else the run carries (profile, claim lock, summary beside an error, metadata). */
function metadata(run) {
  const extra = Object.entries(run).filter(([k, v]) => !RUN_COLUMNS.has(k) && v != null && v !== "");
  if (run.profile) extra.unshift(["profile", run.profile]);
  if (run.summary && run.error) extra.push(["summary", run.summary]);
  const meta = run.metadata && typeof run.metadata === "object" ? Object.entries(run.metadata) : [];
  const all = [...extra, ...meta];
  if (!all.length) return "—";
  return h("dl", { class: "kv" }, all.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, typeof v === "object" ? JSON.stringify(v) : String(v)))));
}
