// The console's views: one tab per view in the header, one panel per view in the page.
// Each view's panel is an element `#view-ID` in index.html (role=tabpanel, hidden until
// shown); main.js registers the views the server offers (its workspace's `features`)
// and the others' tabs stay hidden. The URL's fragment names the view (#tests), so a
// view can be linked to and the browser's Back goes to the previous one.
//
// Keyboard: the tabs follow the WAI-ARIA tabs pattern: Tab reaches the selected tab,
// Left/Right (and Home/End) move between tabs and show them.

import { byId, h } from "./dom.js";

const views = new Map(); // id -> {tab, panel, onShow}
let current = null;

/**
 * Add a view: its tab (labelled `label`) goes in the header; `onShow` runs each time it
 * is shown (to load or refresh what it shows). The panel `#view-ID` must exist.
 */
export function registerView(id, label, onShow = () => {}) {
  const panel = byId(`view-${id}`);
  const tab = h("button", {
    type: "button", role: "tab", id: `tab-${id}`, class: "view-tab",
    "aria-controls": panel.id, "aria-selected": "false", tabindex: "-1",
    onclick: () => showView(id),
    onkeydown: (e) => moveFocus(e, id),
  }, label);
  panel.setAttribute("role", "tabpanel");
  panel.setAttribute("aria-labelledby", tab.id);
  byId("views").appendChild(tab);
  views.set(id, { tab, panel, onShow });
  return panel;
}

/** Show the view `id` (ignored when there is no such view); updates the URL fragment. */
export function showView(id, { focus = false, push = true } = {}) {
  const view = views.get(id);
  if (!view) return;
  for (const [other, v] of views) {
    const on = other === id;
    v.tab.setAttribute("aria-selected", on ? "true" : "false");
    v.tab.tabIndex = on ? 0 : -1;
    v.panel.hidden = !on;
  }
  if (focus) view.tab.focus();
  if (current !== id) {
    current = id;
    document.title = `receiver console · ${view.tab.textContent}`;
    if (push && location.hash !== `#${id}`) history.pushState(null, "", `#${id}`);
  }
  view.onShow();
}

/** The view on screen (its id). */
export function currentView() {
  return current;
}

/** Show the view the URL names, or `fallback`. Follows Back and Forward from then on. */
export function startViews(fallback) {
  const fromUrl = () => {
    const id = location.hash.slice(1);
    return views.has(id) ? id : fallback;
  };
  window.addEventListener("popstate", () => showView(fromUrl(), { push: false }));
  showView(fromUrl(), { push: false });
}

function moveFocus(event, id) {
  const ids = [...views.keys()];
  const at = ids.indexOf(id);
  const to = {
    ArrowRight: ids[(at + 1) % ids.length],
    ArrowLeft: ids[(at - 1 + ids.length) % ids.length],
    Home: ids[0],
    End: ids[ids.length - 1],
  }[event.key];
  if (to === undefined) return;
  event.preventDefault();
  showView(to, { focus: true });
}
