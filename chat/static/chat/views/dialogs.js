/*
 * Dialogs: reporting a message (the page's <dialog id="report-dialog">), the emoji picker
 * (common emoji, my recent ones first) that opens next to a message's React button, and the
 * viewer that shows a message's image full size.
 */
import { EXCERPT, MAX_REASON } from "../core/constants.js";
import { oneLine } from "../core/text.js";
import { button, byId, el, icon, isModifiedClick } from "./dom.js";
import { toast } from "./notifications.js";
import { errorText, fileSize, t } from "./strings.js";

export class ReportDialog {
  #session;
  #ui;
  #id = null;
  #opener = null;

  /** @param {import("../core/session.js").RoomSession} session */
  constructor(session) {
    this.#session = session;
    this.#ui = {
      dialog: byId("report-dialog"),
      form: byId("report-form"),
      author: byId("report-author"),
      body: byId("report-body"),
      reason: byId("report-reason"),
      count: byId("report-count"),
      cancel: byId("report-cancel"),
    };
    const { dialog, form, reason, cancel } = this.#ui;
    reason.maxLength = MAX_REASON;
    reason.addEventListener("input", () => this.#count());
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (reason.value.length > MAX_REASON) {
        toast(t("report_too_long", { max: MAX_REASON }));
        return;
      }
      const id = this.#id;
      const text = reason.value;
      this.close();
      if (id !== null) {
        this.#send(id, text);
      }
    });
    cancel.addEventListener("click", () => this.close());
    dialog.addEventListener("close", () => {
      this.#id = null;
      (this.#opener?.isConnected ? this.#opener : byId("composer-input"))?.focus();
      this.#opener = null;
    });
    dialog.addEventListener("click", (event) => {
      if (event.target === dialog) {
        this.close(); // a click on the backdrop
      }
    });
  }

  /** @param {{id: number, author: string, body: string}} message */
  open(message) {
    this.#id = message.id;
    this.#opener = document.activeElement;
    this.#ui.author.textContent = t("report_author", { name: message.author });
    this.#ui.body.textContent = oneLine(message.body, EXCERPT * 2);
    this.#ui.reason.value = "";
    this.#count();
    this.#ui.dialog.showModal();
    this.#ui.reason.focus();
  }

  close() {
    if (this.#ui.dialog.open) {
      this.#ui.dialog.close();
    }
  }

  #count() {
    const n = this.#ui.reason.value.length;
    this.#ui.count.textContent = t("report_count", { n, max: MAX_REASON });
    this.#ui.count.classList.toggle("is-over", n > MAX_REASON);
  }

  async #send(id, reason) {
    try {
      await this.#session.report(id, reason);
      toast(t("report_done"));
    } catch (error) {
      toast(t("report_failed", { reason: errorText(error) }));
    }
  }
}

/**
 * The emoji picker: one at a time, placed next to the button that opened it.
 */
export class EmojiPicker {
  #recent;
  #node;
  #onPick = null;
  #opener = null;

  /** @param {import("../core/emoji.js").RecentEmoji} recent */
  constructor(recent) {
    this.#recent = recent;
    this.#node = el("div", "emoji-picker");
    this.#node.id = "emoji-picker";
    this.#node.setAttribute("role", "dialog");
    this.#node.setAttribute("aria-label", t("picker_label"));
    this.#node.hidden = true;
    document.body.append(this.#node);
    this.#node.addEventListener("click", (event) => {
      const choice = event.target.closest("button[data-emoji]");
      if (choice) {
        const pick = this.#onPick;
        this.close();
        this.#recent.use(choice.dataset.emoji);
        pick?.(choice.dataset.emoji);
      }
    });
    this.#node.addEventListener("keydown", (event) => this.#key(event));
    document.addEventListener("pointerdown", (event) => {
      if (!this.#node.hidden && !this.#node.contains(event.target) && !this.#opener?.contains(event.target)) {
        this.close(false);
      }
    });
    window.addEventListener("resize", () => this.close(false));
  }

  get isOpen() {
    return !this.#node.hidden;
  }

  /**
   * @param {HTMLElement} opener the button it opens next to
   * @param {(emoji: string) => void} onPick
   */
  open(opener, onPick) {
    if (this.isOpen && this.#opener === opener) {
      this.close();
      return;
    }
    this.#opener = opener;
    this.#onPick = onPick;
    const recent = new Set(this.#recent.list);
    this.#node.replaceChildren(
      ...this.#recent.choices().map((emoji) => {
        const choice = button(`emoji-choice${recent.has(emoji) ? " is-recent" : ""}`, emoji, t("picker_choice", { emoji }));
        choice.dataset.emoji = emoji;
        return choice;
      })
    );
    this.#node.hidden = false;
    this.#place(opener);
    this.#node.querySelector("button")?.focus();
  }

  /** @param {boolean} [refocus] give the focus back to the button that opened it */
  close(refocus = true) {
    if (this.#node.hidden) {
      return;
    }
    this.#node.hidden = true;
    if (refocus && this.#opener?.isConnected) {
      this.#opener.focus();
    }
    this.#opener = null;
    this.#onPick = null;
  }

  /** Below the button if there is room, else above; kept inside the window. */
  #place(opener) {
    const at = opener.getBoundingClientRect();
    const size = this.#node.getBoundingClientRect();
    const margin = 8;
    const below = at.bottom + margin + size.height < window.innerHeight;
    const top = below ? at.bottom + 4 : Math.max(margin, at.top - size.height - 4);
    const left = Math.min(Math.max(margin, at.right - size.width), window.innerWidth - size.width - margin);
    this.#node.style.top = `${Math.round(top + window.scrollY)}px`;
    this.#node.style.left = `${Math.round(left + window.scrollX)}px`;
  }

  #key(event) {
    const choices = [...this.#node.querySelectorAll("button")];
    const at = choices.indexOf(document.activeElement);
    const columns = 6;
    const moves = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns, ArrowUp: -columns };
    if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      this.close();
    } else if (event.key in moves && at !== -1) {
      event.preventDefault();
      choices[Math.min(choices.length - 1, Math.max(0, at + moves[event.key]))].focus();
    } else if (event.key === "Tab") {
      this.close(false);
    }
  }
}

/**
 * An image full size, over the page: a click anywhere (but on its download link) or Escape
 * closes it. It opens from a click on a message's image (views/attachments.js's `.msg-image`
 * links); a click with a modifier key is the browser's (a new tab).
 */
export class ImageViewer {
  #ui;
  #opener = null;

  /** @param {HTMLElement[]} containers where message images are (the log's lists) */
  constructor(containers) {
    const dialog = el("dialog", "image-viewer");
    dialog.id = "image-viewer";
    const figure = el("figure", "image-viewer-figure");
    const image = el("img", "image-viewer-image");
    image.alt = "";
    const caption = el("figcaption", "image-viewer-caption");
    const name = el("span", "image-viewer-name");
    const size = el("span", "image-viewer-size");
    const download = el("a", "image-viewer-download", t("viewer_download"));
    caption.append(name, size, download);
    figure.append(image, caption);
    const close = button("icon-button image-viewer-close", null, t("viewer_close"));
    close.title = t("viewer_close");
    close.append(icon("close", 20));
    dialog.append(figure, close);
    document.body.append(dialog);
    this.#ui = { dialog, image, name, size, download };

    dialog.addEventListener("click", (event) => {
      if (!event.target.closest("a")) {
        this.close();
      }
    });
    dialog.addEventListener("close", () => {
      image.removeAttribute("src"); // stop loading a large image nobody looks at now
      if (this.#opener?.isConnected) {
        this.#opener.focus();
      }
      this.#opener = null;
    });
    for (const container of containers) {
      container.addEventListener("click", (event) => {
        const link = event.target.closest("a.msg-image");
        if (!link || isModifiedClick(event)) {
          return;
        }
        event.preventDefault();
        this.open(link);
      });
    }
  }

  get isOpen() {
    return this.#ui.dialog.open;
  }

  /** @param {HTMLAnchorElement} link a message's image: its href, data-name and data-size */
  open(link) {
    const { dialog, image, name, size, download } = this.#ui;
    const label = link.dataset.name || "";
    this.#opener = link;
    image.src = link.href;
    image.alt = label;
    name.textContent = label;
    const bytes = Number(link.dataset.size);
    size.textContent = Number.isFinite(bytes) && bytes > 0 ? fileSize(bytes) : "";
    download.href = link.href;
    download.download = label;
    dialog.setAttribute("aria-label", label);
    if (!dialog.open) {
      dialog.showModal();
    }
  }

  close() {
    if (this.#ui.dialog.open) {
      this.#ui.dialog.close();
    }
  }
}
