// Talking to the console's /api: JSON in and out, the token when the server wants one.
//
// A server bound off loopback answers 401 until the page sends its token as
// "Authorization: Bearer TOKEN". The token is asked for once (askToken, a dialog), kept
// in sessionStorage for this tab only, and never put in a URL.

const TOKEN_KEY = "receiver-console-token";

/** A request that did not get a usable answer; `kind` says why. */
export class ApiError extends Error {
  constructor(kind, message, status = 0) {
    super(message);
    this.kind = kind; // "down" | "unauthorized" | "http"
    this.status = status;
  }
}

let tokenPrompt = null; // set by the page: (reason) => Promise<string | null>
let pending = null; // one dialog for all the requests that met a 401 at once

export function onTokenNeeded(prompt) {
  tokenPrompt = prompt;
}

export function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null; // storage disabled: the token is asked again after a reload
  }
}

function keepToken(token) {
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // storage disabled: nothing to keep
  }
}

let token = storedToken();

async function newToken(reason) {
  if (!tokenPrompt) return null;
  if (!pending) {
    pending = tokenPrompt(reason).finally(() => {
      pending = null;
    });
  }
  return pending;
}

/**
 * Send one request; resolve to {status, body} for any answer but 401 (asks for the
 * token and tries again) and network failure (ApiError "down"). `signal` aborts it.
 */
export async function call(method, path, body, signal) {
  for (;;) {
    const sent = token;
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (sent) headers.Authorization = `Bearer ${sent}`;
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "same-origin",
        signal,
      });
    } catch (err) {
      if (err && err.name === "AbortError") throw err;
      throw new ApiError(
        "down",
        "The console server is not answering. Is `receiver console` still running? Start it again, then retry.",
      );
    }
    if (response.status === 401) {
      if (token !== sent) continue; // another request already got a new token
      const entered = await newToken(sent ? "refused" : "required");
      if (!entered) {
        throw new ApiError("unauthorized", "This console needs its token: press “Enter token” to give it.", 401);
      }
      token = entered;
      keepToken(entered);
      continue;
    }
    let data = null;
    const text = await response.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = { message: text.slice(0, 500) };
      }
    }
    return { status: response.status, body: data };
  }
}

/** Forget the token (after it was refused, or on request). */
export function forgetToken() {
  token = null;
  keepToken(null);
}

/** The message a server's error answer carries, whatever field it uses. */
export function messageOf(body, fallback) {
  if (body && typeof body === "object") {
    for (const key of ["message", "error", "detail"]) {
      if (typeof body[key] === "string" && body[key]) return body[key];
    }
  }
  return fallback;
}
