"""A text frame built once and written straight to Daphne's socket.

Daphne sends each frame through its `handle_reply` coroutine, autobahn's `sendMessage` (the
text encoded again, the header packed, a dozen checks and counters) and Twisted's `write`,
which never writes at once: it registers the socket for writing with the event loop (an
`epoll_ctl`), writes on the loop's next turn and unregisters it (another). For a room event
that each of a worker's sockets gets, that path was most of the worker's CPU per delivered
copy (docs/performance.md, the sixth pass). A server's frames are not masked, so an event's
frame is the same bytes for every socket: built once, and written with one `send` to each
socket whose transport holds nothing unsent (else queued behind it in Twisted's buffer).

Only where autobahn would have written exactly these bytes: the socket open, no compression,
fragmentation, frame logging or synchronous writes queued, the frame within Daphne's size
limit, and a plain TCP or Unix socket under the protocol (not TLS, whose bytes differ).
Anything else goes Daphne's way. autobahn's traffic counters, which nothing here reads, do
not count these frames.
"""

import struct
from collections.abc import Callable
from typing import Any

from autobahn.websocket.protocol import WebSocketProtocol
from twisted.internet.abstract import FileDescriptor

from . import backpressure

OPEN = WebSocketProtocol.STATE_OPEN


def text_frame(text: str) -> bytes:
    """One unfragmented, unmasked text frame (RFC 6455, section 5.2)."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 0x10000:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


def _header_size(frame: bytes) -> int:
    return 2 if frame[1] < 126 else 4 if frame[1] == 126 else 10


def protocol_of(send: Callable[..., Any]) -> WebSocketProtocol | None:
    """Daphne's protocol behind its `send` (`functools.partial(server.handle_reply,
    protocol)`), where its transport is a plain socket; None under any other server or
    transport (Channels' test communicator, TLS)."""
    protocol = backpressure.protocol_of(send)
    if not isinstance(protocol, WebSocketProtocol):
        return None
    transport = protocol.transport
    if not isinstance(transport, FileDescriptor) or getattr(transport, "TLS", True):
        return None
    return protocol if hasattr(transport, "socket") else None


def write(protocol: WebSocketProtocol, message: dict[str, Any], unsent: int) -> bool:
    """Write a `websocket.send` with `text` as autobahn would; False where only Daphne's way
    can (the caller then sends it that way). `unsent`: the transport's backlog, as the
    caller measured it (`backpressure.backlog`). The frame is kept in `message`, which the
    fan-out shares between all the sockets of a room event."""
    text = message.get("text")
    if (
        text is None
        or protocol.state != OPEN
        or protocol._perMessageCompress is not None
        or protocol.send_queue
        or protocol.autoFragmentSize
        or protocol.logFrames
        or protocol.trackedTimings
    ):
        return False
    frame = message.get("frame")
    if frame is None:
        frame = message["frame"] = text_frame(text)
    if 0 < protocol.maxMessagePayloadSize < len(frame) - _header_size(frame):
        return False  # autobahn refuses it; Daphne's way says so
    transport = protocol.transport
    if not transport.connected or transport.disconnecting:
        return False
    if unsent:
        transport.write(frame)  # behind what waits, in order
        return True
    try:
        sent = transport.socket.send(frame)
    except OSError:
        sent = 0  # it would block, or the peer is gone: Twisted's own write finds out
    if sent < len(frame):
        transport.write(frame[sent:])
    return True
