"""A raw `websockets` broadcast server, as a peer for the product: the least a Python chat
server can do.

Rooms are URL paths; each text message received is sent to every socket of its room, the
sender's included, with `websockets.broadcast` (no backpressure, no copy per socket). One
process, no Redis, no database: what remains is the cost of WebSocket framing in Python.
`GET /healthz` answers 200 so the benchmark knows it is up.

Run: python -m bench.peers.raw --port 8765
"""

import argparse
import asyncio
from collections import defaultdict
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.http11 import Request, Response

rooms: defaultdict[str, set[ServerConnection]] = defaultdict(set)


def health(connection: ServerConnection, request: Request) -> Response | None:
    if request.path == "/healthz":
        return connection.respond(HTTPStatus.OK, "ok\n")
    return None


async def handler(connection: ServerConnection) -> None:
    room = rooms[connection.request.path]
    room.add(connection)
    try:
        async for message in connection:
            broadcast(room, message)
    finally:
        room.discard(connection)
        if not room:
            rooms.pop(connection.request.path, None)


async def main(host: str, port: int) -> None:
    # Compression off and the same message size limit as Daphne is given.
    async with serve(
        handler, host, port, process_request=health, compression=None, max_size=262144
    ) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    options = parser.parse_args()
    asyncio.run(main(options.host, options.port))
