/*
 * One WebSocket that keeps itself open: it reconnects after a close or a drop (exponential
 * backoff with full jitter, or what the close code asks for), gives up on a socket that sends
 * no `ready` within READY_TIMEOUT, pings while ready and drops a socket that goes silent after
 * a ping, and waits while the browser is offline. It knows nothing of what frames mean beyond
 * `ready`; everything else is handed on as a "frame" event.
 */
import { backoffDelay, floodDelay } from "./backoff.js";
import { CLIENT_CLOSE, CLOSE, PING_EVERY, PONG_TIMEOUT, READY_TIMEOUT } from "./constants.js";
import { Emitter } from "./emitter.js";

const OPEN = 1; // WebSocket.OPEN

/** Close codes after which reconnecting cannot help, and the reason the view is given. */
const FINAL = new Map([
  [CLOSE.UNAUTHENTICATED, "unauthenticated"],
  [CLOSE.FORBIDDEN, "forbidden"],
  [CLOSE.NOT_FOUND, "not_found"],
]);

/**
 * What to do after a socket closed.
 * - 4401, 4403, 4404: stop for good;
 * - 4429 (flooding, too many sockets): wait 30 to 60 s;
 * - 4000 (my rights changed) on a socket that was ready: reconnect at once; before `ready` it
 *   is treated like any other close, so a server that keeps saying it cannot spin the client;
 * - 4503 (server trouble), 1006, anything else, or null (this client gave up on the socket):
 *   exponential backoff with full jitter.
 * @param {number|null} code
 * @param {{attempt: number, wasReady: boolean, random: () => number}} context
 * @returns {{final: true, reason: string} | {final: false, delay: number, reason: string}}
 *   reason: "unauthenticated" | "forbidden" | "not_found" | "flood" | "reconnect" | "unavailable" | "lost"
 */
function closePolicy(code, { attempt, wasReady, random }) {
  if (FINAL.has(code)) {
    return { final: true, reason: FINAL.get(code) };
  }
  if (code === CLOSE.FLOOD) {
    return { final: false, delay: floodDelay(random), reason: "flood" };
  }
  if (code === CLOSE.RECONNECT && wasReady) {
    return { final: false, delay: 0, reason: "reconnect" };
  }
  const reason = code === CLOSE.UNAVAILABLE ? "unavailable" : "lost";
  return { final: false, delay: backoffDelay(attempt, random), reason };
}

/**
 * @typedef {object} ConnectionDeps
 * @property {new (url: string) => WebSocket} WebSocket
 * @property {(fn: () => void, ms: number) => any} setTimeout
 * @property {(id: any) => void} clearTimeout
 * @property {() => number} random uniform in [0, 1)
 * @property {() => number} now milliseconds since the epoch
 * @property {boolean} [online] whether the browser is online at the start (default true)
 */

/**
 * Events:
 * - "state" `{state, reason, code, delay, reconnectAt}` whenever `state` changes:
 *   "idle" (not started), "connecting" (socket opening, waiting for `ready`), "ready",
 *   "waiting" (a reconnect is due at `reconnectAt`, after `delay` ms; `reason` from
 *   closePolicy), "offline" (the browser is offline: waiting for setOnline(true)),
 *   "closed" (for good: `reason` from closePolicy, or "stopped" after stop()).
 *   `code` is the close code that led there (null when this client dropped the socket).
 * - "ready" `{frame, reconnect}`: the `ready` frame; `reconnect` is true when an earlier
 *   socket of this connection was ready too (so the view and the catch-up know).
 * - "frame" `frame`: any other frame (a parsed JSON object with a string `type`).
 * - "lost" `{code, wasReady}`: the socket is gone (before any reconnect is decided), so that
 *   whoever waits for answers on it can give up.
 */
export class Connection extends Emitter {
  #url;
  #deps;
  #online;
  #ws = null;
  #state = "idle";
  #everReady = false;
  #attempt = 0;
  #reconnectAt = null;
  #timers = { ready: null, ping: null, pong: null, retry: null };

  /**
   * @param {string} url the socket's full address (ws:// or wss://)
   * @param {ConnectionDeps} deps
   */
  constructor(url, deps) {
    super();
    this.#url = url;
    this.#deps = deps;
    this.#online = deps.online ?? true;
  }

  get url() {
    return this.#url;
  }

  /** @returns {"idle"|"connecting"|"ready"|"waiting"|"offline"|"closed"} */
  get state() {
    return this.#state;
  }

  /** True once any socket of this connection said `ready` (a later one is a reconnect). */
  get everReady() {
    return this.#everReady;
  }

  /** When the next reconnect is due (ms since the epoch), while "waiting"; else null. */
  get reconnectAt() {
    return this.#reconnectAt;
  }

  /** Open the socket. Does nothing unless idle. */
  start() {
    if (this.#state === "idle") {
      this.#open();
    }
  }

  /** Close for good (leaving the room, switching rooms). */
  stop() {
    if (this.#state === "closed") {
      return;
    }
    const wasReady = this.#state === "ready";
    const hadSocket = this.#ws !== null;
    this.#closeSocket();
    this.#clear("retry");
    if (hadSocket) {
      this.emit("lost", { code: null, wasReady });
    }
    this.#setState("closed", { reason: "stopped" });
  }

  /** Reconnect now rather than when scheduled (the view's "Retry now"). */
  retryNow() {
    if (this.#state === "waiting") {
      this.#open();
    }
  }

  /**
   * The browser's online/offline events. Going offline with a socket open sends a ping at
   * once: a dead socket may linger for minutes, and the pong timeout finds it in seconds.
   * Coming back online reconnects at once, with the backoff started over.
   * @param {boolean} online
   */
  setOnline(online) {
    this.#online = online;
    if (!online) {
      if (this.#state === "ready") {
        this.#ping();
      } else if (this.#state === "waiting") {
        this.#clear("retry");
        this.#setState("offline");
      }
    } else if (this.#state === "offline" || this.#state === "waiting") {
      this.#attempt = 0;
      this.#open();
    }
  }

  /**
   * Send a frame on the ready socket.
   * @param {object} frame
   * @returns {boolean} false when there is no ready socket (nothing was sent)
   */
  send(frame) {
    if (this.#state !== "ready" || this.#ws.readyState !== OPEN) {
      return false;
    }
    this.#ws.send(JSON.stringify(frame));
    return true;
  }

  /**
   * Send a binary frame (an upload's chunk) on the ready socket.
   * @param {ArrayBuffer|ArrayBufferView|Blob} data
   * @returns {boolean} false when there is no ready socket (nothing was sent)
   */
  sendBinary(data) {
    if (this.#state !== "ready" || this.#ws.readyState !== OPEN) {
      return false;
    }
    this.#ws.send(data);
    return true;
  }

  /** Bytes the browser still holds for the socket (sent, not yet on the wire); 0 without one. */
  get bufferedAmount() {
    return this.#ws?.bufferedAmount ?? 0;
  }

  #open() {
    this.#clear("retry");
    this.#reconnectAt = null;
    if (!this.#online) {
      this.#setState("offline");
      return;
    }
    let ws;
    try {
      ws = new this.#deps.WebSocket(this.#url);
    } catch {
      this.#lost(null); // a malformed address: back off as for any failure
      return;
    }
    this.#ws = ws;
    ws.onmessage = (event) => this.#receive(event);
    ws.onclose = (event) => this.#lost(event.code);
    this.#timers.ready = this.#deps.setTimeout(() => this.#drop(), READY_TIMEOUT);
    this.#setState("connecting");
  }

  #receive(event) {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return; // not JSON (a binary frame reads as "[object Blob]")
    }
    if (!frame || typeof frame.type !== "string") {
      return;
    }
    this.#clear("pong"); // any frame at all shows the socket is alive
    if (frame.type === "ready") {
      this.#clear("ready");
      const reconnect = this.#everReady;
      this.#everReady = true;
      this.#attempt = 0;
      this.#setState("ready");
      this.#schedulePing();
      this.emit("ready", { frame, reconnect });
    } else {
      this.emit("frame", frame);
    }
  }

  #schedulePing() {
    this.#clear("ping");
    this.#timers.ping = this.#deps.setTimeout(() => {
      this.#ping();
      this.#schedulePing();
    }, PING_EVERY);
  }

  /** A ping without `ref`: what answers it does not matter, only that something comes. */
  #ping() {
    if (this.send({ type: "ping" }) && this.#timers.pong === null) {
      this.#timers.pong = this.#deps.setTimeout(() => this.#drop(), PONG_TIMEOUT);
    }
  }

  /** Give up on a socket that is stuck (no `ready`) or dead (no answer to a ping). */
  #drop() {
    this.#lost(null);
  }

  #closeSocket() {
    const ws = this.#ws;
    if (ws) {
      ws.onmessage = null;
      ws.onclose = null; // it is gone for us now; its close event must not count twice
      ws.close(CLIENT_CLOSE);
    }
    this.#ws = null;
    this.#clear("ready");
    this.#clear("ping");
    this.#clear("pong");
  }

  #lost(code) {
    const wasReady = this.#state === "ready";
    this.#closeSocket();
    this.emit("lost", { code, wasReady });
    const policy = closePolicy(code, { attempt: this.#attempt, wasReady, random: this.#deps.random });
    if (policy.final) {
      this.#setState("closed", { reason: policy.reason, code });
    } else if (!this.#online) {
      this.#setState("offline", { code });
    } else {
      this.#attempt += 1;
      this.#reconnectAt = this.#deps.now() + policy.delay;
      this.#timers.retry = this.#deps.setTimeout(() => this.#open(), policy.delay);
      this.#setState("waiting", {
        reason: policy.reason,
        code,
        delay: policy.delay,
        reconnectAt: this.#reconnectAt,
      });
    }
  }

  #clear(name) {
    if (this.#timers[name] !== null) {
      this.#deps.clearTimeout(this.#timers[name]);
      this.#timers[name] = null;
    }
  }

  #setState(state, details = {}) {
    this.#state = state;
    this.emit("state", { state, reason: null, code: null, delay: null, reconnectAt: null, ...details });
  }
}
