/*
 * Requests and their answers. Every frame sent through `request` carries a fresh `ref`; the
 * server answers it exactly once with a frame carrying the same `ref` (`ok`, `history`,
 * `pong`, `report.ack`, ... or `error`). That `ref` is the only thing that matches an answer
 * to its request: broadcasts carry no `ref`, and answers come in no fixed order.
 */

/** The code of a request that lost its socket, or found none: it may or may not have taken effect. */
export const DISCONNECTED = "disconnected";

/** Why a request failed: the server's `error` frame, or DISCONNECTED. */
export class RequestError extends Error {
  /**
   * @param {string} code the contract's error code (`invalid`, `rate_limited`, `muted`...) or DISCONNECTED
   * @param {string} [message] the server's words (English; views translate by `code`)
   * @param {number|null} [retryAfter] seconds, for `rate_limited` (and `unavailable` if given)
   */
  constructor(code, message, retryAfter = null) {
    super(message || code);
    this.name = "RequestError";
    this.code = code;
    this.retry_after = typeof retryAfter === "number" ? retryAfter : null;
  }
}

/** The request map of one session: refs to the promises waiting for their answers. */
export class Requests {
  #send;
  #pending = new Map();
  #last = 0;

  /**
   * @param {(frame: object) => boolean} send sends a frame; false when there is no socket
   */
  constructor(send) {
    this.#send = send;
  }

  /** How many requests wait for an answer. */
  get size() {
    return this.#pending.size;
  }

  /**
   * Send `frame` with a new `ref`.
   * @param {object} frame without `ref`
   * @returns {Promise<object>} the answer frame; rejects with a RequestError for an `error`
   *   answer, or DISCONNECTED when there is no socket or it drops before the answer
   */
  request(frame) {
    // Never reused: an answer can never be taken for that of a later request.
    const ref = String(++this.#last);
    return new Promise((resolve, reject) => {
      this.#pending.set(ref, { resolve, reject });
      if (!this.#send({ ...frame, ref })) {
        this.#pending.delete(ref);
        reject(new RequestError(DISCONNECTED));
      }
    });
  }

  /**
   * Settle the request a frame answers.
   * @param {object} frame any frame from the server
   * @returns {boolean} true when it answered a pending request (and is consumed)
   */
  handle(frame) {
    const waiting = typeof frame.ref === "string" ? this.#pending.get(frame.ref) : undefined;
    if (!waiting) {
      return false;
    }
    this.#pending.delete(frame.ref);
    if (frame.type === "error") {
      waiting.reject(new RequestError(frame.code, frame.message, frame.retry_after));
    } else {
      waiting.resolve(frame);
    }
    return true;
  }

  /** The socket is gone: no answer will come; every pending request fails with DISCONNECTED. */
  failAll() {
    const waiting = [...this.#pending.values()];
    this.#pending.clear();
    for (const { reject } of waiting) {
      reject(new RequestError(DISCONNECTED));
    }
  }
}
