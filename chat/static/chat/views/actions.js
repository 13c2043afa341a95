/*
 * What a click on a message does: react (the picker, or a reaction chip that toggles mine),
 * reply, edit my own in place, report someone else's, delete (mine, or any as a moderator),
 * show the original a reply quotes (loading older history if needed), and retry or discard a
 * message that was not sent. On touch screens a tap shows a message's buttons, and a long
 * press on a reaction shows who reacted.
 */
import { LONG_PRESS, MAX_BODY } from "../core/constants.js";
import { button, byId, el } from "./dom.js";
import { toast } from "./notifications.js";
import { errorText, t } from "./strings.js";

export class MessageActions {
  #session;
  #log;
  #composer;
  #report;
  #picker;
  #selected = null;
  #pressTimer = null;
  #pressed = false;

  /**
   * @param {object} options
   * @param {import("../core/session.js").RoomSession} options.session
   * @param {import("./log.js").LogView} options.log
   * @param {import("./composer.js").ComposerView} options.composer
   * @param {import("./dialogs.js").ReportDialog} options.report
   * @param {import("./dialogs.js").EmojiPicker} options.picker
   */
  constructor({ session, log, composer, report, picker }) {
    this.#session = session;
    this.#log = log;
    this.#composer = composer;
    this.#report = report;
    this.#picker = picker;
    const list = byId("messages");
    list.addEventListener("click", (event) => this.#click(event));
    byId("pending").addEventListener("click", (event) => this.#pendingClick(event));
    list.addEventListener("pointerdown", (event) => this.#pressStart(event));
    for (const type of ["pointerup", "pointercancel", "pointerleave"]) {
      list.addEventListener(type, () => clearTimeout(this.#pressTimer));
    }
    list.addEventListener("contextmenu", (event) => {
      if (event.target.closest(".reaction")) {
        event.preventDefault(); // a long press on a touch screen: ours shows who reacted
      }
    });
  }

  /** ArrowUp in an empty composer: edit my latest message. */
  editLast() {
    const me = this.#session.room.me?.username;
    const mine = this.#session.room.messages.filter((m) => m.author === me).at(-1);
    const li = mine && this.#log.element(mine.id);
    if (li) {
      this.#startEdit(li, mine.id);
    }
  }

  #message(li) {
    return li ? this.#session.room.get(Number(li.dataset.id)) : undefined;
  }

  #click(event) {
    const target = event.target.closest("button[data-action]");
    const li = event.target.closest(".msg");
    if (!target) {
      // Touch screens have no hover: a tap on a message shows its buttons.
      if (this.#selected && this.#selected !== li) {
        this.#selected.classList.remove("is-selected");
      }
      if (li && !event.target.closest("a, textarea, input")) {
        li.classList.toggle("is-selected");
        this.#selected = li;
      }
      return;
    }
    if (this.#pressed) {
      this.#pressed = false; // the long press showed who reacted; the click that ends it does nothing
      return;
    }
    const message = this.#message(li);
    if (!message) {
      return;
    }
    switch (target.dataset.action) {
      case "react":
        this.#picker.open(target, (emoji) => this.#react(message.id, emoji, true));
        break;
      case "toggle-reaction":
        this.#react(message.id, target.dataset.emoji, target.getAttribute("aria-pressed") !== "true");
        break;
      case "reply":
        this.#composer.setReply(message);
        break;
      case "edit":
        this.#startEdit(li, message.id);
        break;
      case "delete":
        if (window.confirm(t("confirm_delete"))) {
          this.#session.deleteMessage(message.id).catch((error) => toast(t("delete_failed", { reason: errorText(error) })));
        }
        break;
      case "report":
        this.#report.open(message);
        break;
      case "show-original":
        this.#showOriginal(Number(target.dataset.replyTo));
        break;
      default:
        break;
    }
  }

  async #react(id, emoji, add) {
    try {
      await (add ? this.#session.react(id, emoji) : this.#session.unreact(id, emoji));
    } catch (error) {
      toast(t("react_failed", { reason: errorText(error) }));
    }
  }

  async #showOriginal(id) {
    if (!(await this.#session.jumpTo(id))) {
      toast(t("reply_original_missing"));
    }
  }

  #pendingClick(event) {
    const target = event.target.closest("button[data-action]");
    const li = target?.closest(".msg");
    if (!li) {
      return;
    }
    if (target.dataset.action === "retry") {
      this.#session.retry(li.dataset.clientId);
    } else if (target.dataset.action === "discard") {
      this.#session.discard(li.dataset.clientId);
    }
  }

  /** A long press on a reaction (touch): who reacted, since there is no hover to show it. */
  #pressStart(event) {
    const chip = event.target.closest(".reaction[data-emoji]");
    this.#pressed = false;
    if (!chip || event.pointerType === "mouse") {
      return;
    }
    clearTimeout(this.#pressTimer);
    this.#pressTimer = setTimeout(() => {
      this.#pressed = true;
      toast(`${chip.dataset.emoji} ${chip.title}`);
    }, LONG_PRESS);
  }

  #startEdit(li, id) {
    const message = this.#session.room.get(id);
    if (!message || li.classList.contains("is-editing") || this.#session.state === "closed") {
      return;
    }
    li.classList.add("is-editing");
    const editor = el("div", "msg-editor");
    const area = el("textarea");
    area.maxLength = MAX_BODY;
    area.rows = 2;
    area.value = message.body;
    area.setAttribute("aria-label", t("edit_label"));
    const save = button("button button-small", t("edit_save"));
    const cancel = button("button button-quiet button-small", t("edit_cancel"));
    const buttons = el("div", "msg-editor-buttons");
    buttons.append(save, cancel, el("span", "msg-editor-hint", t("edit_hint")));
    editor.append(area, buttons);
    li.querySelector(".msg-content").append(editor);

    const close = () => {
      editor.remove();
      li.classList.remove("is-editing");
      const current = this.#session.room.get(id);
      if (current) {
        this.#log.refreshMessage(id); // what changed while the editor was open
      }
      this.#composer.focus();
    };
    const commit = async () => {
      const body = area.value;
      const current = this.#session.room.get(id);
      if (!current) {
        close();
        return;
      }
      if (!body.trim()) {
        toast(t("edit_empty"));
        return;
      }
      if (body !== current.body) {
        try {
          save.disabled = true;
          await this.#session.edit(id, body);
        } catch (error) {
          save.disabled = false;
          toast(t("edit_failed", { reason: errorText(error) }));
          return;
        }
      }
      close();
    };
    save.addEventListener("click", commit);
    cancel.addEventListener("click", close);
    area.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        commit();
      } else if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
  }
}
