/*
 * What every logged-in page with the sidebar starts with: the page's behaviours, the bell,
 * the sidebar fed by the conversation list, toasts and desktop notifications for what
 * concerns me elsewhere, the tab title's unread count, and the browser's online/offline
 * events handed to the session.
 */
import { Conversations } from "../core/conversations.js";
import { setUpPage } from "./behaviours.js";
import { byId } from "./dom.js";
import { announce, setUpBell } from "./notifications.js";
import { Sidebar, readRenderedList } from "./sidebar.js";
import { setUnread } from "./title.js";

/**
 * @returns {Conversations} my conversations, with what the page rendered of them
 */
export function pageConversations() {
  const conversations = new Conversations({ me: document.body.dataset.me || null });
  const root = byId("sidebar");
  if (root) {
    conversations.load(readRenderedList(root));
  }
  return conversations;
}

/**
 * @param {object} options
 * @param {Conversations} options.conversations
 * @param {{setOnline: (online: boolean) => void}} options.session
 * @param {(slug: string) => void} [options.openRoom] show a room (in place, where the page can)
 * @param {() => number} [options.unreadHere] unread messages of the room on screen, while I look away
 * @returns {{sidebar: Sidebar|null, refreshTitle: () => void}}
 */
export function startApp({ conversations, session, openRoom, unreadHere = () => 0 }) {
  setUpPage();
  setUpBell();
  const root = byId("sidebar");
  const sidebar = root ? new Sidebar(conversations, root) : null;
  const refreshTitle = () => setUnread(conversations.total() + unreadHere());
  conversations.on("change", refreshTitle);
  conversations.on("notify", (frame) => announce(frame, conversations.get(frame.room), openRoom));
  document.addEventListener("visibilitychange", refreshTitle);
  window.addEventListener("online", () => session.setOnline(true));
  window.addEventListener("offline", () => session.setOnline(false));
  return { sidebar, refreshTitle };
}
