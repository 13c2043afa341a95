import assert from "node:assert/strict";
import { test } from "node:test";

import { browserDeps, randomHex } from "../../chat/static/chat/core/deps.js";

function fakeWindow(protocol = "https:") {
  const win = {
    WebSocket: class {},
    location: { protocol, host: "chat.example:8443" },
    navigator: { onLine: true },
    crypto: globalThis.crypto,
    fetched: [],
    fetch: async (path, init) => {
      win.fetched.push([path, init]);
      return path === "/missing" ? { ok: false, status: 404 } : { ok: true, json: async () => ({ rooms: [] }) };
    },
  };
  // Like the browser's: they throw when called on anything but the window.
  win.setTimeout = function (fn, ms) {
    assert.equal(this, win);
    return ms;
  };
  win.clearTimeout = function () {
    assert.equal(this, win);
  };
  return win;
}

test("browserDeps: the socket base follows the page's scheme", () => {
  assert.equal(browserDeps(fakeWindow("https:")).wsBase, "wss://chat.example:8443");
  assert.equal(browserDeps(fakeWindow("http:")).wsBase, "ws://chat.example:8443");
});

test("browserDeps: timers are called on the window", () => {
  const deps = browserDeps(fakeWindow());
  const { setTimeout, clearTimeout } = deps; // used detached, as the core does
  assert.equal(setTimeout(() => {}, 25), 25);
  clearTimeout(1);
});

test("browserDeps: fetchJson sends the cookie and rejects what is not 2xx", async () => {
  const win = fakeWindow();
  const deps = browserDeps(win);
  assert.deepEqual(await deps.fetchJson("/api/rooms/"), { rooms: [] });
  assert.equal(win.fetched[0][1].credentials, "same-origin");
  await assert.rejects(deps.fetchJson("/missing"), /404/);
});

test("client ids: 32 hex digits, different each time", () => {
  const deps = browserDeps(fakeWindow());
  const a = deps.newId();
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.notEqual(a, deps.newId());
  assert.equal(randomHex({ getRandomValues: (bytes) => bytes.fill(10) }), "0a".repeat(16));
});
