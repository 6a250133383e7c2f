// The four admin actions. Each asks first (dialog.js), POSTs with the CSRF token (api.js) and says
// what came of it. The server refuses them to a lane session (403 forbidden) whatever the page
// shows; the page hides them from a lane session so nobody is offered what will be refused.
import { api } from "./api.js";
import { confirmAction, toast } from "./dialog.js";

const path = (id, verb) => `api/tasks/${encodeURIComponent(id)}/${verb}`;

export async function reclaim(taskId) {
  const reply = await confirmAction({
    title: `Reclaim ${taskId}?`,
    message: "The claim ends now and the task goes back to ready. A worker still running it will be refused when it reports.",
    fields: [{ name: "reason", label: "Reason (optional)", placeholder: "worker hung" }],
    confirmLabel: "Reclaim", danger: true,
    run: (v) => api(path(taskId, "reclaim"), { method: "POST", body: v.reason ? { reason: v.reason } : {} }),
  });
  if (reply) toast(`${taskId} reclaimed: ${reply.task?.status ?? "done"}`);
  return reply;
}

export async function unblock(taskId) {
  const reply = await confirmAction({
    title: `Unblock ${taskId}?`,
    message: "The task becomes ready again (or todo while a parent is unfinished).",
    confirmLabel: "Unblock",
    run: () => api(path(taskId, "unblock"), { method: "POST", body: {} }),
  });
  if (reply) toast(`${taskId} unblocked: ${reply.task?.status ?? "done"}`);
  return reply;
}

export async function assign(taskId, current, laneNames) {
  const reply = await confirmAction({
    title: `Assign ${taskId}`,
    message: "Leave empty to unassign.",
    fields: [{ name: "assignee", label: "Assignee (lane)", value: current ?? "", list: laneNames }],
    confirmLabel: "Assign",
    run: (v) => api(path(taskId, "assign"), { method: "POST", body: { assignee: v.assignee.trim() || null } }),
  });
  if (reply) toast(`${taskId} assigned to ${reply.task?.assignee ?? "nobody"}`);
  return reply;
}

export async function create(laneNames) {
  const reply = await confirmAction({
    title: "Create a task",
    fields: [
      { name: "title", label: "Title", required: true },
      { name: "body", label: "Body (optional)", multiline: true },
      { name: "assignee", label: "Assignee (optional)", list: laneNames },
      { name: "priority", label: "Priority (optional)", type: "number", placeholder: "0" },
      { name: "parents", label: "Parents (optional, ids separated by spaces or commas)" },
    ],
    confirmLabel: "Create",
    run: (v) => {
      const body = { title: v.title.trim() };
      if (v.body.trim()) body.body = v.body;
      if (v.assignee.trim()) body.assignee = v.assignee.trim();
      if (v.priority.trim()) body.priority = Number(v.priority);
      const parents = v.parents.split(/[\s,]+/).filter(Boolean);
      if (parents.length) body.parents = parents;
      return api("api/tasks", { method: "POST", body });
    },
  });
  if (reply) toast(`Created ${reply.task?.id}`);
  return reply;
}
