/*
 * The room page (/rooms/<slug>/): one room socket (RoomSession), the views on it, and
 * switching to another conversation in place: the sidebar's links (and any link to a room
 * page) change the room without a page load, with the address pushed to the history, so
 * that reload and the back button work. An address with a message (/rooms/<slug>/#msg-<id>:
 * a search result, a link to a message) opens the room scrolled to it, highlighted.
 */
import { READ_DELAY } from "./core/constants.js";
import { browserDeps } from "./core/deps.js";
import { RecentEmoji } from "./core/emoji.js";
import { messageFromHash, messageUrl, roomUrl, slugFromPath } from "./core/paths.js";
import { RoomSession } from "./core/session.js";
import { MessageActions } from "./views/actions.js";
import { pageConversations, startApp } from "./views/app.js";
import { ComposerView } from "./views/composer.js";
import { EmojiPicker, ImageViewer, ReportDialog } from "./views/dialogs.js";
import { byId, isModifiedClick } from "./views/dom.js";
import { HeaderView, roomLabel } from "./views/header.js";
import { LogView } from "./views/log.js";
import { MembersView } from "./views/members.js";
import { toast } from "./views/notifications.js";
import { setUpSearch } from "./views/search.js";
import { StatusView } from "./views/status.js";
import { t } from "./views/strings.js";
import { setPageName } from "./views/title.js";

const root = byId("chat");
const me = document.body.dataset.me;
const conversations = pageConversations();
const session = new RoomSession({
  slug: root.dataset.slug,
  deps: browserDeps(window),
  conversations,
  uploadMax: Number(root.dataset.uploadMax) || undefined, // the server's limit, when the page says it
});
// What the page rendered, for the first room until its socket says more.
const rendered = { slug: root.dataset.slug, title: root.dataset.title, moderator: root.dataset.moderator === "true" };

/** How to name the room on screen: the other person for a direct one. */
function titleOf(room) {
  const entry = conversations.get(room.slug);
  if (entry && entry.kind === "direct") {
    return entry.title;
  }
  if (room.info?.kind === "direct") {
    return room.members.find((name) => name !== me) ?? (room.slug === rendered.slug ? rendered.title : room.info.name);
  }
  return room.info?.name ?? entry?.title ?? (room.slug === rendered.slug ? rendered.title : room.slug);
}

/** What the views need to know about me in this room. */
function context() {
  const room = session.room;
  const moderator = room.me ? !!room.me.moderator : room.slug === rendered.slug && rendered.moderator;
  const announcements = room.info?.posting === "moderators";
  return {
    me,
    moderator,
    canPost: session.state !== "closed" && !(announcements && !moderator),
    title: titleOf(room),
  };
}

let readTimer = null;

/** Whether I see the newest message now. */
function seeingLatest() {
  return document.visibilityState === "visible" && log.atBottom && session.state === "ready";
}

/** The newest message is in view: my read mark follows, shortly (not at every message). */
function readSoon() {
  app.refreshTitle();
  if (!seeingLatest()) {
    return;
  }
  clearTimeout(readTimer);
  readTimer = setTimeout(() => {
    readTimer = null;
    if (seeingLatest()) {
      session.markRead(); // still in view when the delay is over
      app.refreshTitle();
    }
  }, READ_DELAY);
}

const app = startApp({
  conversations,
  session,
  openRoom: (slug) => go(slug),
  unreadHere: () => (document.visibilityState === "visible" && log.atBottom ? 0 : session.room.unreadCount),
});
const header = new HeaderView();
const status = new StatusView({ session, status: byId("conn-status"), notice: byId("room-notice"), room: true });
const log = new LogView({ session, context, onBottom: readSoon });
const picker = new EmojiPicker(new RecentEmoji(storage()));
const report = new ReportDialog(session);
const viewer = new ImageViewer([byId("messages"), byId("pending")]);
let actions = null;
const composer = new ComposerView({ session, context, onEditLast: () => actions.editLast() });
actions = new MessageActions({ session, log, composer, report, picker });
new MembersView({ session, context });
const search = setUpSearch({
  conversations,
  here: () => session.slug,
  open: (message) => go(message.room, { message: message.id }),
});

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

/** The header and the tab's name, from what is known of the room on screen. */
function renderHeader() {
  const room = session.room;
  const entry = conversations.get(room.slug);
  const info = room.info ?? (entry ? { slug: entry.slug, kind: entry.kind, name: entry.name, topic: entry.topic } : null);
  if (!info) {
    return;
  }
  const ctx = context();
  header.render(info, ctx);
  setPageName(roomLabel(info, ctx.title));
}

// ---------------------------------------------------------------- showing one message

let showOnReady = messageFromHash(window.location.hash); // shown once the room's messages are here
let roomShown = false; // the room on screen has had its first `ready`

/** Scroll to message `id` of the room on screen and highlight it, loading it if need be. */
async function showMessage(id) {
  if (!roomShown || session.state !== "ready") {
    showOnReady = id; // the room's `ready` comes first
    return;
  }
  const room = session.room;
  if (!(await session.jumpTo(id)) && room === session.room && session.state === "ready") {
    toast(t("search_gone")); // deleted, or not in this room
  }
}

session.on("room", (change) => {
  if (change.kind === "switched") {
    roomShown = false;
    search?.roomChanged();
  }
  if (change.kind === "reset" && session.state === "ready") {
    roomShown = true; // the log has rendered (its handler came first): now it may scroll
    if (showOnReady !== null) {
      const id = showOnReady;
      showOnReady = null;
      showMessage(id);
    }
  }
  if (change.kind === "switched" || change.kind === "reset" || change.kind === "info") {
    renderHeader();
  }
  if (change.kind === "info") {
    log.refresh(); // my rights or the room's policy may have changed what I may do
  }
  if (change.kind === "added" || change.kind === "read" || change.kind === "reset") {
    app.refreshTitle();
  }
});
session.on("state", (event) => {
  if (event.state === "ready") {
    readSoon();
    if (roomShown && showOnReady !== null) {
      const id = showOnReady; // asked for while the socket was away: it is back
      showOnReady = null;
      showMessage(id);
    }
  }
  if (event.state === "closed" && event.reason !== "stopped") {
    report.close();
    picker.close(false);
    viewer.close();
    log.refresh();
  }
});
/** Leaving the room (another room, another page): what came into view must not be lost to the delay. */
function readNow() {
  if (readTimer !== null) {
    clearTimeout(readTimer);
    readTimer = null;
    if (seeingLatest()) {
      session.markRead();
    }
  }
}

document.addEventListener("visibilitychange", readSoon);
window.addEventListener("pagehide", readNow);

// ---------------------------------------------------------------- switching rooms in place

/**
 * Show room `slug`, or one of its messages.
 * @param {string} slug
 * @param {{push?: boolean, message?: number|null}} [options] push: a new history entry (not
 *   for the back button); message: scroll to it and highlight it
 */
function go(slug, { push = true, message = null } = {}) {
  app.sidebar?.closeDrawer();
  if (slug === session.slug) {
    if (push) {
      // The address names what is shown: a reload lands there.
      window.history.replaceState({ slug }, "", message === null ? roomUrl(slug) : messageUrl(slug, message));
    }
    if (message !== null) {
      showMessage(message);
    } else if (push) {
      log.jumpToLatest();
    }
    composer.focus();
    return;
  }
  readNow();
  report.close();
  picker.close(false);
  viewer.close();
  status.reset();
  session.switchRoom(slug);
  showOnReady = message;
  if (push) {
    window.history.pushState({ slug }, "", message === null ? roomUrl(slug) : messageUrl(slug, message));
  }
  app.sidebar?.setActive(slug);
  composer.focus();
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("a[href]");
  if (!link || isModifiedClick(event) || link.target || link.origin !== window.location.origin) {
    return;
  }
  const slug = slugFromPath(link.pathname);
  const message = messageFromHash(link.hash);
  if (slug !== null && !link.search && (!link.hash || message !== null)) {
    event.preventDefault();
    go(slug, { message });
  }
});

window.addEventListener("popstate", () => {
  const slug = slugFromPath(window.location.pathname);
  if (slug === null) {
    window.location.reload(); // not a room page: the server renders it
  } else {
    go(slug, { push: false, message: messageFromHash(window.location.hash) }); // a link to a message here fires it too
  }
});

window.history.replaceState({ slug: session.slug }, "");
app.sidebar?.setActive(session.slug);
renderHeader();
session.start();
