// Building DOM nodes without HTML strings: every text goes in through textContent, so
// nothing a policy, a payload or the server says can become markup or script.

/**
 * Make an element: h("li", {class: "x", onclick: fn}, "text", child, ...).
 * Attributes named on* become event listeners; `hidden`, `open` and `disabled` are
 * booleans; everything else is set with setAttribute (never parsed as markup).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      el.className = value;
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

/** Replace the children of `el` with `children` (same rules as h). */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** The element with this id; a missing one is a bug in index.html, said loudly. */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no element #${id}`);
  return el;
}
