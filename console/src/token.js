// The token dialog: shown when the API answers 401 (a console bound off loopback).
// Resolves to the token typed, or null when the user closes the dialog.

import { byId } from "./dom.js";

export function askToken(reason) {
  const dialog = byId("token-dialog");
  const form = byId("token-form");
  const input = byId("token-input");
  const error = byId("token-error");
  error.textContent = reason === "refused" ? "That token was refused: check it and try again." : "";
  error.hidden = reason !== "refused";
  input.value = "";
  return new Promise((resolve) => {
    const done = (value) => {
      form.removeEventListener("submit", onSubmit);
      dialog.removeEventListener("cancel", onCancel);
      byId("token-cancel").removeEventListener("click", onCancel);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const onSubmit = (e) => {
      e.preventDefault(); // no form submission: the token never goes into a URL
      const value = input.value.trim();
      if (!value) {
        error.textContent = "Type the token the console was started with.";
        error.hidden = false;
        input.focus();
        return;
      }
      done(value);
    };
    const onCancel = (e) => {
      e.preventDefault();
      done(null);
    };
    form.addEventListener("submit", onSubmit);
    dialog.addEventListener("cancel", onCancel);
    byId("token-cancel").addEventListener("click", onCancel);
    dialog.showModal();
    input.focus();
  });
}
