import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { CATCH_UP_PAGE, CONFIRM_WAIT, PAGE, SYNC_EVERY, TYPING_EVERY } from "../../chat/static/chat/core/constants.js";
import { Conversations } from "../../chat/static/chat/core/conversations.js";
import { DISCONNECTED } from "../../chat/static/chat/core/requests.js";
import { LobbySession, RoomSession } from "../../chat/static/chat/core/session.js";
import { FakeClock, connect, fakeDeps, flush, message, ready } from "./fakes.js";

/** A started RoomSession on fake deps, every event it emits recorded. */
function setup({ slug = "general" } = {}) {
  const clock = new FakeClock();
  const deps = fakeDeps(clock);
  deps.WebSocket.answerPings = true;
  const conversations = new Conversations();
  const session = new RoomSession({ slug, deps, conversations });
  const events = { room: [], outbox: [], state: [] };
  for (const type of Object.keys(events)) {
    session.on(type, (event) => events[type].push(event));
  }
  session.start();
  const sockets = deps.WebSocket.instances;
  const ids = () => session.room.messages.map((m) => m.id);
  return { clock, deps, conversations, session, events, sockets, ids };
}

describe("RoomSession: reconnecting", () => {
  test("reconnects with backoff, then catches up with history after, paging until has_more is false", async () => {
    const { clock, session, sockets, ids } = setup();
    assert.equal(sockets[0].url, "ws://chat.test/ws/rooms/general/");
    await connect(sockets[0], ready({ messages: [message(1), message(2), message(3)] }));
    assert.equal(sockets[0].sentOfType("history").length, 0, "no catch-up on the first ready");

    sockets[0].serverClose(1006);
    assert.equal(session.state, "waiting");
    await clock.tick(499); // backoff: random 0.5 * 1000
    assert.equal(sockets.length, 1);
    await clock.tick(1);
    assert.equal(sockets.length, 2);

    // Away: 4 to 9 were posted; `ready` brings only the newest of them.
    await connect(sockets[1], ready({ messages: [message(8), message(9)] }));
    const first = sockets[1].lastSent("history");
    assert.deepEqual({ ...first, ref: undefined }, { type: "history", after: 3, limit: CATCH_UP_PAGE, ref: undefined });
    sockets[1].answer(first, { type: "history", messages: [message(4), message(5)], has_more: true });
    await flush();
    const second = sockets[1].lastSent("history");
    assert.equal(second.after, 5);
    sockets[1].answer(second, { type: "history", messages: [message(6), message(7), message(8)], has_more: false });
    await flush();
    assert.equal(sockets[1].sentOfType("history").length, 2, "has_more false: the catch-up ends");
    assert.deepEqual(ids(), [1, 2, 3, 4, 5, 6, 7, 8, 9]);

    sockets[1].serverClose(1006);
    await clock.tick(500);
    await connect(sockets[2], ready({ messages: [message(9)] }));
    assert.equal(sockets[2].lastSent("history").after, 9, "the next catch-up starts after all that");
  });

  test("a catch-up cut short by a drop resumes where it stopped, not after the newest message", async () => {
    const { clock, sockets, ids } = setup();
    await connect(sockets[0], ready({ messages: [message(1)] }));
    sockets[0].serverClose(1006);
    await clock.tick(500);
    await connect(sockets[1], ready({ messages: [message(8)] }));
    const first = sockets[1].lastSent("history");
    assert.equal(first.after, 1);
    sockets[1].answer(first, { type: "history", messages: [message(2), message(3)], has_more: true });
    await flush();
    sockets[1].serverClose(1006); // 4 to 7 not fetched yet
    await clock.tick(500);
    await connect(sockets[2], ready({ messages: [message(8), message(9)] }));
    const resumed = sockets[2].lastSent("history");
    assert.equal(resumed.after, 3);
    const rest = [4, 5, 6, 7, 8, 9].map((id) => message(id));
    sockets[2].answer(resumed, { type: "history", messages: rest, has_more: false });
    await flush();
    assert.deepEqual(ids(), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test("a catch-up the server refused resumes from the same point at the next sync", async () => {
    const { clock, sockets } = setup();
    await connect(sockets[0], ready({ messages: [message(1)] }));
    sockets[0].serverClose(1006);
    await clock.tick(500);
    await connect(sockets[1], ready({ messages: [message(8)] }));
    sockets[1].answer(sockets[1].lastSent("history"), { type: "error", code: "unavailable", message: "Busy." });
    await flush();
    await clock.tick(SYNC_EVERY);
    assert.equal(sockets[1].lastSent("history").after, 1);
  });

  test("asks history after the latest id now and then while connected", async () => {
    const { clock, sockets, ids } = setup();
    await connect(sockets[0], ready({ messages: [message(1), message(2)] }));
    await clock.tick(SYNC_EVERY);
    const asked = sockets[0].lastSent("history");
    assert.equal(asked.after, 2);
    sockets[0].answer(asked, { type: "history", messages: [message(3)], has_more: false });
    await flush();
    assert.deepEqual(ids(), [1, 2, 3], "a message whose broadcast was lost");
    await clock.tick(SYNC_EVERY);
    assert.equal(sockets[0].lastSent("history").after, 3);
  });

  test("who is typing is forgotten when the socket drops", async () => {
    const { session, sockets } = setup();
    await connect(sockets[0]);
    sockets[0].receive({ type: "typing", user: "bob" });
    assert.deepEqual(session.room.typingUsers, ["bob"]);
    sockets[0].serverClose(1006);
    assert.deepEqual(session.room.typingUsers, []);
  });

  test("of two list requests, only the newer answer counts", async () => {
    const { clock, deps, conversations, sockets } = setup();
    const answers = [];
    deps.fetchJson = () => new Promise((resolve) => answers.push(resolve));
    await connect(sockets[0]);
    sockets[0].serverClose(1006);
    await clock.tick(500);
    await connect(sockets[1]);
    answers[1]({ rooms: [{ slug: "dev", name: "Dev", unread: 0, last_id: 9 }] });
    answers[0]({ rooms: [{ slug: "dev", name: "Dev", unread: 5, last_id: 4 }] });
    await flush();
    assert.equal(conversations.get("dev").unread, 0);
  });

  test("a close that is final stops the session", async () => {
    const { clock, session, sockets, events } = setup();
    await connect(sockets[0]);
    sockets[0].serverClose(4403);
    assert.equal(session.state, "closed");
    assert.equal(events.state.at(-1).reason, "forbidden");
    await clock.tick(10 * 60000);
    assert.equal(sockets.length, 1);
  });

  test("the conversation list is loaded on every ready", async () => {
    const { clock, deps, conversations, sockets } = setup();
    deps.rooms = [{ slug: "dev", name: "Dev", kind: "public", unread: 3, last_id: 4 }];
    await connect(sockets[0]);
    assert.deepEqual(deps.fetched, ["/api/rooms/"]);
    assert.equal(conversations.total(), 3);
    sockets[0].serverClose(1006);
    await clock.tick(500);
    await connect(sockets[1]);
    assert.deepEqual(deps.fetched, ["/api/rooms/", "/api/rooms/"]);
  });
});

describe("RoomSession: sending", () => {
  test("an unconfirmed send is sent again with the same client_id after a reconnect, and shown once", async () => {
    const { clock, session, sockets, events, ids } = setup();
    await connect(sockets[0], ready({ messages: [message(1)] }));
    const entry = session.send("hello");
    assert.equal(sockets[0].lastSent("message.send").client_id, entry.clientId);
    sockets[0].serverClose(1006); // stored, but the answer and the broadcast are lost
    assert.deepEqual(session.outbox.entries, [entry]);
    assert.equal(entry.state, "queued");

    await clock.tick(500);
    await connect(sockets[1], ready({ messages: [message(1)] }));
    const again = sockets[1].lastSent("message.send");
    assert.equal(again.client_id, entry.clientId);
    assert.equal(again.body, "hello");
    // The server stores nothing new: the original again, to the room and as ok.
    const stored = message(2, "alice", { body: "hello", client_id: entry.clientId });
    sockets[1].receive({ type: "message", message: stored });
    sockets[1].answer(again, { type: "ok", id: 2 });
    sockets[1].receive({ type: "message", message: stored }); // another socket's repeat, relayed
    await flush();
    assert.deepEqual(ids(), [1, 2]);
    assert.deepEqual(session.outbox.entries, []);
    assert.equal(events.outbox.filter((e) => e.kind === "confirmed").length, 1);
    assert.equal(events.room.filter((e) => e.kind === "added").length, 1);
    await clock.tick(CONFIRM_WAIT * 2);
    assert.equal(sockets[1].sentOfType("message.send").length, 1, "confirmed: never sent again");
  });

  test("a send that reached the room while away is settled by ready, not sent again", async () => {
    const { clock, session, sockets } = setup();
    await connect(sockets[0]);
    const entry = session.send("hello");
    sockets[0].serverClose(1006);
    await clock.tick(500);
    await connect(sockets[1], ready({ messages: [message(2, "alice", { client_id: entry.clientId })] }));
    assert.deepEqual(session.outbox.entries, []);
    assert.equal(sockets[1].sentOfType("message.send").length, 0);
  });

  test("someone else's message with the same client_id confirms nothing of mine", async () => {
    const { session, sockets } = setup();
    await connect(sockets[0]);
    const entry = session.send("hello");
    sockets[0].receive({ type: "message", message: message(5, "bob", { client_id: entry.clientId }) });
    assert.deepEqual(session.outbox.entries, [entry]);
  });

  test("ok and the broadcast in either order confirm once", async () => {
    const { session, sockets, ids } = setup();
    await connect(sockets[0]);
    const entry = session.send("hello");
    const frame = sockets[0].lastSent("message.send");
    sockets[0].answer(frame, { type: "ok", id: 5 });
    await flush();
    assert.deepEqual(session.outbox.entries, [entry], "pending until the message itself arrives");
    sockets[0].receive({ type: "message", message: message(5, "alice", { client_id: entry.clientId }) });
    assert.deepEqual(session.outbox.entries, []);
    assert.deepEqual(ids(), [5]);
  });

  test("sending while the held messages are in the past goes back to the present", async () => {
    const { session, sockets } = setup();
    await connect(sockets[0], ready({ messages: [message(100)] }));
    session.jumpTo(10);
    const around = sockets[0].lastSent("history");
    sockets[0].answer(around, { type: "history", messages: [message(10)], has_more: true, has_more_after: true });
    await flush();
    assert.equal(session.room.hasNewer, true);
    session.send("hi");
    const latest = sockets[0].lastSent("history");
    assert.deepEqual({ ...latest, ref: undefined }, { type: "history", limit: PAGE, ref: undefined });
  });
});

describe("RoomSession: requests and frames", () => {
  test("answers go to their requests, broadcasts to the room, the rest to the conversation list", async () => {
    const { session, sockets, conversations } = setup();
    await connect(sockets[0], ready({ messages: [message(1, "alice")] }));
    const edit = session.edit(1, "changed");
    const remove = session.deleteMessage(1);
    const [editFrame, removeFrame] = [sockets[0].lastSent("message.edit"), sockets[0].lastSent("message.delete")];
    sockets[0].answer(removeFrame, { type: "error", code: "forbidden", message: "No." });
    sockets[0].receive({ type: "message.edited", message: message(1, "alice", { body: "changed" }) });
    sockets[0].answer(editFrame, { type: "ok" });
    assert.equal((await edit).type, "ok");
    await assert.rejects(remove, (error) => error.code === "forbidden");
    assert.equal(session.room.get(1).body, "changed");
    sockets[0].receive({ type: "activity", room: "dev", id: 3, author: "bob" });
    assert.equal(conversations.get("dev").unread, 1);
  });

  test("react, unreact and report send their frames", async () => {
    const { session, sockets } = setup();
    await connect(sockets[0]);
    session.react(1, "👍");
    session.unreact(1, "👍");
    const report = session.report(1, "  spam  ");
    const sent = sockets[0].sent.map(({ ref, ...frame }) => frame);
    assert.deepEqual(sent, [
      { type: "reaction.add", id: 1, emoji: "👍" },
      { type: "reaction.remove", id: 1, emoji: "👍" },
      { type: "message.report", id: 1, reason: "spam" },
    ]);
    sockets[0].answer(sockets[0].lastSent("message.report"), { type: "report.ack", id: 77 });
    assert.equal((await report).id, 77);
  });

  test("a request without a socket fails as disconnected", async () => {
    const { session } = setup();
    await assert.rejects(session.edit(1, "x"), (error) => error.code === DISCONNECTED);
  });

  test("typing goes out at most once per TYPING_EVERY", async () => {
    const { clock, session, sockets } = setup();
    await connect(sockets[0]);
    session.typing();
    session.typing();
    await clock.tick(TYPING_EVERY - 1);
    session.typing();
    assert.equal(sockets[0].sentOfType("typing").length, 1);
    await clock.tick(1);
    session.typing();
    assert.equal(sockets[0].sentOfType("typing").length, 2);
  });

  test("markRead sends the newest id once; a read mark moved in another tab counts too", async () => {
    const { session, sockets } = setup();
    await connect(sockets[0], ready({ lastRead: 1, messages: [message(1), message(2)] }));
    assert.equal(session.markRead(), true);
    assert.equal(session.markRead(), false);
    assert.deepEqual(
      sockets[0].sentOfType("read").map((f) => f.id),
      [2]
    );
    sockets[0].receive({ type: "message", message: message(3) });
    assert.equal(session.room.unreadCount, 1);
    sockets[0].receive({ type: "unread", room: "general", unread: 0 });
    assert.equal(session.room.unreadCount, 0);
  });

  test("a read lost with the socket is sent again after the reconnect", async () => {
    const { clock, session, sockets } = setup();
    await connect(sockets[0], ready({ lastRead: 1, messages: [message(1), message(2)] }));
    session.markRead();
    sockets[0].serverClose(1006);
    await clock.tick(500);
    await connect(sockets[1], ready({ lastRead: 1, messages: [message(1), message(2)] }));
    assert.equal(sockets[1].lastSent("read").id, 2);
  });
});

describe("RoomSession: paging and jumps", () => {
  test("loadOlder asks for the page before the oldest held, one at a time", async () => {
    const { session, sockets, ids } = setup();
    await connect(sockets[0], ready({ messages: [message(50), message(51)] }));
    const loading = session.loadOlder();
    assert.equal(await session.loadOlder(), false, "already loading");
    const asked = sockets[0].lastSent("history");
    assert.equal(asked.before, 50);
    assert.equal(asked.limit, PAGE);
    sockets[0].answer(asked, { type: "history", messages: [message(48), message(49)], has_more: false });
    assert.equal(await loading, true);
    assert.deepEqual(ids(), [48, 49, 50, 51]);
    assert.equal(await session.loadOlder(), false, "the start is reached");
    assert.equal(sockets[0].sentOfType("history").length, 1);
  });

  test("jumpTo a held message just focuses it; another loads the messages around it", async () => {
    const { session, sockets, events, ids } = setup();
    await connect(sockets[0], ready({ messages: [message(90), message(91)] }));
    assert.equal(await session.jumpTo(91), true);
    assert.deepEqual(events.room.at(-1), { kind: "focus", id: 91 });
    assert.equal(sockets[0].sentOfType("history").length, 0);

    const jump = session.jumpTo(20);
    const asked = sockets[0].lastSent("history");
    assert.equal(asked.around, 20);
    sockets[0].answer(asked, {
      type: "history",
      messages: [message(19), message(20), message(21)],
      has_more: true,
      has_more_after: true,
    });
    assert.equal(await jump, true);
    assert.deepEqual(ids(), [19, 20, 21]);
    assert.deepEqual(events.room.at(-1), { kind: "focus", id: 20 });

    const newer = session.loadNewer();
    const after = sockets[0].lastSent("history");
    assert.equal(after.after, 21);
    sockets[0].answer(after, { type: "history", messages: [message(22)], has_more: false });
    await newer;
    assert.equal(session.room.hasNewer, false);
  });

  test("jumpTo a deleted message says false", async () => {
    const { session, sockets } = setup();
    await connect(sockets[0], ready({ messages: [message(90)] }));
    const jump = session.jumpTo(20);
    sockets[0].answer(sockets[0].lastSent("history"), {
      type: "history",
      messages: [message(19), message(21)],
      has_more: true,
      has_more_after: true,
    });
    assert.equal(await jump, false);
  });
});

describe("RoomSession: switching rooms", () => {
  test("the old room's socket closes before the new one opens: one room socket at a time", async () => {
    const { session, sockets, events, conversations } = setup();
    await connect(sockets[0], ready({ messages: [message(1)] }));
    const pending = session.loadOlder();
    session.switchRoom("dev");
    assert.equal(sockets[0].closedWith, 1000);
    assert.equal(sockets.length, 2);
    assert.equal(sockets[1].url, "ws://chat.test/ws/rooms/dev/");
    assert.equal(await pending, false, "the old socket's requests fail");
    assert.equal(session.slug, "dev");
    assert.deepEqual(session.room.messages, []);
    assert.deepEqual(events.room.find((e) => e.kind === "switched"), { kind: "switched", slug: "dev" });
    assert.equal(conversations.openSlug, "dev");
    await connect(sockets[1], ready({ slug: "dev", messages: [message(7)] }));
    assert.deepEqual(session.room.messages.map((m) => m.id), [7]);
    assert.equal(sockets[1].sentOfType("history").length, 0, "a new room is no reconnect");
  });

  test("unsent messages stay with their room and go out when it is opened again", async () => {
    const { clock, session, sockets } = setup();
    await connect(sockets[0]);
    const entry = session.send("for general");
    sockets[0].answer(sockets[0].lastSent("message.send"), {
      type: "error",
      code: "rate_limited",
      message: "Slow mode.",
      retry_after: 1,
    });
    await flush();
    session.switchRoom("dev");
    await connect(sockets[1], ready({ slug: "dev" }));
    await clock.tick(2000); // the retry falls due while another room is open
    assert.equal(sockets[1].sentOfType("message.send").length, 0, "never into another room");
    assert.deepEqual(session.outbox.entries, []);
    session.switchRoom("general");
    await connect(sockets[2]);
    assert.equal(sockets[2].lastSent("message.send").client_id, entry.clientId);
  });

  test("start() again (after a final close, say) closes the current socket first", async () => {
    const { session, sockets } = setup();
    await connect(sockets[0]);
    session.start();
    assert.equal(sockets[0].closedWith, 1000);
    assert.equal(sockets.length, 2);
  });
});

describe("LobbySession", () => {
  test("keeps the conversation list current over /ws/lobby/", async () => {
    const clock = new FakeClock();
    const deps = fakeDeps(clock);
    deps.rooms = [{ slug: "general", name: "General", kind: "public", unread: 0, last_id: 3 }];
    const conversations = new Conversations();
    const lobby = new LobbySession({ deps, conversations });
    lobby.start();
    const ws = deps.WebSocket.instances[0];
    assert.equal(ws.url, "ws://chat.test/ws/lobby/");
    await connect(ws, { type: "ready", me: { username: "alice" } });
    assert.deepEqual(deps.fetched, ["/api/rooms/"]);
    ws.receive({ type: "activity", room: "general", id: 4, author: "bob" });
    ws.receive({ type: "activity", room: "general", id: 5, author: "alice" });
    assert.equal(conversations.total(), 1);
    assert.equal(lobby.state, "ready");
  });
});
