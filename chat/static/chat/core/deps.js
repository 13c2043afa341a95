/*
 * The browser, as the core needs it. The core reads no globals: an entry point builds these
 * once (`browserDeps(window)`) and hands them to a session; tests hand in fakes instead.
 */

/**
 * @param {Window} win
 * @returns {import("./link.js").SessionDeps}
 */
export function browserDeps(win) {
  return {
    WebSocket: win.WebSocket,
    // Wrapped: the browser's timer functions throw when called on another object than `window`.
    setTimeout: (fn, ms) => win.setTimeout(fn, ms),
    clearTimeout: (id) => win.clearTimeout(id),
    random: Math.random,
    now: Date.now,
    newId: () => randomHex(win.crypto),
    fetchJson: (path) => fetchJson(win, path),
    wsBase: `${win.location.protocol === "https:" ? "wss:" : "ws:"}//${win.location.host}`,
    online: win.navigator.onLine !== false,
  };
}

/**
 * 128 random bits as 32 hex digits: a client_id. Not crypto.randomUUID(), which pages served
 * over plain http (other than localhost) do not have; getRandomValues works everywhere.
 * @param {Crypto} crypto
 */
export function randomHex(crypto) {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** GET a JSON document of the site with the session's cookie; rejects unless 2xx. */
async function fetchJson(win, path) {
  const response = await win.fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) {
    throw new Error(`${path}: HTTP ${response.status}`);
  }
  return response.json();
}
