// The Tasks page (#/tasks?lane=&status=&q=&offset=): filters and a paged list. The filters live in
// the hash, so a filtered view can be bookmarked and Back works.
import { api, query } from "./api.js";
import { h, replace } from "./dom.js";
import { when } from "./format.js";
import * as actions from "./actions.js";

export const STATUSES = ["triage", "todo", "scheduled", "ready", "running", "blocked", "review", "done", "archived"];
const PAGE = 50;

export function mount(main, ctx, params) {
  const filters = { lane: params.get("lane") ?? "", status: params.get("status") ?? "", q: params.get("q") ?? "" };
  const offset = Math.max(0, Number(params.get("offset")) || 0);
  const go = (f, off) => { location.hash = `#/tasks${query({ ...f, offset: off || "" })}`; };

  const lane = h("select", { id: "f-lane", name: "lane" }, h("option", { value: "" }, "any lane"),
    ctx.laneNames().map((n) => h("option", { value: n }, n)));
  if (filters.lane && !ctx.laneNames().includes(filters.lane)) lane.append(h("option", { value: filters.lane }, filters.lane));
  lane.value = filters.lane;
  const status = h("select", { id: "f-status", name: "status" }, h("option", { value: "" }, "any status"),
    STATUSES.map((s) => h("option", { value: s }, s)));
  status.value = filters.status;
  const text = h("input", { id: "f-q", name: "q", type: "search", value: filters.q, placeholder: "title or id" });
  const form = h("form", { class: "filters", role: "search" },
    h("div", { class: "field" }, h("label", { for: "f-lane" }, "Lane"), lane),
    h("div", { class: "field" }, h("label", { for: "f-status" }, "Status"), status),
    h("div", { class: "field grow" }, h("label", { for: "f-q" }, "Text"), text),
    h("button", { type: "submit", class: "primary" }, "Filter"));
  form.addEventListener("submit", (e) => { e.preventDefault(); go({ lane: lane.value, status: status.value, q: text.value.trim() }, 0); });

  const create = ctx.isAdmin ? h("button", { type: "button", class: "primary",
    onclick: async () => { const r = await actions.create(ctx.laneNames()); if (r?.task) location.hash = `#/tasks/${encodeURIComponent(r.task.id)}`; } }, "New task") : null;
  const result = h("div", { class: "task-results" }, h("p", { class: "muted", role: "status" }, "Loading…"));
  replace(main, h("section", { class: "page" },
    h("div", { class: "page-head" }, h("h1", {}, "Tasks"), create), form, result));

  api(`api/tasks${query({ ...filters, limit: PAGE, offset })}`).then((reply) => {
    const { tasks, total } = reply;
    const pager = h("nav", { class: "pager", "aria-label": "pages" },
      h("button", { type: "button", disabled: offset === 0, onclick: () => go(filters, Math.max(0, offset - PAGE)) }, "‹ Previous"),
      h("span", { role: "status" }, total ? `${offset + 1}–${offset + tasks.length} of ${total}` : "no tasks"),
      h("button", { type: "button", disabled: offset + tasks.length >= total, onclick: () => go(filters, offset + PAGE) }, "Next ›"));
    replace(result, tasks.length ? h("div", { class: "scroll" }, taskTable(tasks)) : h("p", { class: "empty" }, "No tasks match."), pager);
  }, (err) => replace(result, h("p", { class: "error", role: "alert" }, `Could not load tasks: ${err.code}`)));
  return { unmount() {} };
}

function taskTable(tasks) {
  return h("table", { class: "tasks" },
    h("thead", {}, h("tr", {}, ["Id", "Title", "Status", "Assignee", "Prio", "Created"].map((c, i) =>
      h("th", { scope: "col", class: i >= 4 ? "wide-only" : null }, c)))),
    h("tbody", {}, tasks.map((t) => h("tr", { dataset: { task: t.id } },
      h("td", {}, h("a", { href: `#/tasks/${encodeURIComponent(t.id)}`, class: "mono" }, t.id)),
      h("td", { class: "title" }, t.title),
      h("td", {}, h("span", { class: `status s-${t.status}` }, t.status)),
      h("td", {}, t.assignee ?? "—"),
      h("td", { class: "num wide-only" }, String(t.priority ?? 0)),
      h("td", { class: "wide-only" }, when(t.created_at * 1000))))));
}
