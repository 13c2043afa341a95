/*
 * Every other page of a logged-in user (settings, blocked users, password, errors): the
 * sidebar where the page has one, my unread count in the title, and notifications, kept live
 * by the socket on /ws/lobby/.
 */
import { browserDeps } from "./core/deps.js";
import { LobbySession } from "./core/session.js";
import { pageConversations, startApp } from "./views/app.js";

const conversations = pageConversations();
const session = new LobbySession({ deps: browserDeps(window), conversations });
const app = startApp({ conversations, session });
// A room's settings page shows that room as the one I am in.
app.sidebar?.setActive(document.getElementById("room-settings")?.dataset.room ?? null);
session.start();
