#!/usr/bin/env python3
"""A bot that answers commands: `!roll` (or `!roll 3d6`), `!time` and `!help`.

    python -m chat.bridge --room general --json -- python3 examples/dice_bot.py

It reads the messages the bridge writes on stdin, as JSON objects (`--json`) or as
`author: body` lines, and prints one line per answer, flushed at once: a program whose output
sits in a buffer answers late, or never.
"""

import json
import random
import re
import sys
from datetime import UTC, datetime

ROLL = re.compile(r"!roll(?:\s+(\d{1,2})d(\d{1,3}))?\s*$")
HELP = "Commands: !roll [NdM] (e.g. !roll 3d6), !time, !help"


def parse(line: str) -> tuple[str, str]:
    """The author and body of a message, from either format the bridge writes."""
    if line.startswith("{"):
        message = json.loads(line)
        return message["author"], message["body"]
    author, _, body = line.partition(": ")
    return author, body


def answer(author: str, body: str) -> str | None:
    body = body.strip()
    if match := ROLL.match(body):
        count, sides = int(match[1] or 1), int(match[2] or 6)
        if not (1 <= count <= 20 and 2 <= sides <= 100):
            return f"@{author} I roll 1 to 20 dice of 2 to 100 sides."
        rolls = [random.randint(1, sides) for _ in range(count)]
        shown = " + ".join(map(str, rolls))
        return f"@{author} rolled {count}d{sides}: {shown} = {sum(rolls)}"
    if body == "!time":
        return f"It is {datetime.now(UTC):%H:%M:%S} UTC."
    if body == "!help":
        return HELP
    return None


def main() -> None:
    print("dice bot ready", file=sys.stderr, flush=True)
    for line in sys.stdin:
        author, body = parse(line.rstrip("\n"))
        reply = answer(author, body)
        if reply is not None:
            print(reply, flush=True)


if __name__ == "__main__":
    main()
