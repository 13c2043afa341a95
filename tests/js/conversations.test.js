import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Conversations } from "../../chat/static/chat/core/conversations.js";
import { message } from "./fakes.js";

/** As `GET /api/rooms/` lists them. */
function room(slug, name, kind, title, unread, mentions, lastId) {
  return { slug, name, kind, topic: "", unread, mentions, joined: true, title, last_id: lastId };
}

const ROOMS = [
  room("general", "General", "public", "General", 0, 0, 10),
  room("dev", "Dev", "private", "Dev", 2, 1, 20),
  room("dm-1-2", "alice & bob", "direct", "bob", 0, 0, 5),
];

function setup() {
  const conversations = new Conversations({ me: "alice" });
  conversations.load(ROOMS);
  const notified = [];
  conversations.on("notify", (frame) => notified.push(frame));
  const unread = (slug) => conversations.get(slug).unread;
  return { conversations, notified, unread };
}

const activity = (room, id, author = "bob") => ({ type: "activity", room, id, author });
const notify = (room, id, author = "bob") => ({ type: "notify", room, message: message(id, author) });

describe("Conversations", () => {
  test("the list and its counts come from /api/rooms/", () => {
    const { conversations } = setup();
    assert.deepEqual(
      conversations.list().map((c) => [c.slug, c.title, c.unread, c.mention]),
      [
        ["general", "General", 0, false],
        ["dev", "Dev", 2, true],
        ["dm-1-2", "bob", 0, false],
      ]
    );
    assert.equal(conversations.total(), 2);
  });

  test("activity from others counts; my own does not", () => {
    const { conversations, unread } = setup();
    conversations.apply(activity("general", 11));
    conversations.apply(activity("general", 12, "alice"));
    conversations.apply(activity("general", 13));
    assert.equal(unread("general"), 2);
    assert.equal(conversations.total(), 4);
    assert.equal(conversations.get("general").lastId, 13);
  });

  test("each message id counts once", () => {
    const { conversations, unread } = setup();
    conversations.apply(activity("general", 11));
    conversations.apply(activity("general", 11));
    assert.equal(unread("general"), 1);
  });

  test("a message the list already counted (id <= last_id) does not count again", () => {
    const { conversations, unread } = setup();
    conversations.apply(activity("dev", 20));
    conversations.apply(notify("dev", 19));
    assert.equal(unread("dev"), 2);
  });

  test("the same id by activity and notify counts once, in either order; notify marks a mention", () => {
    const { conversations, notified, unread } = setup();
    conversations.apply(activity("general", 11));
    conversations.apply(notify("general", 11));
    conversations.apply(notify("dm-1-2", 6));
    conversations.apply(activity("dm-1-2", 6));
    assert.equal(unread("general"), 1);
    assert.equal(unread("dm-1-2"), 1);
    assert.equal(conversations.get("general").mention, true);
    assert.deepEqual(notified.map((f) => f.room), ["general", "dm-1-2"]);
  });

  test("a notify of my own message (another tab) counts nothing and is not announced", () => {
    const { conversations, notified, unread } = setup();
    conversations.apply(notify("dm-1-2", 6, "alice"));
    assert.equal(unread("dm-1-2"), 0);
    assert.equal(conversations.get("dm-1-2").mention, false);
    assert.deepEqual(notified, []);
  });

  test("the open room counts nothing, and opening a room clears it", () => {
    const { conversations, notified, unread } = setup();
    conversations.open("dev");
    assert.equal(unread("dev"), 0);
    assert.equal(conversations.get("dev").mention, false);
    conversations.apply(activity("dev", 21));
    conversations.apply(notify("dev", 22));
    assert.equal(unread("dev"), 0);
    assert.equal(conversations.get("dev").mention, false);
    assert.deepEqual(notified, []);
    conversations.apply({ type: "unread", room: "dev", unread: 4 });
    assert.equal(unread("dev"), 0);
    conversations.load(ROOMS); // the list says 2 and a mention: not while it is open
    assert.equal(unread("dev"), 0);
    assert.equal(conversations.get("dev").mention, false);
    conversations.open("general");
    conversations.apply(activity("dev", 23));
    assert.equal(unread("dev"), 1, "counts again once another room is open");
  });

  test("an unread frame sets the count; zero clears the mention; earlier ids stay counted", () => {
    const { conversations, unread } = setup();
    conversations.apply(notify("general", 11));
    conversations.apply({ type: "unread", room: "general", unread: 5 });
    assert.equal(unread("general"), 5);
    conversations.apply({ type: "unread", room: "general", unread: 0 });
    assert.equal(unread("general"), 0);
    assert.equal(conversations.get("general").mention, false);
    conversations.apply(activity("general", 11)); // late: already covered by the count
    assert.equal(unread("general"), 0);
  });

  test("frames that beat the list keep counting once it arrives", () => {
    const conversations = new Conversations({ me: "alice" });
    conversations.apply(notify("general", 11)); // newer than the list's snapshot
    conversations.apply(activity("general", 9)); // already in the list's count
    conversations.load(ROOMS);
    assert.equal(conversations.get("general").unread, 1);
    assert.equal(conversations.get("general").name, "General");
    assert.equal(conversations.get("general").mention, true, "the mention is kept with its count");
  });

  test("a direct conversation with unread messages shows as strongly as a mention", () => {
    const conversations = new Conversations({ me: "alice" });
    conversations.load([{ ...ROOMS[2], unread: 2 }]);
    assert.equal(conversations.get("dm-1-2").mention, true);
  });

  test("conversation adds a room; conversation.removed drops it", () => {
    const { conversations } = setup();
    const changes = [];
    conversations.on("change", (change) => changes.push(change));
    conversations.apply({
      type: "conversation",
      room: { slug: "dm-1-3", name: "alice & carol", kind: "direct", topic: "" },
      title: "carol",
    });
    assert.equal(conversations.get("dm-1-3").title, "carol");
    assert.equal(conversations.get("dm-1-3").unread, 0);
    conversations.apply({ type: "conversation.removed", room: "dev" });
    assert.equal(conversations.get("dev"), undefined);
    assert.equal(conversations.total(), 0);
    assert.deepEqual(changes, [
      { kind: "updated", slug: "dm-1-3" },
      { kind: "removed", slug: "dev" },
    ]);
  });

  test("a room the list does not know yet still counts", () => {
    const { conversations } = setup();
    conversations.apply({ ...notify("dm-1-9", 3, "dave"), room_name: "alice & dave", room_kind: "direct" });
    assert.equal(conversations.get("dm-1-9").unread, 1);
    assert.equal(conversations.get("dm-1-9").kind, "direct");
  });

  test("other frames are not the list's", () => {
    const { conversations } = setup();
    assert.equal(conversations.apply({ type: "message", message: message(1) }), false);
    assert.equal(conversations.apply(activity("general", 11)), true);
  });
});
