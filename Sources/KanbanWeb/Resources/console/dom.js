// Builds DOM nodes from data. Every string goes in as a text node or an attribute value, never as
// HTML: board values (titles, bodies, logs) are written by workers and must not become markup.
// No inline style either: the server's CSP (style-src 'self') forbids it, so looks come from classes.

/** h("a", {href: "#/", class: "x", onclick: fn}, "text", child, [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value == null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

/** Appends children (nodes, strings, numbers, nested arrays); null/false/undefined are skipped. */
export function append(el, children) {
  for (const child of [children].flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replaces everything inside `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}
