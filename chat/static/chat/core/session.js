/*
 * Sessions: what a view holds. A RoomSession is the page's one room socket with its Room
 * state and Outbox, and catches up after every reconnect (and now and then while connected);
 * a LobbySession is the socket on /ws/lobby/, for pages showing no room. Both keep a shared
 * Conversations list current.
 *
 * A view subscribes once (`session.on("room" | "outbox" | "uploads" | "state", ...)`), reads
 * state from `session.room`, `session.outbox.entries`, `session.uploads.entries`,
 * `session.conversations`, and acts through the methods below. Actions that need the server
 * return the answer's promise; it rejects with a RequestError (requests.js), `code`
 * "disconnected" when there was no socket.
 */
import { CATCH_UP_PAGE, PAGE, SYNC_EVERY, TYPING_EVERY } from "./constants.js";
import { Emitter } from "./emitter.js";
import { Link } from "./link.js";
import { Outbox } from "./outbox.js";
import { Room } from "./room.js";
import { Uploads } from "./uploads.js";

const LOBBY_PATH = "/ws/lobby/";

/** @param {string} slug */
function roomPath(slug) {
  return `/ws/rooms/${encodeURIComponent(slug)}/`;
}

/** Nothing to do about a failure nobody waits for (typing, read): the next one will do. */
function ignore() {}

/**
 * Events:
 * - "state": the connection's state events (see Connection);
 * - "room": the current Room's "change" events, and `{kind: "switched", slug}` when
 *   switchRoom() replaced it (render an empty room until its "reset");
 * - "outbox": the current Outbox's "change" events;
 * - "uploads": the current room's Uploads' "change" events (files on their way, uploads.js).
 */
export class RoomSession extends Emitter {
  #deps;
  #conversations;
  #link;
  #room = null;
  #outbox = null;
  #outboxes = new Map(); // slug -> Outbox: unsent messages wait for a return to their room
  #uploads = null;
  #uploadQueues = new Map(); // slug -> Uploads: files picked in a room wait for a return to it
  #uploadMax;
  #syncTimer = null;
  #catchingUp = false;
  #catchUpFrom = null; // where an unfinished catch-up resumes (the messages after it may have a gap)
  #lastTyping = -Infinity;

  /**
   * @param {object} options
   * @param {string} options.slug the room to open
   * @param {import("./link.js").SessionDeps} options.deps
   * @param {import("./conversations.js").Conversations|null} [options.conversations]
   * @param {number} [options.uploadMax] the largest file the server takes (bytes)
   */
  constructor({ slug, deps, conversations = null, uploadMax }) {
    super();
    this.#deps = deps;
    this.#uploadMax = uploadMax;
    this.#conversations = conversations;
    this.#link = new Link(deps, conversations, {
      state: (event) => this.emit("state", event),
      ready: (event) => this.#ready(event),
      frame: (frame) => this.#frame(frame),
      lost: () => this.#lost(),
    });
    this.#use(slug);
  }

  get slug() {
    return this.#room.slug;
  }

  /** @returns {Room} the current room */
  get room() {
    return this.#room;
  }

  /** @returns {Outbox} the current room's outbox */
  get outbox() {
    return this.#outbox;
  }

  /** @returns {Uploads} the current room's files on their way (attached by `send`) */
  get uploads() {
    return this.#uploads;
  }

  get conversations() {
    return this.#conversations;
  }

  /** @returns {import("./connection.js").Connection|null} for `reconnectAt`, `everReady` */
  get connection() {
    return this.#link.connection;
  }

  /** The connection's state: "idle", "connecting", "ready", "waiting", "offline" or "closed". */
  get state() {
    return this.#link.state;
  }

  /** Open the room's socket; again after a final close (the view's "Try again"), closing any current one. */
  start() {
    this.#link.connect(roomPath(this.#room.slug));
  }

  /** Close the socket for good (leaving the page). */
  stop() {
    this.#link.stop();
  }

  /**
   * Show another room without reloading: the old room's socket closes, then the new room's
   * opens (one room socket at a time). Unsent messages of the old room stay in its outbox and
   * go out when that room is opened again.
   * @param {string} slug
   */
  switchRoom(slug) {
    if (slug === this.#room.slug) {
      return;
    }
    this.#link.stop();
    this.#use(slug);
    this.emit("room", { kind: "switched", slug });
    this.start();
  }

  /** @param {boolean} online from the window's online/offline events */
  setOnline(online) {
    this.#link.setOnline(online);
  }

  /** Reconnect now, not when the backoff says (the view's "Retry now"). */
  retryNow() {
    this.#link.retryNow();
  }

  /**
   * Send a message: it shows at once as an outbox entry, until the room holds it.
   * @param {string} body may be empty when `attachments` are given
   * @param {{replyTo?: number|null, attachments?: string[], files?: object[]}} [options]
   *   attachments: upload ids; files: their attachment objects, shown while it is on its way
   * @returns {import("./outbox.js").OutboxEntry}
   */
  send(body, options) {
    if (this.#room.hasNewer) {
      this.jumpToPresent(); // the reader is in the past; their message will show in the present
    }
    return this.#outbox.add(body, options);
  }

  /** @param {string} clientId a failed entry to send again */
  retry(clientId) {
    return this.#outbox.retry(clientId);
  }

  /** @param {string} clientId an entry to drop */
  discard(clientId) {
    return this.#outbox.discard(clientId);
  }

  /** @returns {Promise<object>} `ok`; the room shows the change by its `message.edited` */
  edit(id, body) {
    return this.#link.request({ type: "message.edit", id, body });
  }

  /** @returns {Promise<object>} `ok`; the message goes by its `message.deleted` */
  deleteMessage(id) {
    return this.#link.request({ type: "message.delete", id });
  }

  /** @returns {Promise<object>} `ok`; the reactions show by `message.reactions` */
  react(id, emoji) {
    return this.#link.request({ type: "reaction.add", id, emoji });
  }

  /** @returns {Promise<object>} `ok` */
  unreact(id, emoji) {
    return this.#link.request({ type: "reaction.remove", id, emoji });
  }

  /**
   * @param {number} id
   * @param {string} [reason] at most 500 characters
   * @returns {Promise<object>} `report.ack` `{id}`
   */
  report(id, reason = "") {
    const frame = { type: "message.report", id };
    if (reason.trim()) {
      frame.reason = reason.trim();
    }
    return this.#link.request(frame);
  }

  /** Call on every keystroke in the composer: it tells the room at most once per TYPING_EVERY. */
  typing() {
    const now = this.#deps.now();
    if (this.#link.state !== "ready" || now - this.#lastTyping < TYPING_EVERY) {
      return;
    }
    this.#lastTyping = now;
    this.#link.request({ type: "typing" }).catch(ignore);
  }

  /**
   * Call when the reader sees the newest message (the tab visible, the log at the bottom):
   * the read mark moves to it, and my unread counts with it.
   * @returns {boolean} whether a `read` went out
   */
  markRead() {
    const id = this.#room.newestId;
    if (id === null || this.#link.state !== "ready" || !this.#room.moveReadMark(id)) {
      return false;
    }
    this.#link.request({ type: "read", id }).catch(ignore);
    return true;
  }

  /**
   * Load the page before the oldest held message (scrolled to the top).
   * @returns {Promise<boolean>} false when there was nothing to load or it failed
   */
  loadOlder() {
    const room = this.#room;
    if (!room.hasOlder || room.isLoading("older") || room.oldestId === null) {
      return Promise.resolve(false);
    }
    return this.#page(room, "older", { before: room.oldestId, limit: PAGE }, "before");
  }

  /**
   * After a jump: load the page after the newest held message (scrolled to the bottom).
   * @returns {Promise<boolean>}
   */
  loadNewer() {
    const room = this.#room;
    if (!room.hasNewer || room.isLoading("newer") || room.newestId === null) {
      return Promise.resolve(false);
    }
    return this.#page(room, "newer", { after: room.newestId, limit: PAGE }, "after");
  }

  /**
   * Show message `id` (a reply's original, a search result): at once if held, else after
   * loading the messages around it (`history around`). The room emits {kind: "focus", id}.
   * @param {number} id
   * @returns {Promise<boolean>} false when it could not be shown (deleted, or no socket)
   */
  async jumpTo(id) {
    const room = this.#room;
    if (!room.has(id)) {
      await this.#page(room, "around", { around: id, limit: PAGE }, "around");
      if (room !== this.#room || !room.has(id)) {
        return false;
      }
    }
    room.focus(id);
    return true;
  }

  /**
   * Back from a jump to the newest messages.
   * @returns {Promise<boolean>}
   */
  async jumpToPresent() {
    const room = this.#room;
    if (room.hasNewer && !(await this.#page(room, "newer", { limit: PAGE }, "latest"))) {
      return false;
    }
    if (room === this.#room && room.newestId !== null) {
      room.focus(room.newestId);
    }
    return true;
  }

  #use(slug) {
    const room = new Room(slug, this.#deps);
    room.on("change", (change) => {
      if (room === this.#room) {
        this.emit("room", change);
      }
    });
    this.#room = room;
    this.#catchUpFrom = null;
    if (!this.#outboxes.has(slug)) {
      const outbox = new Outbox({ ...this.#deps, request: (frame) => this.#link.request(frame) });
      outbox.on("change", (change) => {
        if (outbox === this.#outbox) {
          this.emit("outbox", change);
        }
      });
      this.#outboxes.set(slug, outbox);
    }
    this.#outbox = this.#outboxes.get(slug);
    if (!this.#uploadQueues.has(slug)) {
      const uploads = new Uploads({
        ...this.#deps,
        maxBytes: this.#uploadMax,
        request: (frame) => this.#link.request(frame),
        sendBinary: (data) => this.#link.sendBinary(data),
        bufferedAmount: () => this.#link.bufferedAmount,
      });
      uploads.on("change", (change) => {
        if (uploads === this.#uploads) {
          this.emit("uploads", change);
        }
      });
      this.#uploadQueues.set(slug, uploads);
    }
    this.#uploads = this.#uploadQueues.get(slug);
    this.#conversations?.open(slug);
  }

  #ready({ frame, reconnect }) {
    const room = this.#room;
    if (reconnect && this.#catchUpFrom === null && room.latestId > 0) {
      this.#catchUpFrom = room.latestId; // what was missed comes after it; `ready` raises latestId
    }
    const readBefore = room.readMark;
    room.applyReady(frame);
    this.#settle(frame.messages);
    this.#outbox.resume();
    this.#uploads.resume();
    if (readBefore > (Number.isSafeInteger(frame.last_read) ? frame.last_read : 0)) {
      // A `read` lost with the last socket: the server's mark is behind mine.
      this.#link.request({ type: "read", id: readBefore }).catch(ignore);
    }
    if (this.#catchUpFrom !== null) {
      this.#catchUp();
    }
    this.#scheduleSync();
  }

  #frame(frame) {
    if (this.#uploads.handle(frame)) {
      return true;
    }
    const room = this.#room;
    if (room.applyFrame(frame)) {
      if (frame.type === "message" && frame.message) {
        this.#settle([frame.message]);
      }
      return true;
    }
    if (frame.type === "unread" && frame.room === room.slug && frame.unread === 0 && room.newestId !== null) {
      room.moveReadMark(room.newestId); // read to the end in another tab
    }
    return false; // `unread` goes on to the conversation list too
  }

  #lost() {
    this.#outbox.pause();
    this.#uploads.pause();
    this.#room.clearTyping();
    this.#stopSync();
  }

  /** My messages that reached the room settle their outbox entries. */
  #settle(messages) {
    const me = this.#room.me?.username;
    for (const message of Array.isArray(messages) ? messages : []) {
      if (message && message.author === me) {
        this.#outbox.settle(message);
      }
    }
  }

  async #page(room, what, query, how) {
    room.setLoading(what, true);
    try {
      const page = await this.#link.request({ type: "history", ...query });
      if (room === this.#room) {
        room.applyPage(page, how);
        this.#settle(page.messages);
      }
      return true;
    } catch {
      return false; // no socket, or refused: the view may ask again
    } finally {
      room.setLoading(what, false);
    }
  }

  /**
   * Fetch what came after the newest message seen, page by page until `has_more` is false:
   * after a reconnect (what was missed while away) and every SYNC_EVERY (a broadcast that was
   * lost). A catch-up cut short resumes where it stopped (`#catchUpFrom`), since the newest
   * messages of a `ready` may lie beyond a gap. Not while the held messages are in the past:
   * loadNewer() closes that gap.
   */
  async #catchUp() {
    const room = this.#room;
    if (this.#catchingUp || room.hasNewer) {
      return;
    }
    this.#catchingUp = true;
    let after = this.#catchUpFrom ?? room.latestId;
    this.#catchUpFrom = after;
    try {
      for (;;) {
        const page = await this.#link.request({ type: "history", after, limit: CATCH_UP_PAGE });
        if (room !== this.#room) {
          return;
        }
        room.applyPage(page, "after");
        this.#settle(page.messages);
        const last = Array.isArray(page.messages) ? page.messages.at(-1) : undefined;
        if (!page.has_more || !last) {
          this.#catchUpFrom = null;
          return;
        }
        after = last.id;
        this.#catchUpFrom = after;
      }
    } catch {
      // The socket dropped (the next `ready` catches up) or the server refused (the next sync).
    } finally {
      this.#catchingUp = false;
    }
  }

  #scheduleSync() {
    this.#stopSync();
    this.#syncTimer = this.#deps.setTimeout(() => {
      this.#syncTimer = null;
      if (this.#room.latestId > 0) {
        this.#catchUp();
      }
      this.#scheduleSync();
    }, SYNC_EVERY);
  }

  #stopSync() {
    if (this.#syncTimer !== null) {
      this.#deps.clearTimeout(this.#syncTimer);
      this.#syncTimer = null;
    }
  }
}

/**
 * The socket on /ws/lobby/ (no room): it keeps the conversation list current.
 * Events: "state" (see Connection).
 */
export class LobbySession extends Emitter {
  #link;
  #conversations;

  /**
   * @param {object} options
   * @param {import("./link.js").SessionDeps} options.deps
   * @param {import("./conversations.js").Conversations} options.conversations
   */
  constructor({ deps, conversations }) {
    super();
    this.#conversations = conversations;
    this.#link = new Link(deps, conversations, { state: (event) => this.emit("state", event) });
  }

  get conversations() {
    return this.#conversations;
  }

  get connection() {
    return this.#link.connection;
  }

  get state() {
    return this.#link.state;
  }

  start() {
    this.#conversations.open(null);
    this.#link.connect(LOBBY_PATH);
  }

  stop() {
    this.#link.stop();
  }

  /** @param {boolean} online */
  setOnline(online) {
    this.#link.setOnline(online);
  }

  retryNow() {
    this.#link.retryNow();
  }
}
