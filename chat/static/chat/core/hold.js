/*
 * A queue's pause after a refusal that says when to try again (`rate_limited`, slow mode):
 * the refused entry waits, and nothing behind it goes before the timer fires. The outbox of
 * messages and the queue of uploads both keep one.
 */

export class Hold {
  #deps;
  #onChange;
  #onOver;
  #timer = null;

  /**
   * @param {{setTimeout: Function, clearTimeout: Function, now: () => number}} deps
   * @param {{onChange: (entry: object) => void, onOver: () => void}} hooks an entry waits or
   *   may go again; the wait is over (send what is queued)
   */
  constructor({ setTimeout, clearTimeout, now }, { onChange, onOver }) {
    this.#deps = { setTimeout, clearTimeout, now };
    this.#onChange = onChange;
    this.#onOver = onOver;
  }

  /** Whether an entry waits: nothing is sent meanwhile. */
  get held() {
    return this.#timer !== null;
  }

  /** Hold everything for `delay` ms, `entry` first (limits apply to the next ones too). */
  wait(entry, delay) {
    entry.state = "waiting";
    this.clear();
    this.#timer = this.#deps.setTimeout(() => {
      this.#timer = null;
      this.release(entry);
      this.#onOver();
    }, delay);
  }

  /** A wait is over: the entry may go again. */
  release(entry) {
    if (entry.state === "waiting") {
      entry.state = "queued";
      entry.retryAt = null;
      this.#onChange(entry);
    }
  }

  /** After a reconnect: the waiting entry waits what is left of its time, or goes now. */
  resume(entries) {
    const waiting = entries.find((e) => e.state === "waiting");
    if (waiting && !this.held) {
      const left = waiting.retryAt - this.#deps.now();
      if (left > 0) {
        this.wait(waiting, left);
      } else {
        this.release(waiting);
      }
    }
  }

  clear() {
    if (this.#timer !== null) {
      this.#deps.clearTimeout(this.#timer);
      this.#timer = null;
    }
  }
}
