import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { backoffDelay, floodDelay } from "../../chat/static/chat/core/backoff.js";
import { Connection } from "../../chat/static/chat/core/connection.js";
import {
  BACKOFF_CAP,
  PING_EVERY,
  PONG_TIMEOUT,
  READY_TIMEOUT,
} from "../../chat/static/chat/core/constants.js";
import { FakeClock, connect, fakeDeps, ready } from "./fakes.js";

/** A Connection on fake deps, with every event it emits recorded. */
function setup(overrides = {}) {
  const clock = new FakeClock();
  const deps = fakeDeps(clock, overrides);
  const connection = new Connection("ws://chat.test/ws/rooms/general/", deps);
  const events = { state: [], ready: [], frame: [], lost: [] };
  for (const type of Object.keys(events)) {
    connection.on(type, (payload) => events[type].push(payload));
  }
  const sockets = deps.WebSocket.instances;
  return { clock, deps, connection, events, sockets };
}

describe("backoff", () => {
  test("full jitter: anywhere from 0 up to base * 2^attempt, capped", () => {
    assert.equal(backoffDelay(0, () => 0), 0);
    assert.equal(backoffDelay(0, () => 0.5), 500);
    assert.equal(backoffDelay(3, () => 0.5), 4000);
    assert.equal(backoffDelay(30, () => 0.5), BACKOFF_CAP / 2);
    assert.ok(backoffDelay(30, () => 0.999999) < BACKOFF_CAP);
  });

  test("a flood close waits 30 to 60 s", () => {
    assert.equal(floodDelay(() => 0), 30000);
    assert.ok(floodDelay(() => 0.999999) < 60000);
  });
});

describe("Connection", () => {
  test("connects, reports ready, and sends only while ready", async () => {
    const { connection, events, sockets } = setup();
    assert.equal(connection.send({ type: "ping" }), false);
    connection.start();
    assert.equal(sockets.length, 1);
    assert.equal(sockets[0].url, "ws://chat.test/ws/rooms/general/");
    assert.equal(connection.state, "connecting");
    sockets[0].open();
    assert.equal(connection.send({ type: "ping" }), false, "open but not ready yet");
    sockets[0].receive(ready());
    assert.equal(connection.state, "ready");
    assert.deepEqual(events.ready.map((e) => e.reconnect), [false]);
    assert.equal(connection.send({ type: "typing" }), true);
    assert.deepEqual(sockets[0].sent, [{ type: "typing" }]);
  });

  test("other frames are handed on; garbage and binary frames are not", async () => {
    const { connection, events, sockets } = setup();
    connection.start();
    await connect(sockets[0]);
    sockets[0].receive("not json");
    sockets[0].receive({ no: "type" });
    sockets[0].onmessage({ data: new ArrayBuffer(4) });
    sockets[0].receive({ type: "presence", online: [] });
    assert.deepEqual(events.frame, [{ type: "presence", online: [] }]);
  });

  test("no ready within READY_TIMEOUT: the socket is dropped and retried with backoff", async () => {
    const { clock, connection, events, sockets } = setup();
    connection.start();
    sockets[0].open();
    await clock.tick(READY_TIMEOUT - 1);
    assert.equal(connection.state, "connecting");
    await clock.tick(1);
    assert.equal(sockets[0].closedWith, 1000, "the stuck socket is closed");
    assert.equal(connection.state, "waiting");
    assert.deepEqual(events.lost, [{ code: null, wasReady: false }]);
    assert.equal(events.state.at(-1).delay, 500); // attempt 0, random 0.5
    await clock.tick(500);
    assert.equal(sockets.length, 2);
  });

  test("pings every PING_EVERY while ready; an answer keeps the socket", async () => {
    const { clock, connection, sockets } = setup();
    connection.start();
    await connect(sockets[0]);
    await clock.tick(PING_EVERY);
    assert.deepEqual(sockets[0].sent, [{ type: "ping" }]);
    sockets[0].receive({ type: "pong" });
    await clock.tick(PING_EVERY);
    assert.equal(sockets[0].sentOfType("ping").length, 2);
    sockets[0].receive({ type: "pong" });
    await clock.tick(PONG_TIMEOUT * 3);
    assert.equal(connection.state, "ready");
    assert.equal(sockets.length, 1);
  });

  test("any frame after a ping shows the socket is alive", async () => {
    const { clock, connection, sockets } = setup();
    connection.start();
    await connect(sockets[0]);
    await clock.tick(PING_EVERY);
    sockets[0].receive({ type: "typing", user: "bob" });
    await clock.tick(PONG_TIMEOUT);
    assert.equal(connection.state, "ready");
  });

  test("no answer within PONG_TIMEOUT after a ping: the dead socket is dropped", async () => {
    const { clock, connection, events, sockets } = setup();
    connection.start();
    await connect(sockets[0]);
    await clock.tick(PING_EVERY + PONG_TIMEOUT - 1);
    assert.equal(connection.state, "ready");
    await clock.tick(1);
    assert.equal(sockets[0].closedWith, 1000);
    assert.deepEqual(events.lost, [{ code: null, wasReady: true }]);
    assert.equal(connection.state, "waiting");
  });

  for (const [code, reason] of [
    [4401, "unauthenticated"],
    [4403, "forbidden"],
    [4404, "not_found"],
  ]) {
    test(`close ${code} is final: no reconnect, ever`, async () => {
      const { clock, connection, events, sockets } = setup();
      connection.start();
      await connect(sockets[0]);
      sockets[0].serverClose(code);
      assert.equal(connection.state, "closed");
      assert.equal(events.state.at(-1).reason, reason);
      assert.equal(events.state.at(-1).code, code);
      await clock.tick(10 * 60 * 1000);
      assert.equal(sockets.length, 1);
      assert.equal(clock.pending, 0, "no timer left running");
    });
  }

  test("close 4403 at the handshake (never ready) is final too", async () => {
    const { clock, connection, sockets } = setup();
    connection.start();
    sockets[0].open();
    sockets[0].serverClose(4403);
    assert.equal(connection.state, "closed");
    assert.equal(connection.everReady, false);
    await clock.tick(120000);
    assert.equal(sockets.length, 1);
  });

  test("close 4429 waits at least 30 s, even with the smallest jitter", async () => {
    const { clock, connection, events, sockets } = setup({ random: () => 0 });
    connection.start();
    await connect(sockets[0]);
    sockets[0].serverClose(4429);
    assert.equal(events.state.at(-1).reason, "flood");
    assert.equal(events.state.at(-1).delay, 30000);
    assert.equal(connection.reconnectAt, clock.now() + 30000);
    await clock.tick(29999);
    assert.equal(sockets.length, 1);
    await clock.tick(1);
    assert.equal(sockets.length, 2);
  });

  test("other closes back off exponentially with jitter; ready starts over", async () => {
    const draws = [0.5, 0.5, 0.5, 0.25, 0.5];
    const { clock, connection, events, sockets } = setup({ random: () => draws.shift() });
    connection.start();
    await connect(sockets[0]);
    sockets[0].serverClose(1006);
    assert.equal(events.state.at(-1).delay, 500); // 0.5 * 1000
    await clock.tick(500);
    sockets[1].serverClose(4503);
    assert.equal(events.state.at(-1).reason, "unavailable");
    assert.equal(events.state.at(-1).delay, 1000); // 0.5 * 2000
    await clock.tick(1000);
    sockets[2].serverClose(1011);
    assert.equal(events.state.at(-1).delay, 2000); // 0.5 * 4000
    await clock.tick(2000);
    sockets[3].serverClose(1006);
    assert.equal(events.state.at(-1).delay, 2000, "jittered: 0.25 * 8000");
    await clock.tick(2000);
    await connect(sockets[4]);
    assert.deepEqual(events.ready.map((e) => e.reconnect), [false, true]);
    sockets[4].serverClose(1006);
    assert.equal(events.state.at(-1).delay, 500, "after a ready the backoff starts over");
  });

  test("close 4000 on a ready socket reconnects at once", async () => {
    const { clock, connection, events, sockets } = setup();
    connection.start();
    await connect(sockets[0]);
    sockets[0].serverClose(4000);
    assert.equal(events.state.at(-1).reason, "reconnect");
    assert.equal(events.state.at(-1).delay, 0);
    await clock.tick(0);
    assert.equal(sockets.length, 2);
  });

  test("close 4000 before ready backs off, so a server that keeps saying it cannot spin us", async () => {
    const { connection, events, sockets } = setup();
    connection.start();
    sockets[0].open();
    sockets[0].serverClose(4000);
    assert.equal(events.state.at(-1).delay, 500);
  });

  test("offline: no reconnect until online, then at once", async () => {
    const { clock, connection, sockets } = setup();
    connection.start();
    await connect(sockets[0]);
    sockets[0].serverClose(1006);
    connection.setOnline(false);
    assert.equal(connection.state, "offline");
    await clock.tick(120000);
    assert.equal(sockets.length, 1);
    connection.setOnline(true);
    assert.equal(sockets.length, 2);
    assert.equal(connection.state, "connecting");
  });

  test("a close while offline waits for online", async () => {
    const { clock, connection, sockets } = setup();
    connection.start();
    await connect(sockets[0]);
    connection.setOnline(false);
    sockets[0].serverClose(1006);
    assert.equal(connection.state, "offline");
    await clock.tick(120000);
    assert.equal(sockets.length, 1);
  });

  test("going offline with a socket open pings it, so a dead one is found within PONG_TIMEOUT", async () => {
    const { clock, connection, sockets } = setup();
    connection.start();
    await connect(sockets[0]);
    connection.setOnline(false);
    assert.deepEqual(sockets[0].sent, [{ type: "ping" }]);
    await clock.tick(PONG_TIMEOUT);
    assert.equal(connection.state, "offline");
  });

  test("starting offline opens nothing", () => {
    const { connection, sockets } = setup({ online: false });
    connection.start();
    assert.equal(connection.state, "offline");
    assert.equal(sockets.length, 0);
  });

  test("retryNow skips the wait", async () => {
    const { connection, sockets } = setup({ random: () => 0.9 });
    connection.start();
    await connect(sockets[0]);
    sockets[0].serverClose(4429);
    connection.retryNow();
    assert.equal(sockets.length, 2);
  });

  test("stop closes the socket for good and reports it lost", async () => {
    const { clock, connection, events, sockets } = setup();
    connection.start();
    await connect(sockets[0]);
    connection.stop();
    assert.equal(sockets[0].closedWith, 1000);
    assert.deepEqual(events.lost, [{ code: null, wasReady: true }]);
    assert.equal(connection.state, "closed");
    assert.equal(events.state.at(-1).reason, "stopped");
    sockets[0].serverClose(1000); // its close event comes later: it must change nothing
    await clock.tick(120000);
    assert.equal(sockets.length, 1);
    assert.equal(events.lost.length, 1);
  });
});
