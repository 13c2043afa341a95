import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  FILES_PER_MESSAGE,
  RETRY_MARGIN,
  UPLOADS_AT_ONCE,
  UPLOAD_BUFFERED,
  UPLOAD_POLL,
  UPLOAD_WINDOW,
} from "../../chat/static/chat/core/constants.js";
import { Conversations } from "../../chat/static/chat/core/conversations.js";
import { RoomSession } from "../../chat/static/chat/core/session.js";
import { CHUNK_HEADER, UNREADABLE, chunkFrame, idBytes } from "../../chat/static/chat/core/uploads.js";
import { FakeClock, connect, fakeDeps, flush } from "./fakes.js";

const CHUNK = 65536;
const ID = "00112233445566778899aabbccddeeff";
const ID2 = "ffeeddccbbaa99887766554433221100";

/** Bytes 0, 1, 2... (mod 251), so that every chunk's content is checked. */
function bytes(size) {
  return Uint8Array.from({ length: size }, (_, i) => i % 251);
}

/** A Blob-like file whose reads settle at once (or fail, with `broken`). */
function fakeFile(name, size, { type = "application/octet-stream", broken = false } = {}) {
  const data = bytes(size);
  return {
    name,
    size,
    type,
    slice(start, end) {
      return {
        arrayBuffer: async () => {
          if (broken) {
            throw new Error("NotReadableError");
          }
          return data.slice(start, end).buffer;
        },
      };
    },
  };
}

/** Let the file reads and the promise chains behind them settle. */
async function settle(times = 5) {
  for (let i = 0; i < times; i += 1) {
    await flush();
  }
}

/** A RoomSession on fake deps, connected and ready, with every uploads event recorded. */
async function setup({ uploadMax } = {}) {
  const clock = new FakeClock();
  const deps = fakeDeps(clock);
  deps.WebSocket.answerPings = true;
  const conversations = new Conversations();
  const session = new RoomSession({ slug: "general", deps, conversations, uploadMax });
  const events = [];
  session.on("uploads", (event) => events.push(event));
  session.start();
  const sockets = deps.WebSocket.instances;
  await connect(sockets[0]);
  const ws = () => sockets.at(-1);
  /** The header of a binary frame: its upload id (hex) and offset. */
  const header = (frame) => ({
    upload: Array.from(frame.slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join(""),
    offset: Number(new DataView(frame.buffer, frame.byteOffset).getBigUint64(16, false)),
    length: frame.byteLength - CHUNK_HEADER,
  });
  /** Answer the latest upload.start with `upload.started`. */
  const started = async (upload = ID, chunk = CHUNK) => {
    ws().answer(ws().lastSent("upload.start"), { type: "upload.started", upload, chunk });
    await settle();
  };
  const progress = async (upload, received) => {
    ws().receive({ type: "upload.progress", upload, received });
    await settle();
  };
  return { clock, deps, session, uploads: session.uploads, events, sockets, ws, header, started, progress };
}

describe("uploads: the wire format", () => {
  test("an upload id is its 16 raw bytes; anything else is refused", () => {
    assert.deepEqual([...idBytes(ID)], [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]);
    assert.equal(idBytes("abc"), null);
    assert.equal(idBytes(`${ID.slice(0, 30)}zz`), null);
    assert.equal(idBytes(null), null);
  });

  test("a chunk frame: the id, the offset as 8 bytes big-endian, the data", () => {
    const frame = chunkFrame(idBytes(ID), 0x0102030405, Uint8Array.from([9, 8, 7]));
    assert.equal(frame.byteLength, CHUNK_HEADER + 3);
    assert.deepEqual([...frame.slice(0, 16)], [...idBytes(ID)]);
    assert.deepEqual([...frame.slice(16, 24)], [0, 0, 0, 0x01, 0x02, 0x03, 0x04, 0x05]);
    assert.deepEqual([...frame.slice(24)], [9, 8, 7]);
  });
});

describe("uploads: one file, start to finish", () => {
  test("start, chunks in order, progress from the server's acknowledgements, finish, then attach", async () => {
    const { session, uploads, events, ws, header, started, progress } = await setup();
    const size = 2 * CHUNK + 1000;
    const entry = uploads.add(fakeFile("report.pdf", size, { type: "application/pdf" }));
    const start = ws().lastSent("upload.start");
    assert.deepEqual({ ...start, ref: undefined }, { type: "upload.start", name: "report.pdf", size, ref: undefined });
    assert.equal(typeof start.ref, "string", "matched to its answer by ref");
    assert.equal(entry.state, "starting");
    assert.equal(uploads.pending, 1);

    await started();
    assert.equal(entry.state, "sending");
    const frames = ws().binary.map(header);
    assert.deepEqual(frames, [
      { upload: ID, offset: 0, length: CHUNK },
      { upload: ID, offset: CHUNK, length: CHUNK },
      { upload: ID, offset: 2 * CHUNK, length: 1000 },
    ]);
    const content = new Uint8Array(size);
    for (const frame of ws().binary) {
      content.set(frame.slice(CHUNK_HEADER), header(frame).offset);
    }
    assert.deepEqual(content, bytes(size), "every byte, in its place");
    assert.equal(entry.sent, size);
    assert.equal(entry.received, 0, "progress is what the server holds, not what left");

    await progress(ID, CHUNK);
    assert.equal(entry.received, CHUNK);
    assert.equal(ws().sentOfType("upload.finish").length, 0);
    await progress(ID, 2 * CHUNK);
    await progress(ID, size);
    assert.equal(entry.received, size);
    const finish = ws().lastSent("upload.finish");
    assert.equal(finish.upload, ID);
    assert.equal(entry.state, "finishing");

    const attachment = { id: "a1", name: "report.pdf", size, content_type: "application/pdf", url: "/files/a1/report.pdf", thumbnail_url: null, width: null, height: null };
    ws().answer(finish, { type: "upload.done", attachment });
    await settle();
    assert.equal(entry.state, "done");
    assert.deepEqual(entry.attachment, attachment);
    assert.equal(uploads.pending, 0);
    assert.ok(events.some((e) => e.kind === "progress" && e.entry === entry));

    // A message of files alone: its body may be empty.
    const taken = uploads.take();
    assert.deepEqual(taken, [attachment]);
    assert.equal(uploads.entries.length, 0);
    const sent = session.send("", { attachments: taken.map((a) => a.id), files: taken });
    assert.deepEqual(sent.files, [attachment]);
    const send = ws().lastSent("message.send");
    assert.equal(send.body, "");
    assert.deepEqual(send.attachments, ["a1"]);
  });

  test("a real File (the browser's Blob) reads the same", async () => {
    const { uploads, ws, header, started } = await setup();
    const file = new File([bytes(CHUNK + 5)], "data.bin");
    uploads.add(file);
    await started();
    for (let i = 0; i < 50 && ws().binary.length < 2; i += 1) {
      await flush(); // Node's Blob reads take a few turns
    }
    assert.deepEqual(ws().binary.map(header), [
      { upload: ID, offset: 0, length: CHUNK },
      { upload: ID, offset: CHUNK, length: 5 },
    ]);
    assert.deepEqual(ws().binary[1].slice(CHUNK_HEADER), bytes(CHUNK + 5).slice(CHUNK));
  });

  test("the chunk size is the server's", async () => {
    const { uploads, ws, header, started } = await setup();
    uploads.add(fakeFile("a.txt", 2500));
    await started(ID, 1000);
    assert.deepEqual(ws().binary.map((f) => header(f).length), [1000, 1000, 500]);
  });
});

describe("uploads: flow control", () => {
  test("no chunk while the socket's bufferedAmount is over the bound; it is polled", async () => {
    const { clock, uploads, ws, started } = await setup();
    ws().bufferedAmount = UPLOAD_BUFFERED + 1;
    uploads.add(fakeFile("big.bin", 3 * CHUNK));
    await started();
    assert.equal(ws().binary.length, 0);
    await clock.tick(UPLOAD_POLL);
    assert.equal(ws().binary.length, 0, "still full");
    ws().bufferedAmount = 0;
    await clock.tick(UPLOAD_POLL);
    await settle();
    assert.equal(ws().binary.length, 3);
  });

  test("at most UPLOAD_WINDOW bytes wait for the server's acknowledgement", async () => {
    const { uploads, ws, started, progress } = await setup();
    uploads.add(fakeFile("big.bin", 3 * 1024 * 1024));
    await started();
    assert.equal(ws().binary.length, UPLOAD_WINDOW / CHUNK);
    await progress(ID, CHUNK);
    assert.equal(ws().binary.length, UPLOAD_WINDOW / CHUNK + 1, "one acknowledged, one more goes");
  });

  test(`at most ${UPLOADS_AT_ONCE} uploads run at once; the next starts when one is done`, async () => {
    const { uploads, ws } = await setup();
    const entries = [0, 1, 2].map((i) => uploads.add(fakeFile(`f${i}.txt`, 10)));
    assert.equal(ws().sentOfType("upload.start").length, UPLOADS_AT_ONCE);
    assert.equal(entries[2].state, "queued");
    const [first] = ws().sentOfType("upload.start");
    ws().answer(first, { type: "upload.started", upload: ID, chunk: CHUNK });
    await settle();
    ws().receive({ type: "upload.progress", upload: ID, received: 10 });
    await settle();
    ws().answer(ws().lastSent("upload.finish"), { type: "upload.done", attachment: { id: "a1", name: "f0.txt" } });
    await settle();
    assert.equal(entries[0].state, "done");
    assert.equal(ws().sentOfType("upload.start").length, 3);
    assert.equal(ws().lastSent("upload.start").name, "f2.txt");
  });
});

describe("uploads: cancelling, refusals, a dropped socket", () => {
  test("cancel mid-upload: upload.cancel goes, no chunk follows, late acknowledgements are swallowed", async () => {
    const { uploads, ws, started, progress, events } = await setup();
    const entry = uploads.add(fakeFile("big.bin", 3 * 1024 * 1024));
    await started();
    const before = ws().binary.length;
    assert.ok(uploads.cancel(entry.key));
    assert.deepEqual({ ...ws().lastSent("upload.cancel"), ref: undefined }, { type: "upload.cancel", upload: ID, ref: undefined });
    assert.equal(uploads.entries.length, 0);
    assert.equal(events.at(-1).kind, "removed");
    await progress(ID, CHUNK);
    assert.equal(ws().binary.length, before, "nothing more of it is sent");
    assert.equal(uploads.cancel(entry.key), false);
  });

  test("cancelled before the server answered the start: the upload it opens is cancelled", async () => {
    const { uploads, ws, started } = await setup();
    const entry = uploads.add(fakeFile("a.txt", 100));
    uploads.cancel(entry.key);
    assert.equal(ws().sentOfType("upload.cancel").length, 0, "no id yet");
    await started();
    assert.equal(ws().lastSent("upload.cancel").upload, ID);
    assert.equal(ws().binary.length, 0);
  });

  test("a refused chunk ends its upload: failed, without a cancel; retry starts it over", async () => {
    const { uploads, ws, started } = await setup();
    const entry = uploads.add(fakeFile("a.txt", 100));
    await started();
    ws().receive({ type: "error", code: "invalid", message: "Expected the chunk at 0.", upload: ID });
    await settle();
    assert.equal(entry.state, "failed");
    assert.deepEqual(entry.error, { code: "invalid", message: "Expected the chunk at 0." });
    assert.equal(ws().sentOfType("upload.cancel").length, 0);
    assert.ok(uploads.retry(entry.key));
    assert.equal(ws().sentOfType("upload.start").length, 2);
    await started(ID2);
    assert.equal(ws().binary.at(-1)[0], 0xff, "the new upload's id");
  });

  test("a start refused for good (too large, muted) fails with the server's code", async () => {
    const { uploads, ws } = await setup();
    const entry = uploads.add(fakeFile("a.txt", 100));
    ws().answer(ws().lastSent("upload.start"), { type: "error", code: "muted", message: "You are muted." });
    await settle();
    assert.equal(entry.state, "failed");
    assert.equal(entry.error.code, "muted");
    assert.equal(uploads.pending, 1, "a failed file holds the message until removed or retried");
  });

  test("a rate-limited start waits retry_after, then starts again", async () => {
    const { clock, uploads, ws } = await setup();
    const entry = uploads.add(fakeFile("a.txt", 100));
    ws().answer(ws().lastSent("upload.start"), { type: "error", code: "rate_limited", message: "", retry_after: 2 });
    await settle();
    assert.equal(entry.state, "waiting");
    assert.equal(entry.retryAt, clock.now() + 2000 + RETRY_MARGIN);
    await clock.tick(2000);
    assert.equal(ws().sentOfType("upload.start").length, 1);
    await clock.tick(RETRY_MARGIN);
    assert.equal(ws().sentOfType("upload.start").length, 2);
    assert.equal(entry.state, "starting");
  });

  test("a file that cannot be read fails, and the server's copy is cancelled", async () => {
    const { uploads, ws, started } = await setup();
    const entry = uploads.add(fakeFile("gone.txt", 100, { broken: true }));
    await started();
    assert.equal(entry.state, "failed");
    assert.equal(entry.error.code, UNREADABLE);
    assert.equal(ws().lastSent("upload.cancel").upload, ID);
    assert.equal(uploads.retry(entry.key), false, "reading it again would fail again");
  });

  test("a dropped socket: the upload goes back to the queue, and starts over on the next socket", async () => {
    const { clock, uploads, sockets, ws, header, started, progress } = await setup();
    const entry = uploads.add(fakeFile("a.bin", 3 * CHUNK));
    await started();
    await progress(ID, CHUNK);
    sockets[0].serverClose(1006);
    assert.equal(entry.state, "queued");
    assert.equal(entry.received, 0);
    assert.equal(entry.sent, 0);
    await clock.tick(500); // the reconnect's backoff
    assert.equal(sockets.length, 2);
    assert.equal(ws().sentOfType("upload.start").length, 0, "not before ready");
    await connect(ws());
    assert.equal(ws().sentOfType("upload.start").length, 1);
    await started(ID2);
    assert.deepEqual(ws().binary.map(header).map((h) => [h.upload, h.offset]), [
      [ID2, 0],
      [ID2, CHUNK],
      [ID2, 2 * CHUNK],
    ]);
  });

  test("an upload of another room waits for that room; switching back resumes it", async () => {
    const { clock, session, uploads, sockets, ws, started } = await setup();
    const entry = uploads.add(fakeFile("a.bin", 3 * CHUNK));
    await started();
    session.switchRoom("random");
    assert.equal(entry.state, "queued");
    assert.notEqual(session.uploads, uploads, "each room its own files");
    await connect(ws());
    assert.equal(ws().sentOfType("upload.start").length, 0);
    session.switchRoom("general");
    assert.equal(session.uploads, uploads);
    await connect(ws());
    assert.equal(ws().sentOfType("upload.start").length, 1);
    assert.equal(sockets.length, 3);
    await clock.tick(0);
  });
});

describe("uploads: limits checked before a byte is sent", () => {
  test("empty, too large (the page's limit) and one file too many are refused", async () => {
    const { uploads, ws } = await setup({ uploadMax: 1000 });
    assert.equal(uploads.maxBytes, 1000);
    assert.equal(uploads.refusal({ size: 0 }), "empty");
    assert.equal(uploads.refusal({ size: 1001 }), "too_large");
    assert.equal(uploads.refusal({ size: 1000 }), null);
    assert.throws(() => uploads.add(fakeFile("big.bin", 1001)), RangeError);
    for (let i = 0; i < FILES_PER_MESSAGE; i += 1) {
      uploads.add(fakeFile(`f${i}`, 10));
    }
    assert.equal(uploads.refusal({ size: 10 }), "too_many");
    assert.equal(ws().sentOfType("upload.start").length, UPLOADS_AT_ONCE, "the rest wait their turn");
  });
});
