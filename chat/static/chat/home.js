/*
 * The home page (/): the sidebar kept live by the socket on /ws/lobby/, searching messages
 * (a result opens its room's page at it), finding someone to message, creating a room, and
 * the public rooms I have not joined.
 */
import { browserDeps } from "./core/deps.js";
import { LobbySession } from "./core/session.js";
import { pageConversations, startApp } from "./views/app.js";
import { byId } from "./views/dom.js";
import { setUpSearch } from "./views/search.js";
import { StatusView } from "./views/status.js";
import { setUpUserSearch } from "./views/usersearch.js";

const conversations = pageConversations();
const session = new LobbySession({ deps: browserDeps(window), conversations });
const app = startApp({ conversations, session });
new StatusView({ session, status: byId("conn-status"), root: byId("home") });
setUpSearch({ conversations });
const search = byId("user-search");
if (search) {
  setUpUserSearch(search);
}
app.sidebar?.setActive(null);
session.start();
