"""A bot written against chat/client.py: answers `!ping` with `pong` in one room.

    CHAT_URL=http://127.0.0.1:8000 CHAT_TOKEN=chat_... python3 examples/ping_bot.py general

Run from the repository's root (it imports `chat.client`, which needs only `websockets`).
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from chat.client import ChatClient


async def main(room: str) -> None:
    site = os.environ["CHAT_URL"].rstrip("/")
    socket = site.replace("http", "ws", 1) + f"/ws/rooms/{room}/"
    client = ChatClient([socket], token=os.environ["CHAT_TOKEN"])
    await client.start()  # ChatClosed for a refused token (4401) or room (4403, 4404)
    client.skip()  # what was said before it came is not its to answer
    print("ping bot ready", file=sys.stderr, flush=True)
    while True:
        await client.wait_for(lambda c: c.has_new())
        for message in client.take_new():  # each message once, in id order
            if message["author"] != client.me["username"] and message["body"] == "!ping":
                await client.send(f"pong, @{message['author']}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "general"))
