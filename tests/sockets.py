"""Chat sockets for tests: one interface over Channels' communicator and a real network client."""

import asyncio
import json
from typing import Any

import websockets
from channels.testing import WebsocketCommunicator

# Frames that arrive on their own schedule; `expect` steps over them.
AMBIENT = {
    "presence",
    "members",
    "typing",
    "unread",
    "room",
    "activity",
    "conversation",
    "conversation.removed",
}


class ChatSocket:
    async def send_text(self, text: str) -> None:
        raise NotImplementedError

    async def recv_text(self, timeout: float) -> str:
        raise NotImplementedError

    async def send(self, type: str, **fields: Any) -> None:
        await self.send_text(json.dumps({"type": type, **fields}))

    async def recv(self, timeout: float = 3) -> dict[str, Any]:
        return json.loads(await self.recv_text(timeout))

    async def expect(self, type: str, timeout: float = 3) -> dict[str, Any]:
        """The next frame that is not ambient; it must be of `type`."""
        return await self._next(type, timeout, strict=True)

    async def recv_type(self, type: str, timeout: float = 3) -> dict[str, Any]:
        """The next frame of `type`, stepping over any other."""
        return await self._next(type, timeout, strict=False)

    async def _next(self, type: str, timeout: float, *, strict: bool) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            frame = await self.recv(timeout=max(left, 0.01))
            if frame["type"] == type:
                return frame
            assert not strict or frame["type"] in AMBIENT, f"expected {type!r}, got {frame}"

    async def expect_silence(self, timeout: float = 0.3) -> None:
        """No frame but ambient ones arrives within `timeout`."""
        try:
            while True:
                frame = await self.recv(timeout=timeout)
                assert frame["type"] in AMBIENT, f"expected nothing, got {frame}"
        except TimeoutError:
            return

    async def roundtrip(self) -> None:
        """Proves the socket still works: ping answers pong."""
        await self.send("ping")
        await self.expect("pong")


class CommunicatorSocket(ChatSocket):
    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator
        self.ready: dict[str, Any] = {}

    async def send_text(self, text: str) -> None:
        await self.communicator.send_input({"type": "websocket.receive", "text": text})

    async def send_bytes(self, data: bytes) -> None:
        await self.communicator.send_input({"type": "websocket.receive", "bytes": data})

    async def output(self, timeout: float) -> dict[str, Any]:
        """The application's next ASGI message. Unlike `receive_output`, a timeout here leaves
        the application running, so a test can wait for silence and go on."""
        app = self.communicator.future
        getter = asyncio.ensure_future(self.communicator.output_queue.get())
        done, _ = await asyncio.wait({getter, app}, timeout=timeout, return_when="FIRST_COMPLETED")
        if getter in done:
            return getter.result()
        getter.cancel()
        if app.done():
            app.result()  # the application's own exception, if it raised one
            raise AssertionError("the consumer exited")
        raise TimeoutError

    async def recv_text(self, timeout: float) -> str:
        output = await self.output(timeout)
        assert output["type"] == "websocket.send", f"expected a frame, got {output}"
        return output["text"]

    async def expect_close(self, timeout: float = 3) -> int:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            left = deadline - asyncio.get_running_loop().time()
            output = await self.output(max(left, 0.01))
            if output["type"] == "websocket.close":
                return output.get("code", 1000)

    async def close(self) -> None:
        """The client goes away; the consumer runs its disconnect handler."""
        if not self.communicator.future.done():
            await self.communicator.disconnect()


class NetworkSocket(ChatSocket):
    """A real WebSocket client, for tests against Daphne processes."""

    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection
        self.ready: dict[str, Any] = {}

    async def send_text(self, text: str) -> None:
        await self.connection.send(text)

    async def recv_text(self, timeout: float) -> str:
        return await asyncio.wait_for(self.connection.recv(), timeout)

    async def expect_close(self, timeout: float = 3) -> int:
        try:
            while True:
                await asyncio.wait_for(self.connection.recv(), timeout)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else 1006

    async def close(self) -> None:
        await self.connection.close()
