/*
 * The outbox: my messages on their way to one room, until the room shows them.
 *
 * Each entry has a client_id made here; every send of it, however often, carries that same
 * client_id, and the server stores it at most once (a repeat answers the original). So an
 * entry is simply sent again whenever its fate is unknown: after a reconnect, and when it has
 * not shown up CONFIRM_WAIT after a send (its broadcast may have died with a worker; the
 * repeat makes the server broadcast the original again).
 *
 * An entry leaves the outbox when the message itself arrives (settle(): a broadcast `message`
 * with its client_id, or any message with the id its `ok` named), so a message is on screen
 * exactly once: as an entry until then, as a message of the room after. The `ok` for its ref
 * records the id and lets the next entry go: entries are sent one at a time, in order, so
 * that they are stored in the order they were written.
 */
import { backoffDelay } from "./backoff.js";
import { CONFIRM_WAIT, RETRY_MARGIN } from "./constants.js";
import { Emitter } from "./emitter.js";
import { Hold } from "./hold.js";
import { DISCONNECTED } from "./requests.js";

/** Refusals that pass by themselves: the entry is sent again after `retry_after` (or backoff). */
const RETRIED = new Set(["rate_limited", "unavailable"]);

/**
 * @typedef {object} OutboxEntry what a view renders as a pending message (read only)
 * @property {string} clientId
 * @property {string} body
 * @property {number|null} replyTo the id of the message it answers
 * @property {string[]} attachments upload ids
 * @property {object[]} files their attachment objects, to show while it is on its way
 * @property {"queued"|"sending"|"waiting"|"failed"} state
 *   queued: waits for the socket or its turn; sending: sent, not shown yet;
 *   waiting: refused for now (rate limited, server busy), sent again at `retryAt`;
 *   failed: refused for good (see `error`) until retry() or discard()
 * @property {number|null} id the message's id, once an `ok` named it
 * @property {number|null} retryAt ms since the epoch, while waiting
 * @property {{code: string, message: string}|null} error while failed
 * @property {number} sends how many times it was sent
 */

/**
 * Events: "change" `{kind, entry}` with kind "added", "updated" (state, id or error changed),
 * "removed" (discarded), or "confirmed" (the room now holds the message; also `id`).
 */
export class Outbox extends Emitter {
  #request;
  #deps;
  #entries = [];
  #active = false;
  #inFlight = null; // the entry whose answer decides whether the next may go
  #hold; // the timer of a waiting entry: nothing is sent before it fires
  #sending = new Map(); // entry -> {timer}: its latest send; answers to older sends are ignored
  #failures = 0;

  /**
   * @param {object} options
   * @param {(frame: object) => Promise<object>} options.request Requests#request
   * @param {(fn: () => void, ms: number) => any} options.setTimeout
   * @param {(id: any) => void} options.clearTimeout
   * @param {() => number} options.now
   * @param {() => number} options.random
   * @param {() => string} options.newId a fresh client_id (at most 64 characters)
   */
  constructor({ request, setTimeout, clearTimeout, now, random, newId }) {
    super();
    this.#request = request;
    this.#deps = { setTimeout, clearTimeout, now, random, newId };
    this.#hold = new Hold(this.#deps, {
      onChange: (entry) => this.emit("change", { kind: "updated", entry }),
      onOver: () => this.#pump(),
    });
  }

  /** @returns {OutboxEntry[]} oldest first */
  get entries() {
    return [...this.#entries];
  }

  /**
   * Queue a message; it goes out as soon as the socket is ready and its turn comes.
   * @param {string} body
   * @param {{replyTo?: number|null, attachments?: string[], files?: object[]}} [options]
   * @returns {OutboxEntry}
   */
  add(body, { replyTo = null, attachments = [], files = [] } = {}) {
    const entry = {
      clientId: this.#deps.newId(),
      body,
      replyTo,
      attachments,
      files,
      state: "queued",
      id: null,
      retryAt: null,
      error: null,
      sends: 0,
    };
    this.#entries.push(entry);
    this.emit("change", { kind: "added", entry });
    this.#pump();
    return entry;
  }

  /**
   * Send a failed entry again (the view's "Retry").
   * @param {string} clientId
   * @returns {boolean} false unless that entry had failed
   */
  retry(clientId) {
    const entry = this.#find(clientId);
    if (entry?.state !== "failed") {
      return false;
    }
    entry.state = "queued";
    entry.error = null;
    this.emit("change", { kind: "updated", entry });
    this.#pump();
    return true;
  }

  /**
   * Drop an entry (the view's "Discard"). Not while it is being sent: it may be stored already.
   * @param {string} clientId
   * @returns {boolean} whether it was dropped
   */
  discard(clientId) {
    const entry = this.#find(clientId);
    if (!entry || entry.state === "sending") {
      return false;
    }
    this.#remove(entry);
    this.emit("change", { kind: "removed", entry });
    this.#pump();
    return true;
  }

  /**
   * A message of mine reached the room (live, in `ready` or in a history page): the entry it
   * stands for, if any, leaves the outbox.
   * @param {{id: number, client_id?: string|null}} message
   * @returns {boolean} whether an entry was confirmed
   */
  settle(message) {
    const entry = this.#entries.find(
      (e) => (message.client_id && e.clientId === message.client_id) || (e.id !== null && e.id === message.id)
    );
    if (!entry) {
      return false;
    }
    this.#remove(entry);
    entry.id = message.id;
    this.emit("change", { kind: "confirmed", entry, id: message.id });
    this.#pump();
    return true;
  }

  /** The socket is ready: send what waits, each with its own client_id again. */
  resume() {
    this.#active = true;
    this.#hold.resume(this.#entries);
    this.#pump();
  }

  /** The socket is gone: whatever was sent is of unknown fate and goes again after resume(). */
  pause() {
    this.#active = false;
    this.#inFlight = null;
    this.#hold.clear();
    for (const entry of [...this.#sending.keys()]) {
      this.#forget(entry);
    }
    for (const entry of this.#entries) {
      if (entry.state === "sending") {
        entry.state = "queued";
        this.emit("change", { kind: "updated", entry });
      }
    }
  }

  #find(clientId) {
    return this.#entries.find((e) => e.clientId === clientId);
  }

  /** Send entries in order: one waits for its answer before the next goes. */
  #pump() {
    while (this.#active && this.#inFlight === null && !this.#hold.held) {
      const next = this.#entries.find((e) => e.state === "queued");
      if (!next) {
        return;
      }
      this.#transmit(next);
    }
  }

  #transmit(entry) {
    this.#forget(entry);
    const send = { timer: null };
    this.#sending.set(entry, send);
    if (entry.id === null) {
      // Not stored yet: the next entry waits for this one's answer. A stored one sent again
      // (so that it gets shown) holds nothing up.
      this.#inFlight = entry;
    }
    entry.state = "sending";
    entry.sends += 1;
    const frame = { type: "message.send", body: entry.body, client_id: entry.clientId };
    if (entry.replyTo !== null) {
      frame.reply_to = entry.replyTo;
    }
    if (entry.attachments.length) {
      frame.attachments = entry.attachments;
    }
    send.timer = this.#deps.setTimeout(() => {
      if (this.#sending.get(entry) === send) {
        this.#transmit(entry);
      }
    }, CONFIRM_WAIT);
    this.emit("change", { kind: "updated", entry });
    this.#request(frame).then(
      (answer) => this.#answered(entry, send, answer),
      (error) => this.#refused(entry, send, error)
    );
  }

  #answered(entry, send, answer) {
    if (this.#sending.get(entry) !== send) {
      return;
    }
    this.#failures = 0;
    if (typeof answer.id === "number" && entry.id === null) {
      entry.id = answer.id;
      this.emit("change", { kind: "updated", entry });
    }
    if (this.#inFlight === entry) {
      this.#inFlight = null;
    }
    this.#pump();
  }

  #refused(entry, send, error) {
    if (this.#sending.get(entry) !== send) {
      return;
    }
    this.#forget(entry);
    if (this.#inFlight === entry) {
      this.#inFlight = null;
    }
    if (error.code === DISCONNECTED) {
      entry.state = "queued"; // sent again after the next `ready` (resume)
    } else if (RETRIED.has(error.code)) {
      const delay =
        error.retry_after !== null
          ? error.retry_after * 1000 + RETRY_MARGIN
          : backoffDelay(this.#failures++, this.#deps.random);
      entry.retryAt = this.#deps.now() + delay;
      this.#hold.wait(entry, delay);
    } else {
      entry.state = "failed";
      entry.error = { code: error.code, message: error.message };
    }
    this.emit("change", { kind: "updated", entry });
    this.#pump();
  }

  #forget(entry) {
    const send = this.#sending.get(entry);
    if (send) {
      this.#deps.clearTimeout(send.timer);
      this.#sending.delete(entry);
    }
  }

  #remove(entry) {
    this.#forget(entry);
    if (entry.state === "waiting") {
      this.#hold.clear();
    }
    this.#entries.splice(this.#entries.indexOf(entry), 1);
    if (this.#inFlight === entry) {
      this.#inFlight = null;
    }
  }
}
