"""A bound on what the server holds for a socket that does not read.

Daphne hands every frame to Twisted, whose transport buffers without limit what the peer has
not taken yet: a client that stops reading while its room is busy grew a worker by about 1 MB
a second, until Daphne's ping timeout, and ten of them starved everyone else on the worker.
A socket whose backlog passes `CHAT_SOCKET_BUFFER_MAX` bytes is dropped instead (its client
reconnects and catches up from the database, like after any other drop).

Daphne passes its application `send = functools.partial(server.handle_reply, protocol)`; the
protocol's transport is the Twisted one. Under other servers (Channels' test communicator) no
transport is found and nothing is measured.
"""

from collections.abc import Callable
from typing import Any

# What Daphne's protocol (autobahn) raises for a frame sent after the close handshake began: a
# room event relayed to a socket that is going away, which is no fault of anyone's.
from autobahn.exception import Disconnected as Closed  # noqa: F401 (re-exported)


def protocol_of(send: Callable[..., Any]) -> Any | None:
    """Daphne's protocol object behind its `send`; None under other servers."""
    args = getattr(send, "args", ())
    return args[0] if args else None


def transport_of(send: Callable[..., Any]) -> Any | None:
    """The TCP transport under Daphne's `send`, past any protocol wrappers (Twisted's
    `ProtocolWrapper` keeps the real one in `.transport`)."""
    transport = getattr(protocol_of(send), "transport", None)
    for _ in range(4):
        if transport is None or hasattr(transport, "_tempDataLen"):
            return transport
        transport = getattr(transport, "transport", None)
    return None


def backlog(transport: Any) -> int:
    """Bytes written to the socket's transport and not yet taken by the peer."""
    return len(transport.dataBuffer) - transport.offset + transport._tempDataLen


def drop(transport: Any) -> None:
    """Abort the connection: a close frame would only queue behind what the peer is not
    reading. Daphne then tells the application it disconnected."""
    transport.abortConnection()
