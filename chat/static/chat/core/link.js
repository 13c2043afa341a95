/*
 * What a room session and the lobby session share: one Connection at a time, the request map
 * that rides on it, and the conversation list that every socket of mine feeds.
 *
 * Each frame goes one way: an answer (it carries a `ref`) settles its request; otherwise the
 * owner's `frame` hook may take it (a room's broadcasts); what is left goes to the
 * conversation list (`activity`, `notify`, `unread`, `conversation`...).
 */
import { Connection } from "./connection.js";
import { Requests } from "./requests.js";

/** Where the conversation list comes from (counts included), at the start and after each reconnect. */
const ROOMS_API = "/api/rooms/";

/**
 * @typedef {object} SessionDeps what the core needs from the browser (see deps.js)
 * @property {new (url: string) => WebSocket} WebSocket
 * @property {(fn: () => void, ms: number) => any} setTimeout
 * @property {(id: any) => void} clearTimeout
 * @property {() => number} random
 * @property {() => number} now
 * @property {() => string} newId a fresh client_id
 * @property {(path: string) => Promise<object>} [fetchJson] GET a JSON document of the site
 * @property {string} wsBase "wss://host[:port]"
 * @property {boolean} [online]
 */

/**
 * @typedef {object} LinkHooks
 * @property {(event: object) => void} state Connection "state" events
 * @property {(event: {frame: object, reconnect: boolean}) => void} [ready]
 * @property {(frame: object) => boolean} [frame] true when it took the frame
 * @property {(event: {code: number|null, wasReady: boolean}) => void} [lost]
 */

export class Link {
  #deps;
  #conversations;
  #hooks;
  #online;
  #connection = null;
  #requests;
  #listAsked = 0;

  /**
   * @param {SessionDeps} deps
   * @param {import("./conversations.js").Conversations|null} conversations
   * @param {LinkHooks} hooks
   */
  constructor(deps, conversations, hooks) {
    this.#deps = deps;
    this.#conversations = conversations;
    this.#hooks = hooks;
    this.#online = deps.online ?? true;
    this.#requests = new Requests((frame) => this.#connection?.send(frame) ?? false);
  }

  /** @returns {import("./connection.js").Connection|null} the current one */
  get connection() {
    return this.#connection;
  }

  /** The current connection's state ("idle" before the first connect). */
  get state() {
    return this.#connection?.state ?? "idle";
  }

  /**
   * Open a socket on `path` ("/ws/rooms/general/"), closing the current one first: there is
   * never more than one.
   * @param {string} path
   */
  connect(path) {
    this.stop();
    const connection = new Connection(this.#deps.wsBase + path, { ...this.#deps, online: this.#online });
    this.#connection = connection;
    connection.on("state", (event) => this.#hooks.state(event));
    connection.on("ready", (event) => this.#ready(event));
    connection.on("frame", (frame) => this.#frame(frame));
    connection.on("lost", (event) => {
      this.#requests.failAll();
      this.#hooks.lost?.(event);
    });
    connection.start();
  }

  /** Close the current socket for good. */
  stop() {
    this.#connection?.stop();
  }

  /** @param {boolean} online the browser's online/offline events */
  setOnline(online) {
    this.#online = online;
    this.#connection?.setOnline(online);
  }

  retryNow() {
    this.#connection?.retryNow();
  }

  /**
   * @param {object} frame
   * @returns {Promise<object>} see Requests#request
   */
  request(frame) {
    return this.#requests.request(frame);
  }

  /**
   * @param {ArrayBuffer|ArrayBufferView|Blob} data a binary frame
   * @returns {boolean} false when there is no ready socket
   */
  sendBinary(data) {
    return this.#connection?.sendBinary(data) ?? false;
  }

  /** What the current socket still has to send, in bytes. */
  get bufferedAmount() {
    return this.#connection?.bufferedAmount ?? 0;
  }

  #ready(event) {
    const me = event.frame.me?.username;
    if (this.#conversations && typeof me === "string") {
      this.#conversations.setMe(me);
    }
    this.#hooks.ready?.(event);
    this.#loadList();
  }

  #frame(frame) {
    if (this.#requests.handle(frame) || this.#hooks.frame?.(frame)) {
      return;
    }
    this.#conversations?.apply(frame);
  }

  /** Counts that moved while the socket was away are only right again from the server. */
  #loadList() {
    if (!this.#conversations || !this.#deps.fetchJson) {
      return;
    }
    const asked = ++this.#listAsked;
    this.#deps.fetchJson(ROOMS_API).then(
      (data) => {
        if (asked === this.#listAsked) {
          this.#conversations.load(data.rooms); // only the newest answer: an older one may arrive last
        }
      },
      () => {} // the next reconnect asks again
    );
  }
}
