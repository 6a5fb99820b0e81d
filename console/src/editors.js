// The three CodeMirror 6 editors: policy (YAML, diagnostics inline), payload (JSON,
// checked as you type) and users (YAML).
//
// Each editor lives in a shadow root of its container. That is how CodeMirror's styles
// get in under the page's Content-Security-Policy (style-src 'self', no inline styles):
// style-mod, which injects them, writes a <style> element into a document (which the
// policy blocks) but gives a shadow root a constructed style sheet (adoptedStyleSheets,
// rules added through the CSSOM), which the policy allows. The colours below replace
// CodeMirror's defaults so that every token keeps a contrast of at least 4.5:1.

import { basicSetup } from "codemirror";
import { EditorView, keymap, placeholder } from "@codemirror/view";
import { EditorState, Prec } from "@codemirror/state";
import { HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { tags as t } from "@lezer/highlight";
import { yaml } from "@codemirror/lang-yaml";
import { json, jsonParseLinter } from "@codemirror/lang-json";
import { linter, lintGutter, setDiagnostics } from "@codemirror/lint";

// Colours checked against #ffffff (and the active line's #f1f5fb): all >= 4.5:1.
const highlight = HighlightStyle.define([
  { tag: [t.keyword, t.bool, t.null], color: "#7a1f8f" },
  { tag: [t.propertyName, t.definition(t.propertyName)], color: "#0b4f8a" },
  { tag: [t.string, t.special(t.string)], color: "#a3261b" },
  { tag: [t.number, t.integer, t.float], color: "#116334" },
  { tag: [t.comment, t.lineComment, t.blockComment], color: "#5c5f66", fontStyle: "italic" },
  { tag: [t.meta, t.processingInstruction, t.labelName], color: "#3d4450" },
  { tag: [t.typeName, t.tagName, t.atom], color: "#155e75" },
  { tag: [t.punctuation, t.separator, t.bracket, t.operator], color: "#374151" },
  { tag: t.invalid, color: "#b3261e" },
]);

const theme = EditorView.theme({
  "&": { height: "100%", fontSize: "13.5px", backgroundColor: "#ffffff" },
  ".cm-scroller": { fontFamily: "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace" },
  ".cm-gutters": { backgroundColor: "#f3f4f6", color: "#4b5563", borderRight: "1px solid #d1d5db" },
  ".cm-activeLine": { backgroundColor: "#f1f5fb" },
  ".cm-activeLineGutter": { backgroundColor: "#e2e8f0", color: "#1f2937" },
  "&.cm-focused": { outline: "3px solid #1d4ed8", outlineOffset: "-3px" },
  ".cm-placeholder": { color: "#4b5563" },
  ".cm-tooltip-lint": { maxWidth: "40em" },
});

function editor(parent, { doc, language, label, extra = [], onChange, onRun }) {
  const extensions = [
    basicSetup,
    language,
    syntaxHighlighting(highlight),
    theme,
    EditorView.contentAttributes.of({ "aria-label": label }),
    // Ctrl/Cmd+Enter decides from inside an editor too (CodeMirror's own binding for it
    // inserts a blank line; this one runs first).
    Prec.highest(keymap.of([{ key: "Mod-Enter", run: () => (onRun(), true) }])),
    ...extra,
  ];
  if (onChange) {
    extensions.push(EditorView.updateListener.of((u) => u.docChanged && onChange(u)));
  }
  const root = parent.shadowRoot || parent.attachShadow({ mode: "open" });
  const view = new EditorView({ parent: root, root, state: EditorState.create({ doc, extensions }) });
  return { view, extensions };
}

/** The policy editor: one EditorState per file (each keeps its own undo history). */
export function policyEditor(parent, { onChange, onRun }) {
  let view = null;
  let extensions = null;
  const states = new Map();
  const made = editor(parent, {
    doc: "",
    language: yaml(),
    label: "Policy file (YAML)",
    extra: [lintGutter(), EditorView.lineWrapping],
    onChange: (u) => onChange(u.state.doc.toString()),
    onRun,
  });
  view = made.view;
  extensions = made.extensions;
  return {
    view,
    /** Start (or restart) a file's state with this text. */
    load(name, text) {
      states.set(name, EditorState.create({ doc: text, extensions }));
    },
    /** Show file `name`: save the current state and switch to its own. */
    show(current, name) {
      if (current !== null) states.set(current, view.state);
      view.setState(states.get(name));
    },
    text(name, current) {
      const state = name === current ? view.state : states.get(name);
      return state.doc.toString();
    },
    /** Mark diagnostics ({from, to, severity, message, source}) in the shown file. */
    mark(list) {
      view.dispatch(setDiagnostics(view.state, list));
    },
    /** Put the cursor at 1-based line/column of the shown file and focus the editor. */
    reveal(line, column) {
      const pos = offsetOf(view.state.doc, line, column);
      view.dispatch({ selection: { anchor: pos }, effects: EditorView.scrollIntoView(pos, { y: "center" }) });
      view.focus();
    },
  };
}

/** A document offset for a 1-based line and column counted in characters (code points). */
export function offsetOf(doc, line, column) {
  const l = doc.line(Math.min(Math.max(1, line), doc.lines));
  let units = 0;
  let col = 1;
  for (const ch of l.text) {
    if (col >= column) break;
    units += ch.length; // astral characters take two UTF-16 units in CodeMirror offsets
    col += 1;
  }
  return l.from + units;
}

export function payloadEditor(parent, { doc, onRun }) {
  return editor(parent, {
    doc,
    language: json(),
    label: "Payload (JSON)",
    extra: [lintGutter(), linter(jsonParseLinter(), { delay: 300 }), EditorView.lineWrapping],
    onRun,
  }).view;
}

export function usersEditor(parent, { doc, onRun }) {
  return editor(parent, {
    doc,
    language: yaml(),
    label: "Users (YAML)",
    extra: [placeholder("# no users file: give user records here, e.g.\n# alice:\n#   role: member\n#   createdAt: 2026-01-01T00:00:00Z")],
    onRun,
  }).view;
}
