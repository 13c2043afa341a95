/*
 * The log: the room's messages in id order, then mine still on their way (the outbox), with
 * day dividers, a "new messages" line above the first one I had not read, "Seen" under my
 * latest message the other person read (direct rooms), and a button back to the latest
 * messages when I have scrolled up. It loads older messages as I near the top, and newer ones
 * near the bottom after a jump into the past, and keeps what I look at in place meanwhile.
 *
 * It renders the session's state (session.room, session.outbox) and asks the session for
 * pages; what a click on a message does is actions.js's business.
 */
import { AT_BOTTOM, FOCUS_SHOWN, GROUP_WITHIN, NEAR_EDGE } from "../core/constants.js";
import { dayKey, localTimes } from "../core/time.js";
import { el } from "./dom.js";
import { messageElementId, reactionsRow, renderMessage, renderPending, updatePending } from "./message.js";
import { formatOptions, t } from "./strings.js";

/**
 * Whether a message starts a new day, and whether it continues the one before it (the same
 * author within GROUP_WITHIN, the same day, no "new" line between, not a reply): then its
 * name and avatar are left out.
 * @param {{author: string, ts: number}|null} previous
 * @param {{author: string, ts: number, firstUnread: boolean, reply: boolean}} current
 * @param {string} timeZone
 */
export function groupFlags(previous, current, timeZone) {
  const newDay = !previous || dayKey(new Date(previous.ts), timeZone) !== dayKey(new Date(current.ts), timeZone);
  const continued =
    !!previous &&
    !newDay &&
    !current.firstUnread &&
    !current.reply &&
    previous.author === current.author &&
    current.ts >= previous.ts &&
    current.ts - previous.ts < GROUP_WITHIN;
  return { newDay, continued };
}

/** What a message's element keeps when it is rendered again (an edit, new reactions). */
const KEPT_CLASSES = ["is-new-day", "is-continued", "is-first-unread", "is-focused", "is-selected"];

export class LogView {
  #session;
  #ui;
  #context;
  #onBottom;
  #atBottom = true;
  #unseen = 0; // messages that arrived while scrolled up
  #pending = new Map(); // clientId -> <li>
  #focusTimer = null;
  #ticker = null;
  #ready = false;
  #renderedFor = null; // the room object the log shows

  /**
   * @param {object} options
   * @param {import("../core/session.js").RoomSession} options.session
   * @param {() => import("./message.js").MessageContext} options.context
   * @param {() => void} options.onBottom the newest message is in view (read marks)
   */
  constructor({ session, context, onBottom }) {
    this.#session = session;
    this.#context = context;
    this.#onBottom = onBottom;
    this.#ui = {
      log: document.getElementById("log"),
      list: document.getElementById("messages"),
      pending: document.getElementById("pending"),
      start: document.getElementById("log-start"),
      startText: document.getElementById("log-start-text"),
      end: document.getElementById("log-end"),
      jump: document.getElementById("jump-latest"),
      jumpText: document.getElementById("jump-latest-text"),
    };
    session.on("room", (change) => this.#roomChanged(change));
    session.on("outbox", (change) => this.#outboxChanged(change));
    session.on("state", () => this.#refreshPending());
    this.#ui.log.addEventListener("scroll", () => this.#scrolled(), { passive: true });
    this.#ui.jump.addEventListener("click", () => this.jumpToLatest());
    // At the bottom, stay there whatever grows: the window, a late font, new reactions.
    const stick = new ResizeObserver(() => {
      if (this.#atBottom) {
        this.#toBottom();
      }
    });
    for (const node of [this.#ui.log, this.#ui.start, this.#ui.list, this.#ui.pending]) {
      stick.observe(node);
    }
    this.#renderStart();
  }

  /** Whether the newest message is in view. */
  get atBottom() {
    return this.#atBottom && !this.#session.room.hasNewer;
  }

  /** Render every message again (what I may do changed: rights, posting policy). */
  refresh() {
    if (this.#ready) {
      this.#preserve(() => this.#renderAll());
    }
  }

  /** The "latest" button: back to the present from a jump, or down to the bottom. */
  async jumpToLatest() {
    if (this.#session.room.hasNewer) {
      await this.#session.jumpToPresent();
    }
    this.#toBottom();
    this.#onBottom();
  }

  /** Render a message again (after its editor closed). */
  refreshMessage(id) {
    this.#preserve(() => this.#update(this.#session.room.get(id)));
  }

  /** The element of a held message. */
  element(id) {
    return document.getElementById(messageElementId(id));
  }

  // ------------------------------------------------------------- room changes

  #roomChanged(change) {
    const room = this.#session.room;
    switch (change.kind) {
      case "switched":
        this.#ready = false;
        this.#renderedFor = room;
        this.#ui.list.replaceChildren();
        this.#renderOutbox();
        this.#regroup();
        this.#unseen = 0;
        this.#atBottom = true;
        this.#renderStart();
        this.#renderJump();
        break;
      case "reset": {
        const first = this.#renderedFor !== room || !this.#ready;
        this.#ready = true;
        this.#renderedFor = room;
        this.#renderAll();
        this.#unseen = 0;
        this.#toBottom();
        if (first && room.firstUnreadId !== null) {
          this.#showFirstUnread(room.firstUnreadId);
        }
        this.#fillUp();
        this.#onBottomIfThere();
        break;
      }
      case "added":
        this.#preserve(() => {
          for (const id of change.ids) {
            this.#insert(room.get(id));
          }
          this.#regroup();
          this.#renderSeen();
        }, change.ids.some((id) => id > (room.readMark ?? 0)));
        this.#onBottomIfThere();
        break;
      case "updated":
        this.#preserve(() => this.#update(room.get(change.id)));
        break;
      case "removed":
        this.#preserve(() => {
          this.element(change.id)?.remove();
          this.#regroup();
          this.#renderSeen();
        });
        break;
      case "seen":
        this.#preserve(() => this.#renderSeen());
        break;
      case "read":
        this.#renderJump();
        break;
      case "paging":
        this.#preserve(() => this.#renderStart()); // the top's words change its height
        this.#fillUp();
        break;
      case "focus":
        this.#focus(change.id);
        break;
      default:
        break;
    }
  }

  #renderAll() {
    const room = this.#session.room;
    const context = this.#context();
    this.#ui.list.replaceChildren(...room.messages.map((m) => renderMessage(m, context)));
    this.#regroup();
    this.#renderSeen();
    this.#renderStart();
    this.#renderJump();
  }

  /** A new message, in id order (nearly always at the end, or at the top for an older page). */
  #insert(message) {
    if (!message || this.element(message.id)) {
      return;
    }
    const li = renderMessage(message, this.#context());
    let after = this.#ui.list.lastElementChild;
    while (after && Number(after.dataset.id) > message.id) {
      after = after.previousElementSibling;
    }
    if (after) {
      after.after(li);
    } else {
      this.#ui.list.prepend(li);
    }
  }

  #update(message) {
    const li = message && this.element(message.id);
    if (!li) {
      return;
    }
    if (li.classList.contains("is-editing")) {
      // The editor stays open; only the reactions can change under it.
      li.querySelector(".reactions").replaceWith(reactionsRow(message, this.#context()));
      return;
    }
    const fresh = renderMessage(message, this.#context());
    for (const name of KEPT_CLASSES) {
      fresh.classList.toggle(name, li.classList.contains(name)); // grouping, focus, selection stay
    }
    li.replaceWith(fresh);
    this.#renderSeen();
  }

  /** Day dividers, grouping and the "new messages" line, for every message. */
  #regroup() {
    const { timeZone } = formatOptions();
    const firstUnread = this.#session.room.firstUnreadId;
    let previous = null;
    const items = [...this.#ui.list.children, ...this.#ui.pending.children];
    for (const li of items) {
      const current = {
        author: li.dataset.author,
        ts: Number(li.dataset.ts),
        firstUnread: li.dataset.id !== undefined && Number(li.dataset.id) === firstUnread && previous !== null,
        reply: li.classList.contains("has-reply"),
      };
      const { newDay, continued } = groupFlags(previous, current, timeZone);
      li.classList.toggle("is-new-day", newDay);
      li.classList.toggle("is-continued", continued);
      li.classList.toggle("is-first-unread", current.firstUnread);
      previous = current;
    }
  }

  /** "Seen" under my latest message the other person has read (direct rooms only). */
  #renderSeen() {
    const room = this.#session.room;
    const id = room.info?.kind === "direct" ? room.seenId : null;
    const target = id === null ? null : this.element(id);
    const current = this.#ui.list.querySelector(".msg-seen");
    if (current && current.closest(".msg") === target) {
      return;
    }
    current?.remove();
    if (target) {
      const seen = el("p", "msg-seen", t("log_seen"));
      target.querySelector(".msg-content").append(seen);
    }
  }

  /** The top of the log: the room's beginning, or whether older messages are coming. */
  #renderStart() {
    const room = this.#session.room;
    const text = this.#ui.startText;
    const beginning = this.#ready && !room.hasOlder;
    this.#ui.start.classList.toggle("is-beginning", beginning);
    text.replaceChildren();
    if (!this.#ready) {
      text.textContent = t("log_loading");
    } else if (beginning) {
      const info = room.info ?? {};
      const context = this.#context();
      if (info.kind === "direct") {
        const other = context.title;
        text.append(
          el("span", "log-start-title", `@${other}`),
          room.messages.length ? t("log_start_direct", { name: other }) : t("log_empty_direct", { name: other })
        );
      } else {
        const mark = info.kind === "public" ? "#" : "";
        text.append(
          el("span", "log-start-title", t("log_welcome", { room: `${mark}${info.name ?? ""}` })),
          room.messages.length ? t("log_start") : t("log_empty")
        );
      }
    } else if (room.isLoading("older")) {
      text.textContent = t("log_loading_older");
    } else {
      text.textContent = t("log_scroll_up");
    }
    this.#ui.end.hidden = !room.hasNewer;
    this.#ui.end.textContent = room.isLoading("newer") ? t("log_loading_newer") : t("log_scroll_down");
  }

  /**
   * A room opened with unread messages: the newest at the bottom if the first unread one shows
   * there too, else the first unread one at the top (the "new messages" line above it).
   */
  #showFirstUnread(id) {
    const li = this.element(id);
    const hidden = li ? this.#ui.log.getBoundingClientRect().top - li.getBoundingClientRect().top : 0;
    if (hidden > NEAR_EDGE / 4) {
      li.scrollIntoView({ block: "start" });
      this.#measure();
    }
  }

  /** The "latest" button: shown when scrolled up, with how many arrived meanwhile. */
  #renderJump() {
    const room = this.#session.room;
    const distance = this.#distance();
    const far = distance > this.#ui.log.clientHeight / 2 || (distance >= AT_BOTTOM && room.unreadCount > 0);
    const show = this.#ready && (room.hasNewer || this.#unseen > 0 || far);
    this.#ui.jump.hidden = !show;
    this.#ui.jumpText.textContent = this.#unseen > 0 ? t("log_unseen", { count: this.#unseen }) : t("log_jump_latest");
  }

  #focus(id) {
    const li = this.element(id);
    if (!li) {
      return;
    }
    for (const old of this.#ui.list.querySelectorAll(".is-focused")) {
      old.classList.remove("is-focused");
    }
    li.classList.add("is-focused");
    li.scrollIntoView({ block: "center" });
    this.#measure();
    clearTimeout(this.#focusTimer);
    this.#focusTimer = setTimeout(() => li.classList.remove("is-focused"), FOCUS_SHOWN);
  }

  // ------------------------------------------------------------- the outbox

  #outboxChanged(change) {
    const { kind, entry } = change;
    if (kind === "added") {
      const li = renderPending(entry, this.#context().me, this.#session.room.get(entry.replyTo));
      this.#pending.set(entry.clientId, li);
      this.#ui.pending.append(li);
      this.#regroup();
      this.#updatePending(entry);
      this.#toBottom(); // what I send, I want to see
    } else if (kind === "updated") {
      this.#updatePending(entry);
    } else {
      this.#preserve(() => {
        this.#pending.get(entry.clientId)?.remove();
        this.#pending.delete(entry.clientId);
        this.#regroup();
      });
      if (kind === "confirmed" && this.#atBottom) {
        this.#toBottom();
      }
    }
    this.#tickWaiting();
  }

  #renderOutbox() {
    this.#pending.clear();
    const me = this.#context().me;
    this.#ui.pending.replaceChildren(
      ...this.#session.outbox.entries.map((entry) => {
        const li = renderPending(entry, me, this.#session.room.get(entry.replyTo));
        this.#pending.set(entry.clientId, li);
        return li;
      })
    );
    this.#refreshPending();
  }

  #refreshPending() {
    for (const entry of this.#session.outbox.entries) {
      this.#updatePending(entry);
    }
  }

  #updatePending(entry) {
    const li = this.#pending.get(entry.clientId);
    if (!li) {
      return;
    }
    const context = this.#context();
    const state = this.#session.state;
    updatePending(li, entry, {
      connected: state === "ready",
      closed: state === "closed",
      slowMode: (this.#session.room.info?.slow_mode ?? 0) > 0 && !context.moderator,
      localTimes: (text) => localTimes(text, formatOptions()),
    });
  }

  /** While an entry waits (slow mode), its countdown moves every second. */
  #tickWaiting() {
    const waiting = () => this.#session.outbox.entries.filter((e) => e.state === "waiting");
    if (this.#ticker || !waiting().length) {
      return;
    }
    this.#ticker = setInterval(() => {
      const entries = waiting();
      entries.forEach((entry) => this.#updatePending(entry));
      if (!entries.length) {
        clearInterval(this.#ticker);
        this.#ticker = null;
      }
    }, 1000);
  }

  // ------------------------------------------------------------- scrolling

  #distance() {
    const log = this.#ui.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight;
  }

  #measure() {
    this.#atBottom = this.#distance() < AT_BOTTOM;
    if (this.#atBottom && !this.#session.room.hasNewer) {
      this.#unseen = 0;
    }
    this.#renderJump();
  }

  #toBottom() {
    this.#ui.log.scrollTop = this.#ui.log.scrollHeight;
    this.#measure();
  }

  /**
   * Make a change to the log, keeping the view where it was: at the bottom if it was there,
   * else with the message at the top of the view where it was (older messages may have come
   * in above it). `news`: the change brings new messages (counted while scrolled up).
   */
  #preserve(change, news = false) {
    const wasAtBottom = this.#atBottom;
    const log = this.#ui.log;
    const top = log.getBoundingClientRect().top;
    const anchor = wasAtBottom ? null : [...this.#ui.list.children].find((li) => li.getBoundingClientRect().bottom > top);
    const offset = anchor ? anchor.getBoundingClientRect().top : 0;
    const before = this.#ui.list.children.length;
    change();
    if (wasAtBottom) {
      this.#toBottom();
      return;
    }
    if (anchor?.isConnected) {
      log.scrollTop += anchor.getBoundingClientRect().top - offset;
    }
    const added = this.#ui.list.children.length - before;
    if (news && added > 0 && this.#ui.list.lastElementChild && !this.#session.room.hasNewer) {
      this.#unseen += added;
    }
    this.#measure();
  }

  #scrolled() {
    const wasAtBottom = this.#atBottom;
    this.#measure();
    const log = this.#ui.log;
    if (log.scrollTop < NEAR_EDGE) {
      this.#session.loadOlder();
    }
    if (this.#session.room.hasNewer && this.#distance() < NEAR_EDGE) {
      this.#session.loadNewer();
    }
    if (this.#atBottom && !wasAtBottom) {
      this.#onBottomIfThere();
    }
  }

  #onBottomIfThere() {
    if (this.atBottom) {
      this.#onBottom();
    }
  }

  /** With too few messages to scroll, nobody can scroll up: load older ones by ourselves. */
  #fillUp() {
    const log = this.#ui.log;
    if (this.#ready && log.scrollHeight <= log.clientHeight + 8 && this.#session.room.hasOlder) {
      this.#session.loadOlder();
    }
  }
}
