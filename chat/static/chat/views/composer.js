/*
 * The composer: Enter sends, Shift+Enter starts a new line, and so does Enter inside a fenced
 * code block still open (```), so that code spans lines; Ctrl/⌘+Enter always sends. It shows
 * the message I reply to, who is typing, and the room's policy (slow mode; an announcements
 * room closes it to whoever does not moderate). Drafts stay with their room when I switch.
 * Files (the tray, attachments.js) go with the next message once every one is uploaded:
 * Send waits for them, and a message may be files alone.
 */
import { MAX_BODY, EXCERPT } from "../core/constants.js";
import { insideOpenFence, oneLine } from "../core/text.js";
import { UploadTray } from "./attachments.js";
import { byId } from "./dom.js";
import { toast } from "./notifications.js";
import { duration, t } from "./strings.js";

/** The text of "who is typing" for these names. */
export function typingText(names) {
  if (names.length === 1) {
    return t("typing_one", { name: names[0] });
  }
  if (names.length === 2) {
    return t("typing_two", { first: names[0], second: names[1] });
  }
  return names.length ? t("typing_many") : "";
}

export class ComposerView {
  #session;
  #context;
  #onEditLast;
  #ui;
  #tray;
  #replyTo = null;
  #drafts = new Map(); // slug -> {body, replyTo}
  #slug;

  /**
   * @param {object} options
   * @param {import("../core/session.js").RoomSession} options.session
   * @param {() => {me: string, moderator: boolean, canPost: boolean, title: string}} options.context
   * @param {() => void} options.onEditLast ArrowUp in an empty composer: edit my last message
   */
  constructor({ session, context, onEditLast }) {
    this.#session = session;
    this.#context = context;
    this.#onEditLast = onEditLast;
    this.#slug = session.slug;
    this.#ui = {
      form: byId("composer"),
      input: byId("composer-input"),
      send: byId("composer-send"),
      typing: byId("typing"),
      slowFlag: byId("slow-mode-flag"),
      slowText: byId("slow-mode-text"),
      postingFlag: byId("posting-flag"),
      replyBar: byId("reply-bar"),
      replyAuthor: byId("reply-author"),
      replyExcerpt: byId("reply-excerpt"),
      replyCancel: byId("reply-cancel"),
    };
    this.#ui.input.maxLength = MAX_BODY;
    this.#ui.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.#send();
      this.#ui.input.focus();
    });
    this.#ui.input.addEventListener("keydown", (event) => this.#key(event));
    this.#ui.input.addEventListener("input", () => {
      this.#grow();
      if (this.#ui.input.value.trim()) {
        session.typing();
      }
    });
    this.#ui.replyCancel.addEventListener("click", () => {
      this.setReply(null);
      this.#ui.input.focus();
    });
    session.on("room", (change) => this.#roomChanged(change));
    session.on("state", () => this.render());
    this.#tray = new UploadTray({ session, onChange: () => this.#tray && this.render() });
    this.render();
  }

  /**
   * Answer this message (null: no longer).
   * @param {object|null} message
   */
  setReply(message) {
    this.#replyTo = message ? message.id : null;
    this.#ui.replyBar.hidden = !message;
    if (message) {
      this.#ui.replyAuthor.textContent = message.author;
      this.#ui.replyExcerpt.textContent = oneLine(message.body, EXCERPT);
      this.#ui.input.focus();
    }
  }

  focus() {
    this.#ui.input.focus();
  }

  /** Whether I may type here now. */
  get enabled() {
    return !this.#ui.input.disabled;
  }

  render() {
    const room = this.#session.room;
    const info = room.info;
    const context = this.#context();
    const closed = this.#session.state === "closed";
    const locked = !!info && info.posting === "moderators" && !context.moderator;
    this.#ui.form.classList.toggle("is-locked", locked);
    this.#ui.input.disabled = locked || closed;
    this.#ui.send.disabled = locked || closed || this.#tray.busy;
    this.#tray.setEnabled(!locked && !closed);
    if (locked) {
      this.#ui.input.placeholder = t("composer_locked");
    } else if (info) {
      const name = info.kind === "direct" ? `@${context.title}` : info.kind === "public" ? `#${info.name}` : info.name;
      this.#ui.input.placeholder = t("composer_placeholder", { name });
    }
    const slow = (info?.slow_mode ?? 0) > 0;
    this.#ui.slowFlag.hidden = !slow;
    if (slow) {
      const every = duration(info.slow_mode);
      this.#ui.slowText.textContent = t("flag_slow_mode", { every });
      this.#ui.slowFlag.title = context.moderator ? t("flag_slow_mode_moderator", { every }) : t("flag_slow_mode_member", { every });
    }
    const announcements = info?.posting === "moderators";
    this.#ui.postingFlag.hidden = !announcements;
    this.#ui.postingFlag.title = announcements ? (context.moderator ? t("flag_posting_moderator") : t("flag_posting_member")) : "";
  }

  #roomChanged(change) {
    if (change.kind === "switched") {
      this.#drafts.set(this.#slug, { body: this.#ui.input.value, replyTo: this.#replyTo });
      this.#slug = change.slug;
      const draft = this.#drafts.get(change.slug);
      this.#ui.input.value = draft?.body ?? "";
      this.#grow();
      this.setReply(null);
      if (draft?.replyTo) {
        this.#replyTo = draft.replyTo; // shown once the room holds it (reset)
      }
      this.#ui.typing.textContent = "";
      this.render();
    } else if (change.kind === "reset") {
      const pending = this.#replyTo;
      const held = pending !== null ? this.#session.room.get(pending) : null;
      this.setReply(held ?? null);
      this.render();
    } else if (change.kind === "typing") {
      this.#ui.typing.textContent = typingText(change.users);
    } else if (change.kind === "info") {
      this.render();
      this.#announcePolicy(change.previous);
    } else if (change.kind === "removed" && change.id === this.#replyTo) {
      this.setReply(null);
    }
  }

  /** A policy that changed while I am here: say so. */
  #announcePolicy(previous) {
    const info = this.#session.room.info;
    if (!previous || !info) {
      return;
    }
    const moderator = this.#context().moderator;
    if ((previous.slow_mode ?? 0) !== (info.slow_mode ?? 0)) {
      toast(
        info.slow_mode
          ? t(moderator ? "toast_slow_mode_on_moderator" : "toast_slow_mode_on", { every: duration(info.slow_mode) })
          : t("toast_slow_mode_off")
      );
    }
    if (previous.posting !== info.posting && previous.posting !== undefined) {
      toast(info.posting === "moderators" ? t("toast_announcements_on") : t("toast_announcements_off"));
    }
  }

  #key(event) {
    const input = this.#ui.input;
    if (event.isComposing || event.keyCode === 229) {
      return; // an input method is composing a character
    }
    if (event.key === "Enter") {
      if (event.ctrlKey || event.metaKey) {
        event.preventDefault();
        this.#send();
      } else if (!event.shiftKey && !insideOpenFence(input.value, input.selectionStart)) {
        event.preventDefault();
        this.#send();
      }
    } else if (event.key === "ArrowUp" && !input.value) {
      event.preventDefault();
      this.#onEditLast();
    } else if (event.key === "Escape" && this.#replyTo !== null) {
      event.preventDefault();
      this.setReply(null);
    }
  }

  #send() {
    if (!this.enabled) {
      return;
    }
    const body = this.#ui.input.value;
    if (this.#tray.busy) {
      toast(t("attach_wait"));
      return;
    }
    if (!body.trim() && !this.#tray.ready) {
      return;
    }
    if (body.length > MAX_BODY) {
      toast(t("composer_too_long", { max: MAX_BODY }));
      return;
    }
    const files = this.#tray.take();
    this.#session.send(body.trim() ? body : "", {
      replyTo: this.#replyTo,
      attachments: files.map((file) => file.id),
      files,
    });
    this.#ui.input.value = "";
    this.setReply(null);
    this.#grow();
  }

  /** Grow with the text (browsers without `field-sizing: content`). */
  #grow() {
    if (globalThis.CSS?.supports?.("field-sizing", "content")) {
      return;
    }
    const input = this.#ui.input;
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 192)}px`;
  }
}
