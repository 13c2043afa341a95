import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { insideOpenFence, oneLine } from "../../chat/static/chat/core/text.js";

describe("oneLine", () => {
  test("folds white space and cuts with an ellipsis, never inside an emoji", () => {
    assert.equal(oneLine("  hello\n\n  world  ", 50), "hello world");
    assert.equal(oneLine("abcdefghij", 5), "abcd…");
    assert.equal(oneLine("😀😀😀😀😀😀", 3), "😀😀…");
    assert.equal(oneLine(null, 5), "");
  });
});

describe("insideOpenFence", () => {
  test("no fence, or a closed one: Enter sends", () => {
    assert.equal(insideOpenFence("hello"), false);
    assert.equal(insideOpenFence("```\ncode\n```"), false);
    assert.equal(insideOpenFence("~~~\ncode\n~~~~"), false);
  });

  test("an open fence: Enter is a new line, on the fence line itself too", () => {
    assert.equal(insideOpenFence("```"), true);
    assert.equal(insideOpenFence("```js"), true);
    assert.equal(insideOpenFence("look:\n```python\ndef f():"), true);
    assert.equal(insideOpenFence("  ~~~\nx"), true);
  });

  test("only what comes before the caret counts", () => {
    const text = "```\ncode\n```";
    assert.equal(insideOpenFence(text, 8), true); // after "code"
    assert.equal(insideOpenFence(text, text.length), false);
  });

  test("a fence closes only with its own kind, at least as long, with nothing after it", () => {
    assert.equal(insideOpenFence("````\n```"), true);
    assert.equal(insideOpenFence("```\n~~~"), true);
    assert.equal(insideOpenFence("```\n``` not a close"), true);
    assert.equal(insideOpenFence("```\n````"), false);
  });

  test("inline code and indented text are not fences", () => {
    assert.equal(insideOpenFence("```inline```"), false);
    assert.equal(insideOpenFence("    ```"), false);
    assert.equal(insideOpenFence("use ``` to start a block"), false);
  });
});
