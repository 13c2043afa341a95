/** A minimal event emitter: the core reports every change through one, never to the page. */
export class Emitter {
  #handlers = new Map();

  /**
   * Call `handler(payload)` on each `type` event.
   * @param {string} type
   * @param {(payload: any) => void} handler
   * @returns {() => void} a function that unsubscribes
   */
  on(type, handler) {
    if (!this.#handlers.has(type)) {
      this.#handlers.set(type, new Set());
    }
    this.#handlers.get(type).add(handler);
    return () => this.#handlers.get(type).delete(handler);
  }

  /**
   * @param {string} type
   * @param {any} [payload]
   */
  emit(type, payload) {
    // A copy: a handler may unsubscribe (itself or another) while we go through them.
    for (const handler of [...(this.#handlers.get(type) ?? [])]) {
      handler(payload);
    }
  }
}
