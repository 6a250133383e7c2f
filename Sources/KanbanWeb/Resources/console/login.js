// The login page. The token goes once to POST /api/login and is then forgotten: the input is
// cleared, nothing is written to storage or the URL, and the server's HttpOnly cookie carries the
// session from then on.
import { api } from "./api.js";
import { h, replace } from "./dom.js";

export function mount(main, onLoggedIn) {
  const input = h("input", { id: "token", name: "token", type: "password", required: true,
    autocomplete: "off", spellcheck: "false", "aria-describedby": "token-help" });
  const error = h("p", { class: "error", role: "alert", id: "login-error" });
  const submit = h("button", { type: "submit", class: "primary" }, "Log in");
  const form = h("form", { class: "login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Log in to the board"),
    h("div", { class: "field" }, h("label", { for: "token" }, "Token"), input),
    h("p", { class: "muted", id: "token-help" },
      "The admin token (admin.token next to the board) can act; a lane token (lt_…) can only look."),
    error, submit);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    submit.disabled = true;
    error.textContent = "";
    try {
      const session = await api("api/login", { method: "POST", body: { token: input.value }, quiet401: true });
      input.value = "";
      onLoggedIn(session);
    } catch (err) {
      error.textContent = err.status === 401 || err.status === 403
        ? `Not accepted (${err.code}).` : `Could not log in: ${err.code}`;
      submit.disabled = false;
      input.select();
    }
  });
  replace(main, h("section", { class: "page narrow" }, form));
  input.focus();
}
