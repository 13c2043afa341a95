/*
 * The connection, as the reader sees it: a status pill (data-state: connecting, connected,
 * reconnecting, offline, closed) with a "Retry now" while a reconnect waits, and a notice
 * for what needs words: a countdown after a close for flooding or while the server is in
 * trouble, and why the socket closed for good (session ended, no access, no such room).
 */
import { HOME_URL, loginUrl } from "../core/paths.js";
import { button, el } from "./dom.js";
import { t } from "./strings.js";

const STATE = { idle: "connecting", connecting: "connecting", ready: "connected", waiting: "reconnecting", offline: "offline", closed: "closed" };

export class StatusView {
  #status;
  #text;
  #notice;
  #root;
  #session;
  #countdown = null;
  #pause = null; // "flood" or "unavailable": the notice counts down to the reconnect
  #room;

  /**
   * @param {object} options
   * @param {{on: Function, retryNow: () => void, connection: object|null}} options.session
   * @param {HTMLElement} options.status #conn-status
   * @param {HTMLElement|null} [options.notice] #room-notice
   * @param {HTMLElement|null} [options.root] gets data-live (the home page's tests and styles)
   * @param {boolean} [options.room] a room's socket (its closes talk about the room)
   */
  constructor({ session, status, notice = null, root = null, room = false }) {
    this.#session = session;
    this.#status = status;
    this.#text = status.querySelector(".conn-text");
    this.#notice = notice;
    this.#root = root;
    this.#room = room;
    session.on("state", (event) => this.#show(event));
  }

  /** The state before any event (a view built while the socket is already up). */
  get closed() {
    return this.#status.dataset.state === "closed";
  }

  /** A room switched in place: what was said about the last one no longer holds. */
  reset() {
    this.#pause = null;
    this.#stopCountdown();
    this.#hideNotice();
  }

  #show(event) {
    this.#stopCountdown();
    const everReady = this.#session.connection?.everReady ?? false;
    switch (event.state) {
      case "idle":
      case "connecting":
        this.#set("connecting", everReady ? t("status_reconnecting") : t("status_connecting"));
        if (this.#pause) {
          this.#showNotice([this.#pauseText(0)], true);
        }
        break;
      case "ready":
        this.#pause = null;
        this.#hideNotice();
        this.#set("connected", t("status_connected"));
        break;
      case "waiting":
        this.#pause = event.reason === "flood" || event.reason === "unavailable" ? event.reason : null;
        if (!this.#pause) {
          this.#hideNotice();
        }
        this.#tick(event.reconnectAt);
        this.#countdown = setInterval(() => this.#tick(event.reconnectAt), 1000);
        break;
      case "offline":
        this.#set("offline", t("status_offline"));
        break;
      case "closed":
        this.#closed(event, everReady);
        break;
      default:
        break;
    }
  }

  #tick(reconnectAt) {
    const seconds = Math.max(0, Math.ceil((reconnectAt - Date.now()) / 1000));
    this.#set("reconnecting", t("status_reconnecting_in", { seconds }), {
      label: t("status_retry_now"),
      run: () => this.#session.retryNow(),
    });
    if (this.#pause) {
      this.#showNotice([this.#pauseText(seconds)], true);
    }
  }

  #pauseText(seconds) {
    const when = seconds > 0 ? t("notice_reconnecting_in", { seconds }) : t("notice_reconnecting");
    return t(this.#pause === "flood" ? "notice_flood" : "notice_unavailable", { when });
  }

  #closed(event, everReady) {
    this.#pause = null;
    const home = { text: t("notice_back_home"), href: HOME_URL };
    switch (event.reason) {
      case "unauthenticated":
        this.#set("closed", t("status_session_ended"));
        this.#showNotice([
          t("notice_session_ended"),
          { text: t("notice_log_in_again"), href: loginUrl(window.location.pathname) },
          t("notice_keep_chatting"),
        ]);
        break;
      case "forbidden":
        if (this.#room) {
          this.#set("closed", everReady ? t("status_removed") : t("status_no_access"));
          this.#showNotice([everReady ? t("notice_removed") : t("notice_no_access"), home]);
        } else {
          this.#set("closed", t("status_no_access"));
        }
        break;
      case "not_found":
        this.#set("closed", t("status_no_room"));
        this.#showNotice([t("notice_no_room"), home]);
        break;
      default:
        // "stopped": this page closed it (switching rooms); the next socket speaks for itself
        break;
    }
  }

  #set(state, text, action = null) {
    this.#status.dataset.state = state;
    this.#text.textContent = text;
    this.#root?.setAttribute("data-live", state);
    this.#status.querySelector(".link-button")?.remove();
    if (action) {
      const retry = button("link-button", action.label);
      retry.addEventListener("click", action.run);
      this.#status.append(retry);
    }
  }

  #showNotice(parts, info = false) {
    if (!this.#notice) {
      return;
    }
    this.#notice.replaceChildren(
      ...parts.map((part) => {
        if (typeof part === "string") {
          return document.createTextNode(part);
        }
        const link = el("a", null, part.text);
        link.href = part.href;
        return link;
      })
    );
    this.#notice.classList.toggle("notice-info", info);
    this.#notice.hidden = false;
  }

  #hideNotice() {
    if (this.#notice) {
      this.#notice.hidden = true;
      this.#notice.replaceChildren();
    }
  }

  #stopCountdown() {
    clearInterval(this.#countdown);
    this.#countdown = null;
  }
}
