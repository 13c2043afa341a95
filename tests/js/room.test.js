import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { TYPING_SHOWN } from "../../chat/static/chat/core/constants.js";
import { Room } from "../../chat/static/chat/core/room.js";
import { FakeClock, message, ready } from "./fakes.js";

function setup() {
  const clock = new FakeClock();
  const room = new Room("general", clock);
  const changes = [];
  room.on("change", (change) => changes.push(change));
  const ids = () => room.messages.map((m) => m.id);
  return { clock, room, changes, ids };
}

describe("Room: order and duplicates", () => {
  test("the first ready sets the messages and says reset", () => {
    const { room, changes, ids } = setup();
    room.applyReady(ready({ messages: [message(3), message(4)] }));
    assert.deepEqual(ids(), [3, 4]);
    assert.deepEqual(changes, [{ kind: "reset" }]);
    assert.equal(room.info.name, "general");
    assert.equal(room.me.username, "alice");
    assert.deepEqual(room.members, ["alice", "bob"]);
    assert.deepEqual(room.online, ["alice"]);
    assert.equal(room.hasOlder, true);
  });

  test("a live message, then the same in a history page: held once", () => {
    const { room, changes, ids } = setup();
    room.applyReady(ready({ messages: [message(1)] }));
    room.applyFrame({ type: "message", message: message(2) });
    room.applyPage({ messages: [message(2), message(3)], has_more: false }, "after");
    assert.deepEqual(ids(), [1, 2, 3]);
    assert.deepEqual(
      changes.filter((c) => c.kind === "added"),
      [
        { kind: "added", ids: [2] },
        { kind: "added", ids: [3] },
      ]
    );
  });

  test("out-of-order arrival is kept in id order", () => {
    const { room, ids } = setup();
    room.applyReady(ready({ messages: [message(10)] }));
    for (const id of [14, 12, 11, 13]) {
      room.applyFrame({ type: "message", message: message(id) });
    }
    room.applyPage({ messages: [message(5), message(7)], has_more: true }, "before");
    assert.deepEqual(ids(), [5, 7, 10, 11, 12, 13, 14]);
    assert.equal(room.oldestId, 5);
    assert.equal(room.newestId, 14);
  });

  test("a repeated broadcast (the same client_id answered again) does not duplicate", () => {
    const { room, changes, ids } = setup();
    room.applyReady(ready());
    const mine = message(8, "alice", { client_id: "c1" });
    room.applyFrame({ type: "message", message: mine });
    room.applyFrame({ type: "message", message: { ...mine } });
    assert.deepEqual(ids(), [8]);
    assert.equal(changes.filter((c) => c.kind === "added").length, 1);
    assert.equal(changes.filter((c) => c.kind === "updated").length, 0, "nothing changed: no update");
  });

  test("a copy that differs (an edit we missed) refreshes the held message", () => {
    const { room, changes } = setup();
    room.applyReady(ready({ messages: [message(1)] }));
    room.applyPage({ messages: [message(1, "bob", { body: "fixed", edited: "2024-03-05T12:00:00Z" })] }, "after");
    assert.equal(room.get(1).body, "fixed");
    assert.deepEqual(changes.at(-2), { kind: "updated", id: 1 });
  });

  test("frames that are not messages are left alone", () => {
    const { room, ids } = setup();
    room.applyReady(ready());
    assert.equal(room.applyFrame({ type: "activity", room: "x", id: 3 }), false);
    room.applyFrame({ type: "message", message: { id: "nope" } });
    room.applyFrame({ type: "message" });
    assert.deepEqual(ids(), []);
  });
});

describe("Room: changes to messages", () => {
  test("edits, reactions and deletions", () => {
    const { room, changes, ids } = setup();
    room.applyReady(ready({ messages: [message(1), message(2)] }));
    const edited = message(1, "bob", { body: "new", edited: "2024-03-05T12:00:00Z" });
    room.applyFrame({ type: "message.edited", message: edited });
    assert.equal(room.get(1).body, "new");
    assert.deepEqual(changes.at(-1), { kind: "updated", id: 1 });

    const reactions = [{ emoji: "👍", users: ["alice"] }];
    room.applyFrame({ type: "message.reactions", id: 2, reactions });
    assert.deepEqual(room.get(2).reactions, reactions);
    assert.equal(room.get(2).body, "message 2");
    assert.deepEqual(changes.at(-1), { kind: "updated", id: 2 });

    room.applyFrame({ type: "message.deleted", id: 1 });
    assert.deepEqual(ids(), [2]);
    assert.deepEqual(changes.at(-1), { kind: "removed", id: 1 });
    room.applyFrame({ type: "message.deleted", id: 1 });
    assert.equal(changes.length, 4, "deleting what is not held says nothing");
  });

  test("an edit of a message not held adds nothing", () => {
    const { room, ids } = setup();
    room.applyReady(ready({ messages: [message(5)] }));
    room.applyFrame({ type: "message.edited", message: message(2) });
    room.applyFrame({ type: "message.reactions", id: 3, reactions: [] });
    assert.deepEqual(ids(), [5]);
  });

  test("a reconnect's ready drops what was deleted while away, and merges the rest", () => {
    const { room, ids } = setup();
    room.applyReady(ready({ messages: [message(1), message(2), message(3), message(4)] }));
    room.applyReady(ready({ messages: [message(2), message(4), message(5)] }));
    assert.deepEqual(ids(), [1, 2, 4, 5], "1 is older than the ready window: kept");
  });
});

describe("Room: paging and jumps", () => {
  test("older pages: hasOlder follows has_more", () => {
    const { room } = setup();
    room.applyReady(ready({ messages: [message(50)] }));
    room.applyPage({ messages: [message(40)], has_more: true }, "before");
    assert.equal(room.hasOlder, true);
    room.applyPage({ messages: [message(30)], has_more: false }, "before");
    assert.equal(room.hasOlder, false);
  });

  test("an empty room has no older messages", () => {
    const { room } = setup();
    room.applyReady(ready());
    assert.equal(room.hasOlder, false);
  });

  test("a jump replaces the held messages; live ones past the gap wait for the gap to close", () => {
    const { room, changes, ids } = setup();
    room.applyReady(ready({ messages: [message(100), message(101)] }));
    const page = { messages: [message(9), message(10), message(11)], has_more: true, has_more_after: true };
    room.applyPage(page, "around");
    assert.deepEqual(changes.at(-1), { kind: "reset" });
    assert.deepEqual(ids(), [9, 10, 11]);
    assert.equal(room.hasNewer, true);
    room.applyFrame({ type: "message", message: message(102) });
    assert.deepEqual(ids(), [9, 10, 11], "a live message would leave a gap");
    assert.equal(room.latestId, 102);
    room.applyPage({ messages: [message(12)], has_more: true }, "after");
    assert.equal(room.hasNewer, true);
    room.applyPage({ messages: [message(13)], has_more: false }, "after");
    assert.equal(room.hasNewer, false);
    room.applyFrame({ type: "message", message: message(103) });
    assert.deepEqual(ids(), [9, 10, 11, 12, 13, 103]);
  });

  test("back to the present replaces the held messages with the newest", () => {
    const { room, ids } = setup();
    room.applyReady(ready({ messages: [message(100)] }));
    room.applyPage({ messages: [message(9)], has_more: true, has_more_after: true }, "around");
    room.applyPage({ messages: [message(100), message(101)], has_more: true }, "latest");
    assert.deepEqual(ids(), [100, 101]);
    assert.equal(room.hasNewer, false);
    assert.equal(room.hasOlder, true);
  });

  test("loading flags", () => {
    const { room, changes } = setup();
    room.setLoading("older", true);
    assert.equal(room.isLoading("older"), true);
    room.setLoading("older", false);
    assert.equal(room.isLoading("older"), false);
    assert.deepEqual(changes, [{ kind: "paging" }, { kind: "paging" }]);
  });
});

describe("Room: read marks, typing, members", () => {
  test("the first unread message: after last_read, not mine; it moves on if deleted", () => {
    const { room } = setup();
    room.applyReady(
      ready({
        lastRead: 2,
        messages: [message(1), message(2), message(3, "alice"), message(4), message(5)],
      })
    );
    assert.equal(room.firstUnreadId, 4);
    room.applyFrame({ type: "message.deleted", id: 4 });
    assert.equal(room.firstUnreadId, 5);
  });

  test("never read: no divider", () => {
    const { room } = setup();
    room.applyReady(ready({ messages: [message(1)] }));
    assert.equal(room.firstUnreadId, null);
  });

  test("the read mark only moves forward; unreadCount counts others' messages after it", () => {
    const { room } = setup();
    room.applyReady(ready({ lastRead: 1, messages: [message(1), message(2), message(3, "alice"), message(4)] }));
    assert.equal(room.unreadCount, 2);
    assert.equal(room.moveReadMark(2), true);
    assert.equal(room.moveReadMark(1), false);
    assert.equal(room.readMark, 2);
    assert.equal(room.unreadCount, 1);
    assert.equal(room.firstUnreadId, 2, "the divider stays where it was");
  });

  test("typing: others only, gone after TYPING_SHOWN or when they post", async () => {
    const { clock, room } = setup();
    room.applyReady(ready());
    room.applyFrame({ type: "typing", user: "alice" });
    room.applyFrame({ type: "typing", user: "bob" });
    room.applyFrame({ type: "typing", user: "carol" });
    assert.deepEqual(room.typingUsers, ["bob", "carol"]);
    room.applyFrame({ type: "message", message: message(1, "bob") });
    assert.deepEqual(room.typingUsers, ["carol"]);
    await clock.tick(TYPING_SHOWN - 1);
    room.applyFrame({ type: "typing", user: "carol" }); // still typing: the expiry starts over
    await clock.tick(TYPING_SHOWN - 1);
    assert.deepEqual(room.typingUsers, ["carol"]);
    await clock.tick(1);
    assert.deepEqual(room.typingUsers, []);
  });

  test("members, presence and the room's policy", () => {
    const { room, changes } = setup();
    room.applyReady(ready());
    room.applyFrame({ type: "presence", online: ["alice", "bob"] });
    room.applyFrame({ type: "members", members: ["alice", "bob", "carol"] });
    assert.deepEqual(room.online, ["alice", "bob"]);
    assert.deepEqual(room.members, ["alice", "bob", "carol"]);
    const before = room.info;
    room.applyFrame({ type: "room", room: { slow_mode: 30 } });
    assert.equal(room.info.slow_mode, 30);
    assert.equal(room.info.name, "general");
    assert.deepEqual(changes.at(-1), { kind: "info", previous: before });
  });

  test("direct rooms: seenId is my latest message the other person has read", () => {
    const { room } = setup();
    room.applyReady(
      ready({
        messages: [message(1, "alice"), message(2, "bob"), message(3, "alice"), message(4, "alice")],
        read_marks: { bob: 3, alice: 4 },
      })
    );
    assert.equal(room.seenId, 3, "my own mark says nothing about being seen");
    room.applyFrame({ type: "read", user: "bob", id: 4 });
    assert.equal(room.seenId, 4);
    room.applyFrame({ type: "read", user: "bob", id: 1 });
    assert.equal(room.seenId, 4, "a mark never moves back");
  });
});
