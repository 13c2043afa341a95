/*
 * Files, on screen. In a message: an image the server made a thumbnail of shows inline, at
 * the size its width and height say (so nothing jumps when it loads), and opens full size in
 * the viewer (dialogs.js); any other file is a card with an icon, its name, its size and a
 * download link. In the composer: the tray of files picked (the attach button), dropped (on
 * the log or the composer) or pasted (an image from the clipboard), each with a preview, the
 * upload's progress bar (what the server acknowledged) and a button that cancels or removes
 * it. The upload itself is core/uploads.js's business.
 *
 * A preview is the image's own bytes as a `data:` URL (FileReader): the page's
 * Content-Security-Policy allows `data:` images and not `blob:` ones, and the bytes are at
 * most the upload limit.
 */
import { FILES_PER_MESSAGE, IMAGE_SHOWN_HEIGHT, IMAGE_SHOWN_WIDTH } from "../core/constants.js";
import { button, byId, el, icon } from "./dom.js";
import { toast } from "./notifications.js";
import { fileSize, t, uploadErrorText } from "./strings.js";

/** Types a browser shows as they are, and the server makes thumbnails of. */
const PREVIEWED = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

/**
 * A box of at most `maxWidth` × `maxHeight` with the proportions of `width` × `height`,
 * never larger than they are.
 * @returns {{width: number, height: number}|null} null when the sizes are unknown
 */
export function fitSize(width, height, maxWidth, maxHeight) {
  if (!(Number.isFinite(width) && Number.isFinite(height) && width > 0 && height > 0)) {
    return null;
  }
  const scale = Math.min(1, maxWidth / width, maxHeight / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * A file's address if it is one of this site's (or at least http), else null: nothing else
 * ever becomes a link.
 * @param {unknown} url
 */
export function safeUrl(url, base = globalThis.document?.baseURI ?? "http://localhost/") {
  if (typeof url !== "string" || !url) {
    return null;
  }
  try {
    const parsed = new URL(url, base);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? url : null;
  } catch {
    return null;
  }
}

/** The extension shown on a file's icon ("PDF"), at most four characters. */
export function extensionOf(name) {
  const match = /\.([A-Za-z0-9]{1,4})$/.exec(String(name ?? ""));
  return match ? match[1].toUpperCase() : "";
}

/** An attachment shown as an image: it has a thumbnail (only PNG, JPEG, GIF and WebP do). */
function isImage(attachment) {
  return safeUrl(attachment.thumbnail_url) !== null && safeUrl(attachment.url) !== null;
}

/** An image: its thumbnail, at its own proportions; a click opens it full size. */
function imageLink(attachment) {
  const link = el("a", "msg-image");
  link.href = attachment.url;
  link.dataset.name = attachment.name;
  link.dataset.size = String(attachment.size ?? "");
  link.title = attachment.name;
  link.setAttribute("aria-label", t("image_open", { name: attachment.name }));
  const image = el("img", "msg-image-thumb");
  image.alt = attachment.name;
  image.decoding = "async";
  const size = fitSize(attachment.width, attachment.height, IMAGE_SHOWN_WIDTH, IMAGE_SHOWN_HEIGHT);
  if (size) {
    image.width = size.width; // attributes, not a style: the page's CSP allows no style attribute
    image.height = size.height;
  }
  image.src = attachment.thumbnail_url;
  link.append(image);
  return link;
}

/** A file's icon, with its extension on it. */
function fileIcon(name, className) {
  const box = el("span", className);
  box.setAttribute("aria-hidden", "true");
  box.append(icon("file", 28));
  const extension = extensionOf(name);
  if (extension) {
    box.append(el("span", "file-icon-ext", extension));
  }
  return box;
}

/** Any other file: icon, name, size, download. */
function fileCard(attachment) {
  const card = el("div", "file-card");
  const url = safeUrl(attachment.url);
  const info = el("span", "file-card-info");
  const name = el(url ? "a" : "span", "file-card-name", attachment.name);
  info.append(name, el("span", "file-card-size", fileSize(attachment.size ?? 0)));
  card.append(fileIcon(attachment.name, "file-card-icon"), info);
  if (url) {
    name.href = url;
    name.download = attachment.name;
    const download = el("a", "icon-button file-card-download");
    download.href = url;
    download.download = attachment.name;
    download.title = t("file_download", { name: attachment.name });
    download.setAttribute("aria-label", download.title);
    download.append(icon("download", 18));
    card.append(download);
  }
  return card;
}

/**
 * A message's files: images first as they came, then the cards.
 * @param {object[]} attachments the contract's attachment objects
 * @returns {HTMLElement}
 */
export function renderAttachments(attachments) {
  const box = el("div", "msg-files");
  const images = attachments.filter(isImage);
  const others = attachments.filter((a) => !isImage(a));
  if (images.length) {
    const gallery = el("div", "msg-images");
    gallery.append(...images.map(imageLink));
    box.append(gallery);
  }
  box.append(...others.map(fileCard));
  return box;
}

/**
 * The composer's tray of files on their way: it renders the current room's Uploads and adds
 * what is picked, dropped or pasted.
 */
export class UploadTray {
  #session;
  #onChange;
  #ui;
  #items = new Map(); // entry -> <li>
  #previews = new WeakMap(); // entry -> a data: URL, once read
  #enabled = true;
  #dragDepth = 0;

  /**
   * @param {object} options
   * @param {import("../core/session.js").RoomSession} options.session
   * @param {() => void} options.onChange whether files wait changed (the Send button)
   */
  constructor({ session, onChange }) {
    this.#session = session;
    this.#onChange = onChange;
    this.#ui = {
      tray: byId("attach-tray"),
      button: byId("composer-attach"),
      input: byId("composer-file"),
      text: byId("composer-input"),
      composer: byId("composer"),
      logWrap: document.querySelector(".log-wrap"),
    };
    const { tray, button: attach, input, text, composer, logWrap } = this.#ui;
    tray.setAttribute("aria-label", t("attach_tray"));
    attach.title = t("attach_files_limit", { max: fileSize(session.uploads.maxBytes), count: FILES_PER_MESSAGE });
    attach.setAttribute("aria-label", t("attach_files"));
    attach.addEventListener("click", () => input.click());
    input.addEventListener("change", () => {
      this.add([...input.files]);
      input.value = ""; // the same file may be picked again
    });
    text.addEventListener("paste", (event) => this.#paste(event));
    tray.addEventListener("click", (event) => this.#click(event));

    const overlay = el("div", "drop-overlay", t("attach_drop"));
    overlay.hidden = true;
    logWrap.append(overlay);
    this.#ui.overlay = overlay;
    for (const target of [logWrap, composer]) {
      target.addEventListener("dragenter", (event) => this.#dragEnter(event));
      target.addEventListener("dragover", (event) => this.#dragOver(event));
      target.addEventListener("dragleave", () => this.#dragLeave());
      target.addEventListener("drop", (event) => this.#drop(event));
    }
    // A file dropped anywhere else must not replace the page with itself.
    window.addEventListener("dragover", (event) => hasFiles(event) && event.preventDefault());
    window.addEventListener("drop", (event) => {
      if (hasFiles(event)) {
        event.preventDefault();
        this.#dragEnd();
      }
    });

    session.on("uploads", (change) => this.#changed(change));
    session.on("room", (change) => {
      if (change.kind === "switched") {
        this.render();
      }
    });
    this.render();
  }

  /** Whether any file is not uploaded yet (failed ones too: the message waits for them). */
  get busy() {
    return this.#session.uploads.pending > 0;
  }

  /** How many files are uploaded and ready to go with the next message. */
  get ready() {
    return this.#session.uploads.entries.filter((e) => e.state === "done").length;
  }

  /** @param {boolean} enabled whether I may post here (no attach, no drop otherwise) */
  setEnabled(enabled) {
    this.#enabled = enabled;
    this.#ui.button.disabled = !enabled;
  }

  /** The attachments of the uploaded files, for the message being sent; the tray empties. */
  take() {
    return this.#session.uploads.take();
  }

  /**
   * Add files: each is checked against the limits first (and refused with a word why).
   * @param {File[]} files
   */
  add(files) {
    if (!this.#enabled) {
      return;
    }
    const uploads = this.#session.uploads;
    for (const file of files) {
      const why = uploads.refusal(file);
      if (why === "too_large") {
        toast(t("attach_too_large", { name: file.name, size: fileSize(file.size), max: fileSize(uploads.maxBytes) }));
      } else if (why === "empty") {
        toast(t("attach_empty", { name: file.name }));
      } else if (why === "too_many") {
        toast(t("attach_too_many", { max: FILES_PER_MESSAGE }));
        return;
      } else {
        const entry = uploads.add(file);
        this.#readPreview(entry);
      }
    }
  }

  /** Render the current room's files again (another room). */
  render() {
    this.#items.clear();
    const entries = this.#session.uploads.entries;
    this.#ui.tray.replaceChildren(...entries.map((entry) => this.#item(entry)));
    this.#ui.tray.hidden = entries.length === 0;
    this.#onChange();
  }

  #changed({ kind, entry }) {
    if (kind === "added") {
      this.#ui.tray.append(this.#item(entry));
      this.#ui.tray.hidden = false;
    } else if (kind === "removed") {
      this.#items.get(entry)?.remove();
      this.#items.delete(entry);
      this.#ui.tray.hidden = this.#items.size === 0;
    } else {
      this.#update(entry);
    }
    if (kind !== "progress") {
      this.#onChange();
    }
  }

  #item(entry) {
    const li = el("li", "upload");
    li.dataset.key = entry.key;
    const thumb = el("span", "upload-thumb");
    if (PREVIEWED.has(entry.type)) {
      const image = el("img", "upload-preview");
      image.alt = "";
      const preview = this.#previews.get(entry);
      if (preview) {
        image.src = preview;
      }
      thumb.append(image);
    } else {
      thumb.append(fileIcon(entry.name, "upload-icon"));
    }
    const main = el("span", "upload-main");
    const bar = el("progress", "upload-bar");
    bar.setAttribute("aria-label", entry.name);
    main.append(el("span", "upload-name", entry.name), el("span", "upload-status"), bar);
    const remove = button("icon-button upload-remove");
    remove.dataset.action = "remove";
    remove.append(icon("close", 15));
    li.append(thumb, main, remove);
    this.#items.set(entry, li);
    this.#update(entry);
    return li;
  }

  #update(entry) {
    const li = this.#items.get(entry);
    if (!li) {
      return;
    }
    li.dataset.state = entry.state;
    li.classList.toggle("is-failed", entry.state === "failed");
    li.classList.toggle("is-done", entry.state === "done");
    const status = li.querySelector(".upload-status");
    const bar = li.querySelector(".upload-bar");
    const uploading = ["starting", "sending", "finishing"].includes(entry.state);
    bar.hidden = !uploading;
    bar.max = entry.size;
    bar.value = entry.state === "finishing" ? entry.size : entry.received;
    let text;
    if (entry.state === "done") {
      text = t("upload_ready");
    } else if (entry.state === "failed") {
      text = t("upload_failed", { reason: uploadErrorText(entry.error) });
    } else if (entry.state === "waiting") {
      text = t("upload_waiting", { seconds: Math.max(1, Math.ceil((entry.retryAt - Date.now()) / 1000)) });
    } else if (entry.state === "finishing") {
      text = t("upload_processing");
    } else if (entry.state === "queued") {
      text = t("upload_queued", { size: fileSize(entry.size) });
    } else {
      text = t("upload_progress", { done: fileSize(entry.received), size: fileSize(entry.size) });
    }
    status.textContent = text;
    const remove = li.querySelector(".upload-remove");
    const label = uploading || entry.state === "queued" ? t("upload_cancel", { name: entry.name }) : t("upload_remove", { name: entry.name });
    remove.title = label;
    remove.setAttribute("aria-label", label);
    let retry = li.querySelector(".upload-retry");
    const canRetry = entry.state === "failed" && entry.error?.code !== "unreadable" && entry.error?.code !== "too_long";
    if (canRetry && !retry) {
      retry = button("link-button upload-retry", t("upload_retry"));
      retry.dataset.action = "retry";
      remove.before(retry);
    } else if (!canRetry && retry) {
      retry.remove();
    }
  }

  #click(event) {
    const target = event.target.closest("button[data-action]");
    const li = target?.closest(".upload");
    if (!li) {
      return;
    }
    const uploads = this.#session.uploads;
    if (target.dataset.action === "remove") {
      uploads.cancel(li.dataset.key);
      this.#ui.text.focus();
    } else if (target.dataset.action === "retry") {
      uploads.retry(li.dataset.key);
    }
  }

  #readPreview(entry) {
    if (!PREVIEWED.has(entry.type)) {
      return;
    }
    const reader = new FileReader();
    reader.addEventListener("load", () => {
      if (typeof reader.result !== "string") {
        return;
      }
      this.#previews.set(entry, reader.result);
      const image = this.#items.get(entry)?.querySelector(".upload-preview");
      if (image) {
        image.src = reader.result;
      }
    });
    reader.readAsDataURL(entry.file);
  }

  /** An image pasted (a screenshot, "Copy image"): attached. Text, even with a picture of it (a spreadsheet's cells), pastes as text. */
  #paste(event) {
    const data = event.clipboardData;
    const files = data ? [...data.files] : [];
    if (!files.length || [...data.types].includes("text/plain")) {
      return;
    }
    event.preventDefault();
    this.add(files);
  }

  #dragEnter(event) {
    if (!hasFiles(event) || !this.#enabled) {
      return;
    }
    event.preventDefault();
    this.#dragDepth += 1;
    this.#ui.overlay.hidden = false;
  }

  #dragOver(event) {
    if (!hasFiles(event)) {
      return;
    }
    event.preventDefault();
    event.dataTransfer.dropEffect = this.#enabled ? "copy" : "none";
  }

  #dragLeave() {
    this.#dragDepth = Math.max(0, this.#dragDepth - 1);
    if (this.#dragDepth === 0) {
      this.#ui.overlay.hidden = true;
    }
  }

  #dragEnd() {
    this.#dragDepth = 0;
    this.#ui.overlay.hidden = true;
  }

  #drop(event) {
    if (!hasFiles(event)) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    this.#dragEnd();
    this.add([...event.dataTransfer.files]);
    this.#ui.text.focus();
  }
}

/** Whether a drag carries files (not text or a link dragged from the page). */
function hasFiles(event) {
  return !!event.dataTransfer && [...event.dataTransfer.types].includes("Files");
}
