import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { DISCONNECTED, RequestError, Requests } from "../../chat/static/chat/core/requests.js";
import { flush } from "./fakes.js";

/** Requests whose frames land in `sent`; `connected` decides whether sending works. */
function setup() {
  const sent = [];
  const link = { connected: true };
  const requests = new Requests((frame) => {
    if (link.connected) {
      sent.push(frame);
    }
    return link.connected;
  });
  return { requests, sent, link };
}

/** A promise's outcome so far: "pending", or {value} / {error}. */
function outcome(promise) {
  const seen = { state: "pending" };
  promise.then(
    (value) => Object.assign(seen, { state: "resolved", value }),
    (error) => Object.assign(seen, { state: "rejected", error })
  );
  return seen;
}

describe("Requests", () => {
  test("each frame gets a ref of its own", () => {
    const { requests, sent } = setup();
    requests.request({ type: "ping" });
    requests.request({ type: "ping" });
    requests.request({ type: "history", before: 5 });
    const refs = sent.map((frame) => frame.ref);
    assert.equal(new Set(refs).size, 3);
    assert.ok(refs.every((ref) => typeof ref === "string" && ref.length <= 64));
    assert.deepEqual(sent[2], { type: "history", before: 5, ref: refs[2] });
  });

  test("two requests answered out of order each get their own answer", async () => {
    const { requests, sent } = setup();
    const first = requests.request({ type: "history", before: 100 });
    const second = requests.request({ type: "history", before: 50 });
    requests.handle({ type: "history", ref: sent[1].ref, messages: [{ id: 1 }], has_more: false });
    requests.handle({ type: "history", ref: sent[0].ref, messages: [{ id: 60 }], has_more: true });
    assert.deepEqual((await first).messages, [{ id: 60 }]);
    assert.deepEqual((await second).messages, [{ id: 1 }]);
  });

  test("an error with a ref rejects only its request", async () => {
    const { requests, sent } = setup();
    const edit = outcome(requests.request({ type: "message.edit", id: 1, body: "x" }));
    const remove = outcome(requests.request({ type: "message.delete", id: 2 }));
    const consumed = requests.handle({
      type: "error",
      ref: sent[1].ref,
      code: "forbidden",
      message: "Not yours.",
    });
    await flush();
    assert.equal(consumed, true);
    assert.equal(remove.state, "rejected");
    assert.ok(remove.error instanceof RequestError);
    assert.equal(remove.error.code, "forbidden");
    assert.equal(remove.error.message, "Not yours.");
    assert.equal(remove.error.retry_after, null);
    assert.equal(edit.state, "pending");
    requests.handle({ type: "ok", ref: sent[0].ref });
    await flush();
    assert.deepEqual(edit.value, { type: "ok", ref: sent[0].ref });
  });

  test("a rate_limited error carries retry_after", async () => {
    const { requests, sent } = setup();
    const send = requests.request({ type: "message.send", body: "hi" });
    requests.handle({ type: "error", ref: sent[0].ref, code: "rate_limited", message: "Slow down.", retry_after: 2.5 });
    await assert.rejects(send, (error) => error.code === "rate_limited" && error.retry_after === 2.5);
  });

  test("broadcasts without a ref never resolve a request, nor do unknown refs", async () => {
    const { requests, sent } = setup();
    const send = outcome(requests.request({ type: "message.send", body: "hi", client_id: "c1" }));
    const history = outcome(requests.request({ type: "history", after: 3 }));
    for (const frame of [
      { type: "message", message: { id: 9, client_id: "c1" } },
      { type: "ok" },
      { type: "error", code: "invalid", message: "?" },
      { type: "history", messages: [], has_more: false },
      { type: "ok", ref: "no such ref" },
      { type: "ok", ref: Number(sent[0].ref) }, // a number is not the string it was sent as
    ]) {
      assert.equal(requests.handle(frame), false);
    }
    await flush();
    assert.equal(send.state, "pending");
    assert.equal(history.state, "pending");
    assert.equal(requests.size, 2);
  });

  test("an answer settles its request once; a second answer with that ref is not taken", async () => {
    const { requests, sent } = setup();
    const ping = requests.request({ type: "ping" });
    assert.equal(requests.handle({ type: "pong", ref: sent[0].ref }), true);
    assert.equal(requests.handle({ type: "pong", ref: sent[0].ref }), false);
    assert.equal((await ping).type, "pong");
  });

  test("when the socket drops, every pending request is rejected as disconnected", async () => {
    const { requests } = setup();
    const a = requests.request({ type: "history", after: 1 });
    const b = requests.request({ type: "message.edit", id: 1, body: "x" });
    requests.failAll();
    await assert.rejects(a, (error) => error.code === DISCONNECTED);
    await assert.rejects(b, (error) => error.code === DISCONNECTED);
    assert.equal(requests.size, 0);
  });

  test("a request with no socket to go on fails at once", async () => {
    const { requests, link } = setup();
    link.connected = false;
    await assert.rejects(requests.request({ type: "read", id: 3 }), (error) => error.code === DISCONNECTED);
    assert.equal(requests.size, 0);
  });
});
