/*
 * The sidebar's state: my rooms and direct conversations, each with its unread count and
 * whether that count holds a mention of me (or a direct message).
 *
 * Counts come from `GET /api/rooms/` (at the start and after each reconnect), then move with
 * the frames every socket of mine gets about rooms it is not on: `activity` and `notify` add
 * one per new message of someone else (the same message may come as both: it counts once),
 * `unread` sets a count (my read mark moved, in any tab). The room on screen counts nothing.
 */
import { Emitter } from "./emitter.js";

/**
 * @typedef {object} Conversation
 * @property {string} slug
 * @property {string} name
 * @property {"public"|"private"|"direct"|null} kind
 * @property {string} topic
 * @property {string} title how to name it: the room's name, or the other person for a DM
 * @property {boolean} joined false for a public room I never opened
 * @property {number} unread
 * @property {boolean} mention the unread messages include a mention of me or a direct message
 * @property {number} lastId the newest message id known in it (to sort by recent activity)
 */

/**
 * Events:
 * - "change" `{kind: "reset"}` (a new list), `{kind: "updated", slug}` (added or changed),
 *   `{kind: "removed", slug}`;
 * - "notify" `frame`: a `notify` frame about someone else's message in a room not on screen
 *   (material for a toast or a desktop notification).
 */
export class Conversations extends Emitter {
  #rooms = new Map(); // slug -> Conversation
  // slug -> {floor, counted}: message ids above `floor` counted since the last count the
  // server gave, so that no message counts twice (activity and notify, or a list that
  // arrives after the frames).
  #seen = new Map();
  #me;
  #open = null;

  /** @param {{me?: string|null}} [options] my username, if the page knows it */
  constructor({ me = null } = {}) {
    super();
    this.#me = me;
  }

  /** @param {string} username from `ready` */
  setMe(username) {
    this.#me = username;
  }

  /** The slug of the room on screen, or null. */
  get openSlug() {
    return this.#open;
  }

  /**
   * The room now on screen (null: none, e.g. the lobby). Its count clears and stays at zero
   * while it is open: what arrives there is read as it arrives.
   * @param {string|null} slug
   */
  open(slug) {
    this.#open = slug;
    if (slug !== null && this.#rooms.has(slug)) {
      this.#setCount(slug, 0);
      this.emit("change", { kind: "updated", slug });
    }
  }

  /**
   * Take the `rooms` of `GET /api/rooms/`. Messages counted from frames with ids above a
   * room's `last_id` are newer than the list's count and keep counting.
   * @param {object[]} rooms
   */
  load(rooms) {
    const fresh = new Map();
    const seenFresh = new Map();
    for (const room of Array.isArray(rooms) ? rooms : []) {
      if (!room || typeof room.slug !== "string") {
        continue;
      }
      const floor = Number.isSafeInteger(room.last_id) ? room.last_id : 0;
      const counted = new Set([...(this.#seen.get(room.slug)?.counted ?? [])].filter((id) => id > floor));
      seenFresh.set(room.slug, { floor, counted });
      const open = room.slug === this.#open;
      const unread = open ? 0 : (Number(room.unread) || 0) + counted.size;
      // A direct message is as strong as a mention; so is a mention counted since the snapshot.
      const mention =
        Number(room.mentions) > 0 ||
        (room.kind === "direct" && unread > 0) ||
        (counted.size > 0 && !!this.#rooms.get(room.slug)?.mention);
      fresh.set(room.slug, {
        slug: room.slug,
        name: String(room.name ?? room.slug),
        kind: room.kind ?? null,
        topic: String(room.topic ?? ""),
        title: String(room.title ?? room.name ?? room.slug),
        joined: room.joined !== false,
        unread,
        mention: !open && mention,
        lastId: Math.max(floor, ...counted),
      });
    }
    this.#rooms = fresh;
    this.#seen = seenFresh;
    this.emit("change", { kind: "reset" });
  }

  /**
   * Take a frame if it is about the list: `activity`, `notify`, `unread`, `conversation`,
   * `conversation.removed`.
   * @param {object} frame
   * @returns {boolean} whether it was one of those
   */
  apply(frame) {
    switch (frame.type) {
      case "activity":
        if (typeof frame.room === "string" && Number.isSafeInteger(frame.id)) {
          this.#count(frame.room, frame.id, frame.author, frame);
          this.emit("change", { kind: "updated", slug: frame.room });
        }
        return true;
      case "notify":
        this.#notify(frame);
        return true;
      case "unread":
        if (typeof frame.room === "string" && Number.isSafeInteger(frame.unread) && this.#rooms.has(frame.room)) {
          this.#setCount(frame.room, frame.room === this.#open ? 0 : frame.unread);
          this.emit("change", { kind: "updated", slug: frame.room });
        }
        return true;
      case "conversation":
        if (frame.room && typeof frame.room.slug === "string") {
          const entry = this.#entry(frame.room.slug, frame);
          Object.assign(entry, {
            name: String(frame.room.name ?? entry.name),
            kind: frame.room.kind ?? entry.kind,
            topic: String(frame.room.topic ?? entry.topic),
            title: String(frame.title ?? frame.room.name ?? entry.title),
            joined: true,
          });
          this.emit("change", { kind: "updated", slug: entry.slug });
        }
        return true;
      case "conversation.removed":
        if (this.#rooms.delete(frame.room)) {
          this.#seen.delete(frame.room);
          this.emit("change", { kind: "removed", slug: frame.room });
        }
        return true;
      default:
        return false;
    }
  }

  /** @returns {Conversation|undefined} a copy */
  get(slug) {
    const entry = this.#rooms.get(slug);
    return entry && { ...entry };
  }

  /** @returns {Conversation[]} copies, in the order the server listed them (new ones last) */
  list() {
    return [...this.#rooms.values()].map((entry) => ({ ...entry }));
  }

  /** All unread messages: the tab title's "(3)". */
  total() {
    let sum = 0;
    for (const entry of this.#rooms.values()) {
      sum += entry.unread;
    }
    return sum;
  }

  #notify(frame) {
    const message = frame.message;
    if (typeof frame.room !== "string" || !message || !Number.isSafeInteger(message.id)) {
      return;
    }
    const entry = this.#count(frame.room, message.id, message.author, frame);
    const news = message.author !== this.#me && frame.room !== this.#open;
    if (news) {
      entry.mention = true;
    }
    this.emit("change", { kind: "updated", slug: frame.room });
    if (news) {
      this.emit("notify", frame);
    }
  }

  /** One message in a room: counted unless already counted, mine, or in the open room. */
  #count(slug, id, author, frame) {
    const entry = this.#entry(slug, frame);
    const seen = this.#seen.get(slug);
    entry.lastId = Math.max(entry.lastId, id);
    if (id > seen.floor && !seen.counted.has(id) && author !== this.#me && slug !== this.#open) {
      seen.counted.add(id);
      entry.unread += 1;
    }
    return entry;
  }

  /**
   * A count from the server (or zero, read here). Every id counted so far is covered by it,
   * so it becomes the floor: a late frame for one of them must not count again.
   */
  #setCount(slug, unread) {
    const entry = this.#rooms.get(slug);
    const seen = this.#seen.get(slug);
    seen.floor = Math.max(seen.floor, ...seen.counted);
    seen.counted.clear();
    entry.unread = unread;
    if (unread === 0) {
      entry.mention = false;
    }
  }

  /**
   * The entry of `slug`; a room the list does not know yet (a frame that beat the list or
   * its `conversation` frame) gets one from what the frame says, so that no count is lost.
   */
  #entry(slug, frame) {
    if (!this.#rooms.has(slug)) {
      const name = typeof frame.room_name === "string" ? frame.room_name : slug;
      this.#rooms.set(slug, {
        slug,
        name,
        kind: frame.room_kind ?? null,
        topic: "",
        title: name,
        joined: true,
        unread: 0,
        mention: false,
        lastId: 0,
      });
      this.#seen.set(slug, { floor: 0, counted: new Set() });
    }
    return this.#rooms.get(slug);
  }
}
