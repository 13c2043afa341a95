import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { CONFIRM_WAIT, RETRY_MARGIN } from "../../chat/static/chat/core/constants.js";
import { Outbox } from "../../chat/static/chat/core/outbox.js";
import { Requests } from "../../chat/static/chat/core/requests.js";
import { FakeClock, fakeDeps, flush } from "./fakes.js";

/** An Outbox on a real request map whose frames land in `sent`; the test answers them. */
function setup(overrides = {}) {
  const clock = new FakeClock();
  const sent = [];
  const requests = new Requests((frame) => {
    sent.push(frame);
    return true;
  });
  const outbox = new Outbox({ ...fakeDeps(clock, overrides), request: (frame) => requests.request(frame) });
  const changes = [];
  outbox.on("change", (change) => changes.push(change));
  const answer = async (frame, fields) => {
    requests.handle({ ...fields, ref: frame.ref });
    await flush();
  };
  const sends = () => sent.filter((frame) => frame.type === "message.send");
  return { clock, outbox, requests, sent, sends, changes, answer };
}

describe("Outbox", () => {
  test("nothing goes out before resume; then one at a time, in order", async () => {
    const { outbox, sends, answer } = setup();
    const a = outbox.add("first");
    outbox.add("second");
    assert.equal(sends().length, 0);
    assert.equal(a.state, "queued");
    outbox.resume();
    assert.deepEqual(sends().map((f) => f.body), ["first"]);
    assert.equal(a.state, "sending");
    await answer(sends()[0], { type: "ok", id: 7 });
    assert.equal(a.id, 7);
    assert.deepEqual(sends().map((f) => f.body), ["first", "second"]);
  });

  test("the frame carries the client_id, and reply_to and attachments when given", async () => {
    const { outbox, sends, answer } = setup();
    outbox.resume();
    const plain = outbox.add("plain");
    const { ref, ...frame } = sends()[0];
    assert.deepEqual(frame, { type: "message.send", body: "plain", client_id: plain.clientId });
    await answer(sends()[0], { type: "ok", id: 1 });
    const reply = outbox.add("answer", { replyTo: 3, attachments: ["u1"] });
    assert.equal(sends()[1].client_id, reply.clientId);
    assert.notEqual(reply.clientId, plain.clientId);
    assert.equal(sends()[1].reply_to, 3);
    assert.deepEqual(sends()[1].attachments, ["u1"]);
  });

  test("the broadcast message with its client_id confirms the entry", async () => {
    const { outbox, changes } = setup();
    outbox.resume();
    const entry = outbox.add("hi");
    assert.equal(outbox.settle({ id: 12, client_id: "someone else's" }), false);
    assert.equal(outbox.settle({ id: 12, client_id: entry.clientId }), true);
    assert.deepEqual(outbox.entries, []);
    assert.deepEqual(changes.at(-1), { kind: "confirmed", entry, id: 12 });
  });

  test("after its ok, the message with that id confirms the entry (even without a client_id)", async () => {
    const { outbox, sends, answer } = setup();
    outbox.resume();
    const entry = outbox.add("hi");
    await answer(sends()[0], { type: "ok", id: 12 });
    assert.deepEqual(outbox.entries, [entry], "shown as pending until the message itself is here");
    assert.equal(outbox.settle({ id: 12, client_id: null }), true);
    assert.deepEqual(outbox.entries, []);
  });

  test("no answer within CONFIRM_WAIT: sent again with the same client_id", async () => {
    const { clock, outbox, sends } = setup();
    outbox.resume();
    const entry = outbox.add("hi");
    await clock.tick(CONFIRM_WAIT - 1);
    assert.equal(sends().length, 1);
    await clock.tick(1);
    assert.equal(sends().length, 2);
    assert.equal(sends()[1].client_id, entry.clientId);
    assert.notEqual(sends()[1].ref, sends()[0].ref);
    assert.equal(entry.sends, 2);
  });

  test("ok but no message within CONFIRM_WAIT: sent again so the server repeats the original", async () => {
    const { clock, outbox, sends, answer } = setup();
    outbox.resume();
    const entry = outbox.add("hi");
    await answer(sends()[0], { type: "ok", id: 5 });
    await clock.tick(CONFIRM_WAIT);
    assert.deepEqual(sends().map((f) => f.client_id), [entry.clientId, entry.clientId]);
    outbox.settle({ id: 5, client_id: entry.clientId });
    await clock.tick(CONFIRM_WAIT * 3);
    assert.equal(sends().length, 2, "a confirmed entry is never sent again");
  });

  test("rate_limited: the entry, and those after it, wait retry_after, then go again", async () => {
    const { clock, outbox, sends, answer } = setup();
    outbox.resume();
    const a = outbox.add("one");
    outbox.add("two");
    await answer(sends()[0], { type: "error", code: "rate_limited", message: "Slow mode.", retry_after: 3 });
    assert.equal(a.state, "waiting");
    assert.equal(a.retryAt, clock.now() + 3000 + RETRY_MARGIN);
    await clock.tick(3000 + RETRY_MARGIN - 1);
    assert.equal(sends().length, 1, "nothing goes out while waiting");
    await clock.tick(1);
    assert.deepEqual(sends().map((f) => f.body), ["one", "one"]);
    assert.equal(sends()[1].client_id, a.clientId);
  });

  test("unavailable without retry_after: backoff, then the same client_id again", async () => {
    const { clock, outbox, sends, answer } = setup({ random: () => 0.5 });
    outbox.resume();
    const a = outbox.add("one");
    await answer(sends()[0], { type: "error", code: "unavailable", message: "Try later." });
    assert.equal(a.state, "waiting");
    await clock.tick(499);
    assert.equal(sends().length, 1);
    await clock.tick(1);
    assert.equal(sends().length, 2);
    assert.equal(sends()[1].client_id, a.clientId);
  });

  test("other refusals fail the entry for good; the next goes; retry and discard", async () => {
    const { clock, outbox, sends, answer } = setup();
    outbox.resume();
    const a = outbox.add("x".repeat(5000));
    const b = outbox.add("fine");
    await answer(sends()[0], { type: "error", code: "too_long", message: "Too long." });
    assert.equal(a.state, "failed");
    assert.deepEqual(a.error, { code: "too_long", message: "Too long." });
    assert.deepEqual(sends().map((f) => f.client_id), [a.clientId, b.clientId]);
    await clock.tick(CONFIRM_WAIT * 10);
    assert.equal(sends().filter((f) => f.client_id === a.clientId).length, 1, "never sent again by itself");

    outbox.settle({ id: 2, client_id: b.clientId });
    assert.equal(outbox.retry(a.clientId), true);
    assert.equal(sends().at(-1).client_id, a.clientId);
    await answer(sends().at(-1), { type: "error", code: "muted", message: "Muted." });
    assert.equal(a.state, "failed");
    assert.equal(outbox.discard(a.clientId), true);
    assert.deepEqual(outbox.entries, []);
  });

  test("an entry being sent cannot be discarded (it may be stored already)", () => {
    const { outbox } = setup();
    outbox.resume();
    const a = outbox.add("hi");
    assert.equal(outbox.discard(a.clientId), false);
    assert.deepEqual(outbox.entries, [a]);
  });

  test("socket lost: what was sent goes again after resume, with the same client_id", async () => {
    const { outbox, requests, sends, answer } = setup();
    outbox.resume();
    const a = outbox.add("one");
    const b = outbox.add("two");
    const firstSend = sends()[0];
    outbox.pause();
    requests.failAll();
    await flush();
    assert.equal(a.state, "queued");
    outbox.add("three");
    assert.equal(sends().length, 1, "nothing goes out while paused");
    outbox.resume();
    assert.equal(sends()[1].client_id, a.clientId);
    await answer(firstSend, { type: "ok", id: 99 }); // an answer for the old socket's send
    assert.equal(a.id, null, "answers to an earlier send are ignored");
    await answer(sends()[1], { type: "ok", id: 3 });
    assert.equal(sends()[2].client_id, b.clientId);
  });

  test("a wait survives a reconnect", async () => {
    const { clock, outbox, sends, answer } = setup();
    outbox.resume();
    outbox.add("one");
    await answer(sends()[0], { type: "error", code: "rate_limited", message: "", retry_after: 10 });
    outbox.pause();
    await clock.tick(2000);
    outbox.resume();
    assert.equal(sends().length, 1, "still waiting");
    await clock.tick(8000 + RETRY_MARGIN);
    assert.equal(sends().length, 2);
  });
});
