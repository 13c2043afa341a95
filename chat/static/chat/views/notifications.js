/*
 * What reaches me from elsewhere: toasts, and desktop notifications for a direct message or
 * a mention of me in a room not on screen. Desktop notifications are opt-in (the bell in the
 * header, remembered in localStorage) and show only while the tab is hidden; the browser's
 * permission is asked for on a click only.
 */
import { TOAST_MS, TOASTS_SHOWN } from "../core/constants.js";
import { roomUrl } from "../core/paths.js";
import { oneLine } from "../core/text.js";
import { byId, el } from "./dom.js";
import { t } from "./strings.js";

const OPT_IN = "chat.desktop-notifications";
const BODY_MAX = 180;

let toastArea = null;

/**
 * A short message at the bottom of the screen; with `href`, the toast is a link.
 * @param {string} text
 * @param {string} [href]
 * @returns {HTMLElement}
 */
export function toast(text, href) {
  if (!toastArea) {
    toastArea = el("div", "toast-area");
    toastArea.setAttribute("role", "status");
    toastArea.setAttribute("aria-live", "polite");
    document.body.append(toastArea);
  }
  let node;
  if (href) {
    node = el("a", "toast toast-link");
    node.href = href;
    node.append(el("span", "toast-text", text), el("span", "toast-action", t("toast_open")));
  } else {
    node = el("div", "toast", text);
  }
  toastArea.append(node);
  while (toastArea.children.length > TOASTS_SHOWN) {
    toastArea.firstElementChild.remove();
  }
  setTimeout(() => node.remove(), TOAST_MS);
  return node;
}

function supported() {
  return typeof window.Notification === "function";
}

function optedIn() {
  try {
    return window.localStorage.getItem(OPT_IN) === "on";
  } catch {
    return false;
  }
}

function setOptIn(on) {
  try {
    if (on) {
      window.localStorage.setItem(OPT_IN, "on");
    } else {
      window.localStorage.removeItem(OPT_IN);
    }
  } catch {
    // private mode: the choice lasts for this page
  }
}

function desktopEnabled() {
  return supported() && Notification.permission === "granted" && optedIn();
}

/**
 * What to say about a `notify` frame: a direct message (named by its author) or a mention
 * (named by the room).
 * @param {object} frame `notify`
 * @param {import("../core/conversations.js").Conversation|undefined} entry its room in my list
 */
export function describeNotify(frame, entry) {
  const author = frame.message.author;
  const kind = frame.room_kind ?? entry?.kind;
  if (kind === "direct") {
    return { title: t("notify_direct", { author }), direct: true };
  }
  const name = typeof frame.room_name === "string" && frame.room_name ? frame.room_name : (entry?.name ?? frame.room);
  return { title: t("notify_mention", { author, room: `#${name}` }), direct: false };
}

/** The bell in the header: shows whether desktop notifications are on, and turns them on or off. */
export function setUpBell() {
  const bell = byId("notify-toggle");
  if (!bell) {
    return;
  }
  const render = () => {
    if (!supported() || Notification.permission === "denied") {
      bell.hidden = true;
      return;
    }
    const on = desktopEnabled();
    const label = on ? t("bell_on") : t("bell_off");
    bell.hidden = false;
    bell.classList.toggle("is-on", on);
    bell.setAttribute("aria-pressed", on ? "true" : "false");
    bell.title = label;
    const text = bell.querySelector(".notify-label");
    if (text) {
      text.textContent = label;
    }
  };
  const answered = (permission) => {
    if (permission === "granted") {
      setOptIn(true);
      toast(t("bell_turned_on"));
    } else if (permission === "denied") {
      toast(t("bell_blocked"));
    }
    render();
  };
  bell.addEventListener("click", () => {
    if (desktopEnabled()) {
      setOptIn(false);
      render();
      toast(t("bell_turned_off"));
    } else if (Notification.permission === "granted") {
      answered("granted");
    } else {
      Promise.resolve(Notification.requestPermission()).then(answered, () => render());
    }
  });
  render();
  // The permission may change in the browser's settings while the page is open.
  navigator.permissions
    ?.query({ name: "notifications" })
    .then((status) => {
      status.onchange = render;
    })
    .catch(() => {});
}

/**
 * Tell me about a `notify` frame: a toast that links to the room, and a desktop notification
 * while the tab is hidden.
 * @param {object} frame
 * @param {import("../core/conversations.js").Conversation|undefined} entry
 * @param {(slug: string) => void} [open] opens the room in place (the notification's click)
 */
export function announce(frame, entry, open) {
  const about = describeNotify(frame, entry);
  const href = roomUrl(frame.room);
  toast(about.title, href);
  if (!desktopEnabled() || !document.hidden) {
    return;
  }
  let note;
  try {
    note = new Notification(about.direct ? frame.message.author : about.title, {
      body: oneLine(frame.message.body, BODY_MAX),
      tag: `chat-${frame.room}`,
    });
  } catch {
    return; // e.g. Android's Chrome wants a service worker for notifications
  }
  note.onclick = () => {
    window.focus();
    note.close();
    if (open) {
      open(frame.room);
    } else if (window.location.pathname !== href) {
      window.location.assign(href);
    }
  };
}
