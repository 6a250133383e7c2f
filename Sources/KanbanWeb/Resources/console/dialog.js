// The confirmation dialog every admin action goes through: an in-page <dialog>, not
// window.confirm (which a headless browser answers by itself and which cannot show the refusal).
// It stays open on a refusal and shows the server's error code, so the person sees why.
import { h, replace } from "./dom.js";

let counter = 0;

/**
 * Asks before running `run(values)`. `fields`: [{name, label, value, placeholder, multiline,
 * list: [suggestions], type}]. Resolves with run's result, or null when cancelled.
 */
export function confirmAction({ title, message, fields = [], confirmLabel = "Confirm", danger = false, run }) {
  const dialog = document.getElementById("dialog");
  return new Promise((resolve) => {
    const inputs = {};
    const error = h("p", { class: "dialog-error", role: "alert" });
    const confirm = h("button", { type: "submit", class: danger ? "danger" : "primary" }, confirmLabel);
    const cancel = h("button", { type: "button", onclick: () => finish(null) }, "Cancel");
    const rows = fields.map((f) => {
      const id = `dlg-${++counter}`;
      let input;
      if (f.multiline) {
        input = h("textarea", { id, name: f.name, rows: 4, placeholder: f.placeholder });
        input.value = f.value ?? "";
      } else {
        const listId = f.list ? `${id}-list` : null;
        input = h("input", { id, name: f.name, type: f.type ?? "text", placeholder: f.placeholder,
          list: listId, required: f.required, autocomplete: "off", value: f.value ?? "" });
        if (listId) input = [input, h("datalist", { id: listId }, f.list.map((v) => h("option", { value: v })))];
      }
      inputs[f.name] = Array.isArray(input) ? input[0] : input;
      return h("div", { class: "field" }, h("label", { for: id }, f.label), input);
    });
    const form = h("form", { class: "dialog-form", method: "dialog" },
      h("h2", { id: "dialog-title" }, title),
      message ? h("p", {}, message) : null,
      rows, error,
      h("div", { class: "dialog-buttons" }, cancel, confirm));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const values = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value]));
      confirm.disabled = cancel.disabled = true;
      error.textContent = "";
      try {
        finish(await run(values));
      } catch (err) {
        // The code first: it is what the docs and the CLI's exit codes are keyed on.
        error.textContent = `Refused: ${err.code ?? "error"}${err.message && err.message !== err.code ? ` — ${err.message}` : ""}`;
        confirm.disabled = cancel.disabled = false;
      }
    });
    let done = false;
    const finish = (result) => {
      if (done) return;
      done = true;
      dialog.removeEventListener("cancel", onCancel);
      if (dialog.open) dialog.close();
      replace(dialog);
      resolve(result);
    };
    const onCancel = (e) => { e.preventDefault(); finish(null); }; // Escape
    dialog.addEventListener("cancel", onCancel);
    dialog.setAttribute("aria-labelledby", "dialog-title");
    replace(dialog, form);
    dialog.showModal();
    (Object.values(inputs)[0] ?? cancel).focus();
  });
}

/** A short message in the status area (polite live region), gone after a few seconds. */
export function toast(text, kind = "ok") {
  const area = document.getElementById("toasts");
  const note = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  area.append(note);
  setTimeout(() => note.remove(), 6000);
}
