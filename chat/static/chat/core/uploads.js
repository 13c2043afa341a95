/*
 * Files on their way into a room, over the room's socket (contract "Files"; chat/uploads.py):
 *
 *   upload.start {name, size}    -> upload.started {upload, chunk}
 *   binary frames: the upload's id (16 bytes) + the chunk's offset (8 bytes, big-endian) + at
 *   most `chunk` bytes, in order -> upload.progress {upload, received} for each
 *   upload.finish {upload}       -> upload.done {attachment}
 *   upload.cancel {upload}       -> ok
 *
 * The queue takes anything Blob-like (`name`, `size`, `type`, `slice()` whose result has
 * `arrayBuffer()`): a File picked, dropped or pasted. It runs UPLOADS_AT_ONCE uploads at a
 * time; an upload sends its chunks while the socket's bufferedAmount stays under
 * UPLOAD_BUFFERED and the bytes the server has not acknowledged under UPLOAD_WINDOW, and
 * finishes once the server holds every byte. Progress is what the server acknowledged.
 *
 * A socket that drops takes its uploads with it (the server deletes what it had): they go
 * back to the queue and start again from the beginning once the room's socket is ready. A
 * refusal fails the entry (a view shows why, and may retry it); `rate_limited` and
 * `unavailable` at the start wait and try again. Nothing here touches the DOM.
 */
import { backoffDelay } from "./backoff.js";
import {
  FILES_PER_MESSAGE,
  RETRY_MARGIN,
  UPLOADS_AT_ONCE,
  UPLOAD_BUFFERED,
  UPLOAD_MAX,
  UPLOAD_POLL,
  UPLOAD_WINDOW,
} from "./constants.js";
import { Emitter } from "./emitter.js";
import { Hold } from "./hold.js";
import { DISCONNECTED } from "./requests.js";

/** A chunk's header: the upload's 16-byte id and its 8-byte offset. */
export const CHUNK_HEADER = 16 + 8;

/** The chunk size the server names in `upload.started`, should it name none. */
const DEFAULT_CHUNK = 64 * 1024;

/** Refusals of `upload.start` that pass by themselves: it is asked again later. */
const RETRIED = new Set(["rate_limited", "unavailable"]);

/** What an entry is doing while the server holds (or is about to hold) its upload. */
const RUNNING = new Set(["starting", "sending", "finishing"]);

/** The code of an entry whose file could not be read (it was moved, deleted, revoked). */
export const UNREADABLE = "unreadable";

/**
 * An upload's hex id as its 16 raw bytes.
 * @param {string} hex
 * @returns {Uint8Array|null} null unless it is 32 hex digits
 */
export function idBytes(hex) {
  if (typeof hex !== "string" || !/^[0-9a-fA-F]{32}$/.test(hex)) {
    return null;
  }
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i += 1) {
    bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  }
  return bytes;
}

/**
 * One binary frame: the upload's id, the offset (big-endian), the data.
 * @param {Uint8Array} id 16 bytes
 * @param {number} offset
 * @param {Uint8Array} data
 * @returns {Uint8Array}
 */
export function chunkFrame(id, offset, data) {
  const frame = new Uint8Array(CHUNK_HEADER + data.byteLength);
  frame.set(id, 0);
  new DataView(frame.buffer).setBigUint64(16, BigInt(offset), false);
  frame.set(data, CHUNK_HEADER);
  return frame;
}

/**
 * @typedef {object} UploadEntry what a view renders as a file waiting to be sent (read only)
 * @property {string} key this queue's name for it
 * @property {string} name
 * @property {number} size bytes
 * @property {string} type the browser's guess of its type ("" when it has none)
 * @property {Blob} file
 * @property {"queued"|"starting"|"sending"|"finishing"|"waiting"|"done"|"failed"} state
 *   queued: waits for the socket or its turn; starting: `upload.start` sent; sending: chunks
 *   going out; finishing: `upload.finish` sent; waiting: refused for now, started again at
 *   `retryAt`; done: uploaded (`attachment`); failed: refused for good (`error`)
 * @property {number} received bytes the server acknowledged
 * @property {number} sent bytes handed to the socket
 * @property {object|null} attachment the contract's attachment object, once done
 * @property {{code: string, message: string}|null} error while failed
 * @property {number|null} retryAt ms since the epoch, while waiting
 */

/**
 * Events: "change" `{kind, entry}` with kind "added", "updated" (its state or error changed),
 * "progress" (`received` or `sent` moved) or "removed" (cancelled, or taken for a message).
 */
export class Uploads extends Emitter {
  #request;
  #sendBinary;
  #bufferedAmount;
  #deps;
  #maxBytes;
  #entries = [];
  #runs = new Map(); // entry -> its current attempt: {upload, id, chunk, offset, pumping, timer}
  #active = false;
  #hold; // after a `rate_limited` start: no upload starts before it fires
  #failures = 0;
  #last = 0;

  /**
   * @param {object} options
   * @param {(frame: object) => Promise<object>} options.request Link#request
   * @param {(data: Uint8Array) => boolean} options.sendBinary Link#sendBinary
   * @param {() => number} options.bufferedAmount the socket's bufferedAmount
   * @param {(fn: () => void, ms: number) => any} options.setTimeout
   * @param {(id: any) => void} options.clearTimeout
   * @param {() => number} options.now
   * @param {() => number} options.random
   * @param {number} [options.maxBytes] the largest file the server takes
   */
  constructor({ request, sendBinary, bufferedAmount, setTimeout, clearTimeout, now, random, maxBytes = UPLOAD_MAX }) {
    super();
    this.#request = request;
    this.#sendBinary = sendBinary;
    this.#bufferedAmount = bufferedAmount;
    this.#deps = { setTimeout, clearTimeout, now, random };
    this.#hold = new Hold(this.#deps, {
      onChange: (entry) => this.emit("change", { kind: "updated", entry }),
      onOver: () => this.#pump(),
    });
    this.#maxBytes = maxBytes;
  }

  /** @returns {UploadEntry[]} in the order they were added */
  get entries() {
    return [...this.#entries];
  }

  /** The largest file the server takes, in bytes. */
  get maxBytes() {
    return this.#maxBytes;
  }

  /** How many entries are not done yet (a message waits for them). */
  get pending() {
    return this.#entries.filter((e) => e.state !== "done").length;
  }

  /**
   * Why a file cannot be added, before a byte is sent; null when it can.
   * @param {{size: number}} file
   * @returns {"empty"|"too_large"|"too_many"|null}
   */
  refusal(file) {
    if (!(file.size > 0)) {
      return "empty";
    }
    if (file.size > this.#maxBytes) {
      return "too_large";
    }
    if (this.#entries.length >= FILES_PER_MESSAGE) {
      return "too_many";
    }
    return null;
  }

  /**
   * Queue a file; it uploads as soon as the socket is ready and its turn comes.
   * @param {Blob & {name?: string}} file one that refusal() accepts
   * @returns {UploadEntry}
   */
  add(file) {
    const why = this.refusal(file);
    if (why) {
      throw new RangeError(`The file cannot be uploaded: ${why}`);
    }
    const entry = {
      key: `u${++this.#last}`,
      name: typeof file.name === "string" && file.name ? file.name : "file",
      size: file.size,
      type: typeof file.type === "string" ? file.type : "",
      file,
      state: "queued",
      received: 0,
      sent: 0,
      attachment: null,
      error: null,
      retryAt: null,
    };
    this.#entries.push(entry);
    this.emit("change", { kind: "added", entry });
    this.#pump();
    return entry;
  }

  /**
   * Drop an entry, whatever it is doing: an upload in progress is cancelled on the server.
   * @param {string} key
   * @returns {boolean} whether there was one
   */
  cancel(key) {
    const entry = this.#find(key);
    if (!entry) {
      return false;
    }
    this.#stop(entry, { cancel: true });
    if (entry.state === "waiting") {
      this.#hold.clear();
    }
    this.#entries.splice(this.#entries.indexOf(entry), 1);
    this.emit("change", { kind: "removed", entry });
    this.#pump();
    return true;
  }

  /**
   * Try a failed entry again, from the beginning.
   * @param {string} key
   * @returns {boolean} false unless that entry had failed
   */
  retry(key) {
    const entry = this.#find(key);
    if (entry?.state !== "failed" || entry.error?.code === UNREADABLE) {
      return false;
    }
    this.#reset(entry);
    this.emit("change", { kind: "updated", entry });
    this.#pump();
    return true;
  }

  /**
   * The attachments of every finished upload, for a message; they leave the queue.
   * @returns {object[]} attachment objects, in the order the files were added
   */
  take() {
    const done = this.#entries.filter((e) => e.state === "done");
    this.#entries = this.#entries.filter((e) => e.state !== "done");
    for (const entry of done) {
      this.emit("change", { kind: "removed", entry });
    }
    return done.map((e) => e.attachment);
  }

  /**
   * A frame no request claimed: `upload.progress`, and an `error` that names an upload (a
   * chunk refused: the server ended that upload).
   * @param {object} frame
   * @returns {boolean} whether it was an upload's (and is consumed)
   */
  handle(frame) {
    if (frame.type === "upload.progress") {
      const entry = this.#byUpload(frame.upload);
      const run = entry && this.#runs.get(entry);
      if (run && Number.isSafeInteger(frame.received) && frame.received > entry.received) {
        entry.received = Math.min(frame.received, entry.size);
        this.emit("change", { kind: "progress", entry });
        if (entry.received >= entry.size) {
          this.#finish(entry, run);
        } else {
          this.#send(entry, run);
        }
      }
      return true; // an acknowledgement of an upload given up: nothing to do
    }
    if (frame.type === "error" && "upload" in frame && !("ref" in frame)) {
      const entry = this.#byUpload(frame.upload);
      if (entry) {
        this.#stop(entry, { cancel: false }); // the server ended it already
        this.#fail(entry, frame.code, frame.message);
        this.#pump();
      }
      return true;
    }
    return false;
  }

  /** The socket is ready: start what waits. */
  resume() {
    this.#active = true;
    this.#hold.resume(this.#entries);
    this.#pump();
  }

  /**
   * The socket is gone, and the server dropped every upload it held for it: each one in
   * progress goes back to the queue, to start again from its first byte after resume().
   */
  pause() {
    this.#active = false;
    this.#hold.clear();
    for (const entry of this.#entries) {
      if (RUNNING.has(entry.state)) {
        this.#stop(entry, { cancel: false });
        this.#reset(entry);
        this.emit("change", { kind: "updated", entry });
      }
    }
  }

  // ------------------------------------------------------------- the exchange

  #find(key) {
    return this.#entries.find((e) => e.key === key);
  }

  #byUpload(upload) {
    if (typeof upload !== "string") {
      return undefined;
    }
    return this.#entries.find((e) => this.#runs.get(e)?.upload === upload);
  }

  /** Start queued entries while fewer than UPLOADS_AT_ONCE run. */
  #pump() {
    while (this.#active && !this.#hold.held) {
      const running = this.#entries.filter((e) => RUNNING.has(e.state)).length;
      const next = this.#entries.find((e) => e.state === "queued");
      if (!next || running >= UPLOADS_AT_ONCE) {
        return;
      }
      this.#start(next);
    }
  }

  #start(entry) {
    const run = { upload: null, id: null, chunk: DEFAULT_CHUNK, offset: 0, pumping: false, timer: null };
    this.#runs.set(entry, run);
    entry.state = "starting";
    this.emit("change", { kind: "updated", entry });
    this.#request({ type: "upload.start", name: entry.name, size: entry.size }).then(
      (answer) => {
        if (this.#runs.get(entry) !== run) {
          this.#cancelOnServer(answer.upload); // cancelled meanwhile: free the server's slot
          return;
        }
        const id = idBytes(answer.upload);
        if (!id) {
          this.#stop(entry, { cancel: false });
          this.#fail(entry, "invalid", "upload.started without an upload id");
          this.#pump();
          return;
        }
        this.#failures = 0;
        run.upload = answer.upload;
        run.id = id;
        if (Number.isSafeInteger(answer.chunk) && answer.chunk > 0) {
          run.chunk = answer.chunk;
        }
        entry.state = "sending";
        this.emit("change", { kind: "updated", entry });
        this.#send(entry, run);
      },
      (error) => this.#refused(entry, run, error)
    );
  }

  /**
   * Send chunks while the socket's buffer and the unacknowledged window allow; an
   * acknowledgement, or the buffer's next poll, calls it again.
   */
  async #send(entry, run) {
    if (run.pumping || run.timer !== null) {
      return;
    }
    run.pumping = true;
    try {
      while (this.#runs.get(entry) === run && run.offset < entry.size) {
        if (run.offset - entry.received >= UPLOAD_WINDOW) {
          return; // the next `upload.progress` goes on
        }
        if (this.#bufferedAmount() > UPLOAD_BUFFERED) {
          run.timer = this.#deps.setTimeout(() => {
            run.timer = null;
            this.#send(entry, run);
          }, UPLOAD_POLL);
          return;
        }
        const end = Math.min(entry.size, run.offset + run.chunk);
        const data = new Uint8Array(await entry.file.slice(run.offset, end).arrayBuffer());
        if (this.#runs.get(entry) !== run) {
          return; // cancelled, or the socket dropped, while the file was read
        }
        if (data.byteLength !== end - run.offset) {
          throw new Error("the file changed while it was read");
        }
        if (!this.#sendBinary(chunkFrame(run.id, run.offset, data))) {
          return; // no socket: pause() comes with its "lost"
        }
        run.offset = end;
        entry.sent = end;
        this.emit("change", { kind: "progress", entry });
      }
    } catch (error) {
      if (this.#runs.get(entry) === run) {
        this.#stop(entry, { cancel: true });
        this.#fail(entry, UNREADABLE, String(error?.message ?? error));
        this.#pump();
      }
    } finally {
      run.pumping = false;
    }
  }

  #finish(entry, run) {
    if (entry.state !== "sending") {
      return;
    }
    entry.state = "finishing";
    this.emit("change", { kind: "updated", entry });
    this.#request({ type: "upload.finish", upload: run.upload }).then(
      (answer) => {
        if (this.#runs.get(entry) !== run) {
          return;
        }
        this.#stop(entry, { cancel: false });
        if (!answer.attachment || typeof answer.attachment.id !== "string") {
          this.#fail(entry, "invalid", "upload.done without an attachment");
        } else {
          entry.attachment = answer.attachment;
          entry.state = "done";
          this.emit("change", { kind: "updated", entry });
        }
        this.#pump();
      },
      (error) => this.#refused(entry, run, error)
    );
  }

  #refused(entry, run, error) {
    if (this.#runs.get(entry) !== run) {
      return; // cancelled, or already put back by pause()
    }
    const starting = entry.state === "starting";
    this.#stop(entry, { cancel: !starting && error.code !== DISCONNECTED });
    if (error.code === DISCONNECTED) {
      this.#reset(entry); // went with the socket: again after resume()
      this.emit("change", { kind: "updated", entry });
    } else if (starting && RETRIED.has(error.code)) {
      const delay =
        error.retry_after !== null && error.retry_after !== undefined
          ? error.retry_after * 1000 + RETRY_MARGIN
          : backoffDelay(this.#failures++, this.#deps.random);
      entry.retryAt = this.#deps.now() + delay;
      this.#hold.wait(entry, delay);
      this.emit("change", { kind: "updated", entry });
    } else {
      this.#fail(entry, error.code, error.message);
    }
    this.#pump();
  }

  /** Forget the entry's attempt; `cancel`: tell the server to drop what it holds of it. */
  #stop(entry, { cancel }) {
    const run = this.#runs.get(entry);
    if (!run) {
      return;
    }
    this.#runs.delete(entry);
    if (run.timer !== null) {
      this.#deps.clearTimeout(run.timer);
      run.timer = null;
    }
    if (cancel && entry.state !== "finishing") {
      this.#cancelOnServer(run.upload);
    }
  }

  #cancelOnServer(upload) {
    if (typeof upload === "string" && this.#active) {
      this.#request({ type: "upload.cancel", upload }).catch(() => {}); // gone with the socket anyway
    }
  }

  #fail(entry, code, message) {
    entry.state = "failed";
    entry.error = { code: String(code || "invalid"), message: message || "" };
    this.emit("change", { kind: "updated", entry });
  }

  #reset(entry) {
    entry.state = "queued";
    entry.received = 0;
    entry.sent = 0;
    entry.error = null;
    entry.retryAt = null;
  }

}
