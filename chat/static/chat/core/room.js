/*
 * One room as the server has told it: its messages (by id, in id order, each id once), who
 * is a member, online and typing, my read mark, and how far the held messages reach.
 *
 * The held messages are one run without gaps: normally the newest ones (new messages join at
 * the end), or, after a jump to an old message (`history around`), a window that does not
 * reach the present (`hasNewer`): then live messages are not held, since they would leave a
 * gap; pages `after` the newest held one close it.
 *
 * A Room only applies what it is given (frames, pages); the session asks the server.
 */
import { TYPING_SHOWN } from "./constants.js";
import { Emitter } from "./emitter.js";

/**
 * @typedef {object} Message the contract's message object
 * @property {number} id
 * @property {string} author
 * @property {string} body
 * @property {string} html
 * @property {string} created ISO-8601 UTC
 * @property {string|null} edited
 * @property {string|null} client_id
 * @property {{id: number, author: string|null, excerpt: string|null}|null} reply_to
 * @property {object[]} attachments
 * @property {{emoji: string, users: string[]}[]} reactions
 */

function isMessage(message) {
  return !!message && typeof message === "object" && Number.isSafeInteger(message.id);
}

function messagesOf(list) {
  return Array.isArray(list) ? list.filter(isMessage) : [];
}

function names(list) {
  return Array.isArray(list) ? list.filter((name) => typeof name === "string") : [];
}

/**
 * Events: "change" with
 * - `{kind: "reset"}`: everything may have changed (the first `ready`, a jump): render anew;
 * - `{kind: "added", ids}` (ascending), `{kind: "updated", id}`, `{kind: "removed", id}`;
 * - `{kind: "info", previous}`: `info` changed (`previous`: what it was, for "slow mode is on");
 * - `{kind: "members"}`: `members` or `online`;
 * - `{kind: "typing", users}`;
 * - `{kind: "read"}`: `readMark` (hence `unreadCount`); `{kind: "seen"}`: `readMarks`;
 * - `{kind: "paging"}`: `hasOlder`, `hasNewer` or `isLoading()`;
 * - `{kind: "focus", id}`: show that message (after a jump).
 */
export class Room extends Emitter {
  #slug;
  #deps;
  #byId = new Map();
  #ids = []; // ascending
  #everReady = false;
  #info = null;
  #me = null;
  #members = [];
  #online = [];
  #typing = new Map(); // user -> expiry timer
  #readMarks = new Map();
  #lastRead = null;
  #readMark = 0;
  #firstUnreadId = null;
  #latestId = 0;
  #hasOlder = false;
  #hasNewer = false;
  #loading = new Set();

  /**
   * @param {string} slug
   * @param {{setTimeout: Function, clearTimeout: Function}} deps timers, for typing expiry
   */
  constructor(slug, { setTimeout, clearTimeout }) {
    super();
    this.#slug = slug;
    this.#deps = { setTimeout, clearTimeout };
  }

  get slug() {
    return this.#slug;
  }

  /** @returns {{slug, name, kind, topic, slow_mode, posting}|null} null before `ready` */
  get info() {
    return this.#info;
  }

  /** @returns {{username: string, role?: string, moderator?: boolean}|null} */
  get me() {
    return this.#me;
  }

  /** @returns {string[]} */
  get members() {
    return [...this.#members];
  }

  /** @returns {string[]} who has a live socket on the room */
  get online() {
    return [...this.#online];
  }

  /** @returns {Message[]} the held messages, in id order */
  get messages() {
    return this.#ids.map((id) => this.#byId.get(id));
  }

  /** @returns {Message|undefined} */
  get(id) {
    return this.#byId.get(id);
  }

  has(id) {
    return this.#byId.has(id);
  }

  /** @returns {number|null} */
  get oldestId() {
    return this.#ids.length ? this.#ids[0] : null;
  }

  /** @returns {number|null} */
  get newestId() {
    return this.#ids.length ? this.#ids[this.#ids.length - 1] : null;
  }

  /** The highest id ever seen here: a catch-up asks for what came after it. */
  get latestId() {
    return this.#latestId;
  }

  /** Older messages exist than the oldest held (as far as known: true until a page says no). */
  get hasOlder() {
    return this.#hasOlder;
  }

  /** The held messages do not reach the present (after a jump). */
  get hasNewer() {
    return this.#hasNewer;
  }

  /** @param {"older"|"newer"|"around"} what */
  isLoading(what) {
    return this.#loading.has(what);
  }

  /** @returns {string[]} who is typing now (never me) */
  get typingUsers() {
    return [...this.#typing.keys()];
  }

  /** My read mark when the room opened: where the "new messages" divider goes. */
  get lastRead() {
    return this.#lastRead;
  }

  /** My read mark now (0: none); it only moves forward. */
  get readMark() {
    return this.#readMark;
  }

  /**
   * The first message that was unread when the room opened (not mine): the "new" divider
   * goes above it. It stays put while reading, and moves on if that message is deleted.
   * @returns {number|null}
   */
  get firstUnreadId() {
    return this.#firstUnreadId;
  }

  /** @returns {Map<string, number>} in direct rooms: how far each person has read */
  get readMarks() {
    return new Map(this.#readMarks);
  }

  /** The held messages of others after my read mark (for the title while I look away). */
  get unreadCount() {
    const me = this.#me?.username;
    return this.messages.filter((m) => m.id > this.#readMark && m.author !== me).length;
  }

  /**
   * The id of my latest held message that someone else has read ("Seen" in a direct room).
   * @returns {number|null}
   */
  get seenId() {
    const me = this.#me?.username;
    let mark = -1;
    for (const [user, id] of this.#readMarks) {
      if (user !== me) {
        mark = Math.max(mark, id);
      }
    }
    const mine = this.messages.filter((m) => m.author === me && m.id <= mark);
    return mine.length ? mine[mine.length - 1].id : null;
  }

  /**
   * Take a `ready` frame. The first one sets everything; a later one (a reconnect) refreshes
   * the room, drops what was deleted while away (held ids within the window `ready` covers but
   * absent from it) and merges its messages; what is older than that window the catch-up does
   * not need, and what came after the held ones before it, the catch-up brings.
   * @param {object} frame
   */
  applyReady(frame) {
    const first = !this.#everReady;
    this.#everReady = true;
    const previous = this.#info;
    if (frame.room && typeof frame.room === "object") {
      this.#info = { ...frame.room };
    }
    this.#me = frame.me && typeof frame.me === "object" ? { ...frame.me } : this.#me;
    this.#members = names(frame.members);
    this.#online = names(frame.online);
    if (frame.read_marks && typeof frame.read_marks === "object") {
      this.#readMarks = new Map(Object.entries(frame.read_marks).filter(([, id]) => Number.isSafeInteger(id)));
    }
    const lastRead = Number.isSafeInteger(frame.last_read) ? frame.last_read : null;
    const messages = messagesOf(frame.messages);
    if (first) {
      this.#lastRead = lastRead;
      this.#readMark = lastRead ?? 0;
      this.#replace(messages);
      this.#hasOlder = messages.length > 0;
      this.#firstUnreadId = lastRead === null ? null : this.#unreadFrom(lastRead);
      this.emit("change", { kind: "reset" });
      return;
    }
    this.emit("change", { kind: "info", previous });
    this.emit("change", { kind: "members" });
    this.emit("change", { kind: "seen" });
    if (lastRead !== null && lastRead > this.#readMark) {
      this.moveReadMark(lastRead);
    }
    if (this.#hasNewer) {
      return; // a window in the past: `ready`'s newest messages would leave a gap
    }
    if (messages.length) {
      const present = new Set(messages.map((m) => m.id));
      for (const id of this.#ids.filter((id) => id >= messages[0].id && !present.has(id))) {
        this.#remove(id);
      }
    }
    this.#merge(messages);
  }

  /**
   * Take a broadcast frame of this room.
   * @param {object} frame
   * @returns {boolean} whether it was one (`message`, `message.edited`, `message.deleted`,
   *   `message.reactions`, `presence`, `members`, `typing`, `read`, `room`)
   */
  applyFrame(frame) {
    switch (frame.type) {
      case "message":
        if (isMessage(frame.message)) {
          this.#stopTyping(frame.message.author);
          this.#merge([frame.message]);
        }
        return true;
      case "message.edited":
        if (isMessage(frame.message) && this.#byId.has(frame.message.id)) {
          this.#merge([frame.message]);
        }
        return true;
      case "message.deleted":
        this.#remove(frame.id);
        return true;
      case "message.reactions": {
        const held = this.#byId.get(frame.id);
        if (held && Array.isArray(frame.reactions)) {
          this.#merge([{ ...held, reactions: frame.reactions }]);
        }
        return true;
      }
      case "presence":
        this.#online = names(frame.online);
        this.emit("change", { kind: "members" });
        return true;
      case "members":
        this.#members = names(frame.members);
        this.emit("change", { kind: "members" });
        return true;
      case "typing":
        this.#startTyping(frame.user);
        return true;
      case "read":
        if (typeof frame.user === "string" && Number.isSafeInteger(frame.id)) {
          this.#readMarks.set(frame.user, Math.max(frame.id, this.#readMarks.get(frame.user) ?? 0));
          this.emit("change", { kind: "seen" });
        }
        return true;
      case "room":
        if (frame.room && typeof frame.room === "object") {
          const previous = this.#info;
          this.#info = { ...this.#info, ...frame.room };
          this.emit("change", { kind: "info", previous });
        }
        return true;
      default:
        return false;
    }
  }

  /**
   * Take a `history` answer.
   * @param {{messages: Message[], has_more: boolean, has_more_after?: boolean}} page
   * @param {"before"|"after"|"around"|"latest"} how what was asked: older than the oldest held,
   *   newer than the newest held (a catch-up, or closing the gap after a jump), around an id
   *   (a jump: the held messages are replaced), or the newest (back to the present: replaced)
   */
  applyPage(page, how) {
    const messages = messagesOf(page.messages);
    if (how === "around" || how === "latest") {
      this.#replace(messages);
      this.#hasOlder = !!page.has_more;
      this.#hasNewer = how === "around" && !!page.has_more_after;
      this.emit("change", { kind: "reset" });
      return;
    }
    this.#merge(messages, { contiguous: true });
    if (how === "before") {
      this.#hasOlder = !!page.has_more && messages.length > 0;
    } else if (this.#hasNewer) {
      this.#hasNewer = !!page.has_more && messages.length > 0;
    }
    this.emit("change", { kind: "paging" });
  }

  /**
   * @param {"older"|"newer"|"around"} what
   * @param {boolean} on
   */
  setLoading(what, on) {
    if (on) {
      this.#loading.add(what);
    } else {
      this.#loading.delete(what);
    }
    this.emit("change", { kind: "paging" });
  }

  /**
   * Move my read mark forward.
   * @param {number} id
   * @returns {boolean} false when it is at or past `id` already
   */
  moveReadMark(id) {
    if (!Number.isSafeInteger(id) || id <= this.#readMark) {
      return false;
    }
    this.#readMark = id;
    this.emit("change", { kind: "read" });
    return true;
  }

  /** Ask the view to show message `id` (held). */
  focus(id) {
    this.emit("change", { kind: "focus", id });
  }

  /** Nobody is typing as far as we know (the socket dropped). */
  clearTyping() {
    for (const user of [...this.#typing.keys()]) {
      this.#stopTyping(user);
    }
  }

  /** Replace the held messages without events (the caller emits "reset"). */
  #replace(messages) {
    this.#byId.clear();
    this.#ids = [];
    for (const message of messages) {
      this.#hold(message);
    }
  }

  /**
   * Add new messages in id order and refresh held ones that differ (an edit or reactions we
   * missed). Unless `contiguous` (a page next to the held run), a message past the newest
   * held one is left out while the held run does not reach the present.
   */
  #merge(messages, { contiguous = false } = {}) {
    const added = [];
    for (const message of messages) {
      const held = this.#byId.get(message.id);
      if (held) {
        if (JSON.stringify(held) !== JSON.stringify(message)) {
          this.#byId.set(message.id, message);
          this.emit("change", { kind: "updated", id: message.id });
        }
      } else if (contiguous || !this.#hasNewer || message.id < this.newestId) {
        this.#hold(message);
        added.push(message.id);
      } else {
        this.#latestId = Math.max(this.#latestId, message.id);
      }
    }
    if (added.length) {
      this.emit("change", { kind: "added", ids: added.sort((a, b) => a - b) });
    }
  }

  #hold(message) {
    this.#byId.set(message.id, message);
    this.#latestId = Math.max(this.#latestId, message.id);
    let at = this.#ids.length;
    while (at > 0 && this.#ids[at - 1] > message.id) {
      at -= 1; // new messages come at the end: the search is short where it matters
    }
    this.#ids.splice(at, 0, message.id);
  }

  #remove(id) {
    if (!this.#byId.has(id)) {
      return;
    }
    this.#byId.delete(id);
    this.#ids.splice(this.#ids.indexOf(id), 1);
    if (this.#firstUnreadId === id) {
      this.#firstUnreadId = this.#unreadFrom(id);
    }
    this.emit("change", { kind: "removed", id });
  }

  /** The first held message after `id` that is not mine, or null. */
  #unreadFrom(id) {
    const me = this.#me?.username;
    return this.messages.find((m) => m.id > id && m.author !== me)?.id ?? null;
  }

  #startTyping(user) {
    if (typeof user !== "string" || user === this.#me?.username) {
      return;
    }
    this.#deps.clearTimeout(this.#typing.get(user));
    this.#typing.set(
      user,
      this.#deps.setTimeout(() => this.#stopTyping(user), TYPING_SHOWN)
    );
    this.emit("change", { kind: "typing", users: this.typingUsers });
  }

  #stopTyping(user) {
    if (this.#typing.has(user)) {
      this.#deps.clearTimeout(this.#typing.get(user));
      this.#typing.delete(user);
      this.emit("change", { kind: "typing", users: this.typingUsers });
    }
  }
}
