/*
 * Fakes for driving the client core without a browser: a clock whose timers run only when a
 * test moves time, a WebSocket the test plays the server for, and the deps a session takes.
 */

/** Let pending promise callbacks run (they are microtasks; setImmediate comes after them all). */
export function flush() {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A clock and timers that move only when told to. */
export class FakeClock {
  #now;
  #timers = new Map();
  #last = 0;

  constructor(start = Date.UTC(2024, 2, 5, 12, 0, 0)) {
    this.#now = start;
  }

  now = () => this.#now;

  setTimeout = (fn, ms = 0) => {
    const id = ++this.#last;
    this.#timers.set(id, { id, at: this.#now + Math.max(0, ms), fn });
    return id;
  };

  clearTimeout = (id) => {
    this.#timers.delete(id);
  };

  /** How many timers are set. */
  get pending() {
    return this.#timers.size;
  }

  /**
   * Move time forward by `ms`, running each timer due on the way at its own time (in time
   * order, ties in the order they were set) and letting promises settle after each.
   */
  async tick(ms) {
    const end = this.#now + ms;
    for (;;) {
      await flush();
      const due = [...this.#timers.values()]
        .filter((timer) => timer.at <= end)
        .sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) {
        break;
      }
      this.#timers.delete(due.id);
      this.#now = due.at;
      due.fn();
    }
    this.#now = end;
    await flush();
  }
}

/**
 * A fresh WebSocket class with its own `instances` list (every socket the code opened, in
 * order). The test plays the server: open(), receive(frame), serverClose(code); what the code
 * sent is in `sent` (parsed), its binary frames in `binary` (as Uint8Arrays); the test sets
 * `bufferedAmount` as the browser would report it. With `answerPings` set on the class, every
 * ping gets its pong (just after `send` returns, as from a real server).
 */
export function fakeWebSocketClass() {
  return class FakeWebSocket {
    static OPEN = 1;
    static instances = [];
    static answerPings = false;

    constructor(url) {
      this.url = url;
      this.readyState = 0;
      this.sent = [];
      this.binary = [];
      this.bufferedAmount = 0;
      this.closedWith = null;
      this.onmessage = null;
      this.onclose = null;
      FakeWebSocket.instances.push(this);
    }

    send(text) {
      if (this.readyState !== 1) {
        throw new Error("send on a socket that is not open");
      }
      if (typeof text !== "string") {
        const view = ArrayBuffer.isView(text) ? text : new Uint8Array(text);
        this.binary.push(new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice());
        return;
      }
      const frame = JSON.parse(text);
      this.sent.push(frame);
      if (frame.type === "ping" && FakeWebSocket.answerPings) {
        queueMicrotask(() => this.receive(frame.ref ? { type: "pong", ref: frame.ref } : { type: "pong" }));
      }
    }

    close(code) {
      this.closedWith = code;
      this.readyState = 3;
    }

    // ---- the server's side

    open() {
      this.readyState = 1;
    }

    receive(frame) {
      this.onmessage?.({ data: typeof frame === "string" ? frame : JSON.stringify(frame) });
    }

    /** Answer a frame this socket sent: the same `ref`, with `fields`. */
    answer(request, fields) {
      this.receive({ ...fields, ref: request.ref });
    }

    serverClose(code) {
      this.readyState = 3;
      this.onclose?.({ code });
    }

    /** Frames sent of that type, oldest first. */
    sentOfType(type) {
      return this.sent.filter((frame) => frame.type === type);
    }

    lastSent(type) {
      return this.sentOfType(type).at(-1);
    }
  };
}

/**
 * Deps for a Connection or a session, on `clock`, with a fake WebSocket class. `random`
 * returns 0.5 unless overridden; client ids are "c1", "c2"...; `fetchJson` answers
 * `rooms` (settable) and records the paths asked in `fetched`.
 */
export function fakeDeps(clock, overrides = {}) {
  let ids = 0;
  const deps = {
    WebSocket: fakeWebSocketClass(),
    setTimeout: clock.setTimeout,
    clearTimeout: clock.clearTimeout,
    now: clock.now,
    random: () => 0.5,
    newId: () => `c${++ids}`,
    wsBase: "ws://chat.test",
    online: true,
    rooms: [],
    fetched: [],
    fetchJson: async (path) => {
      deps.fetched.push(path);
      return { rooms: deps.rooms };
    },
    ...overrides,
  };
  return deps;
}

/** A message object as the server sends it. */
export function message(id, author = "bob", extra = {}) {
  return {
    id,
    room: "general",
    author,
    body: `message ${id}`,
    html: `<p>message ${id}</p>`,
    created: new Date(Date.UTC(2024, 2, 5, 11, 0, id)).toISOString(),
    edited: null,
    client_id: null,
    reply_to: null,
    attachments: [],
    reactions: [],
    ...extra,
  };
}

/** A room socket's `ready` frame. */
export function ready({ messages = [], lastRead = null, me = "alice", slug = "general", ...extra } = {}) {
  return {
    type: "ready",
    room: { slug, name: slug, kind: "public", topic: "", slow_mode: 0, posting: "everyone" },
    me: { username: me, role: "member", moderator: false },
    members: [me, "bob"],
    online: [me],
    messages,
    last_read: lastRead,
    ...extra,
  };
}

/** Open `ws` and send it `ready`, then let promises settle. */
export async function connect(ws, frame = ready()) {
  ws.open();
  ws.receive(frame);
  await flush();
}
