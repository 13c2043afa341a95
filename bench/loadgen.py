"""The load generator: client processes, each with its own asyncio loop and its share of the
sockets, driven step by step from the benchmark's main process.

Why processes: one Python process parsing WebSocket frames tops out well below what a fan-out
to hundreds of sockets delivers, so the clients are split over `--clients` processes (and their
CPU time is measured like the servers'). Why step by step: the main process samples the
servers' CPU between steps, and the receivers need to know how much was sent before they can
say what was lost.

Each message body is a small JSON object `{"st": step, "s": sender, "q": seq, "t": sent_at}`,
with `sent_at` from `time.monotonic()`, which on Linux is one clock for every process of the
machine, so receivers in other processes compute the latency directly.

The three targets speak different frames; an adapter per target turns a body into a frame to
send and a received frame back into a body (or None for frames that are not chat messages,
such as the product's presence updates).

Scenario F (the product only) also counts `activity` frames: a socket whose `watches` name
other rooms of its user hears `{"type": "activity", "room", "id", "author"}` for each new
message there. That frame has no body, so no send time: each client process records the
(id, receive time) of every activity it receives, and the (id, send time) of each message its
senders sent, learnt from the sender's own copy of it (the sender's socket is on the room and
hears it as `message`, with the id the server gave it and the send time in the body). The main
process joins the two: an activity's latency is its receive time minus the time its message
was sent, the same clock and definition as a message's.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
import traceback
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

OPEN_TIMEOUT = 30.0


@dataclass(frozen=True)
class SocketSpec:
    """One socket to open: where, as whom, and in which room (the key the receivers use to
    know which senders they hear)."""

    index: int
    url: str
    room: str
    kind: str  # "product", "tutorial" or "raw"
    cookie: str | None = None
    origin: str | None = None
    # Scenario F: the user's other rooms, whose new messages this socket hears as `activity`
    # (its own room excluded), and the user's name (nobody hears of their own messages).
    watches: tuple[str, ...] = ()
    username: str = ""


# Adapters: body <-> frame, per target.


def encode_product(body: str, client_id: str) -> str:
    return json.dumps({"type": "message.send", "body": body, "client_id": client_id})


def decode_product(text: str) -> tuple[str | None, str, dict[str, Any] | None]:
    frame = json.loads(text)
    kind = frame.get("type", "?")
    if kind == "message":
        return frame["message"]["body"], kind, frame
    return None, kind, frame


def encode_tutorial(body: str, client_id: str) -> str:
    return json.dumps({"body": body})


def decode_tutorial(text: str) -> tuple[str | None, str, dict[str, Any] | None]:
    return json.loads(text)["body"], "message", None


def encode_raw(body: str, client_id: str) -> str:
    return body


def decode_raw(text: str) -> tuple[str | None, str, dict[str, Any] | None]:
    return text, "message", None


Decode = Callable[[str], tuple[str | None, str, dict[str, Any] | None]]
ADAPTERS: dict[str, tuple[Callable[[str, str], str], Decode]] = {
    "product": (encode_product, decode_product),
    "tutorial": (encode_tutorial, decode_tutorial),
    "raw": (encode_raw, decode_raw),
}


# The client process.


@dataclass
class Sock:
    spec: SocketSpec
    ws: ClientConnection
    reader: asyncio.Task | None = None
    closed_code: int | None = None  # set when the connection ended
    closing: bool = False  # we closed it ourselves
    seen: dict[int, bytearray] = field(default_factory=dict)  # sender -> seq bitmap
    last: dict[int, int] = field(default_factory=dict)  # sender -> highest seq
    activity_seen: set[int] = field(default_factory=set)  # message ids heard as `activity`
    watching: frozenset[str] = frozenset()  # rooms it should hear `activity` of


@dataclass
class StepCounters:
    """What the receivers of this process saw during the current step."""

    step: int = -1
    unique: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    late: int = 0  # messages of an earlier step, after that step's drain ended
    latencies: array = field(default_factory=lambda: array("d"))
    last_receive: float = 0.0
    frames: Counter = field(default_factory=Counter)  # by frame type
    errors: Counter = field(default_factory=Counter)  # product `error` frames, by code
    last_frame_at: float = 0.0
    # Scenario F: `activity` frames (unique per socket and id), with their ids and receive
    # times; the send time of each message of this process's senders, by id.
    activity_unique: int = 0
    activity_duplicates: int = 0
    activity_stray: int = 0  # of a room not watched, of the socket's own room, or of its user
    activity_ids: array = field(default_factory=lambda: array("q"))
    activity_times: array = field(default_factory=lambda: array("d"))
    sent_ids: array = field(default_factory=lambda: array("q"))
    sent_times: array = field(default_factory=lambda: array("d"))


class ClientProcess:
    """The sockets of one client process, and the commands the main process sends it."""

    def __init__(self) -> None:
        self.socks: list[Sock] = []
        self.counters = StepCounters()
        self.sender_rooms: dict[int, str] = {}
        self.room_senders: dict[str, list[int]] = {}

    # Receiving.

    def on_frame(self, sock: Sock, text: str, decode: Decode) -> None:
        now = time.monotonic()
        c = self.counters
        c.last_frame_at = now
        try:
            body, kind, frame = decode(text)
        except (ValueError, KeyError, TypeError):
            c.frames["undecodable"] += 1
            return
        c.frames[kind] += 1
        if body is None:
            if kind == "error":
                c.errors[frame.get("code", "?") if frame else "?"] += 1
            elif kind == "activity" and frame is not None:
                self.on_activity(sock, frame, now)
            return
        try:
            payload = json.loads(body)
            step, sender, seq, sent_at = payload["st"], payload["s"], payload["q"], payload["t"]
        except (ValueError, KeyError, TypeError):
            c.frames["foreign"] += 1
            return
        if step != c.step:
            c.late += 1
            return
        bitmap = sock.seen.get(sender)
        if bitmap is None:
            bitmap = sock.seen[sender] = bytearray(1024)
        if seq >= len(bitmap):
            bitmap.extend(bytes(max(seq + 1 - len(bitmap), len(bitmap))))
        if bitmap[seq]:
            c.duplicates += 1
            return
        bitmap[seq] = 1
        c.unique += 1
        c.latencies.append(now - sent_at)
        if sender == sock.spec.index and sock.watching and frame is not None:
            # The sender's own copy: the id the server gave the message it sent at `sent_at`.
            c.sent_ids.append(frame["message"]["id"])
            c.sent_times.append(sent_at)
        c.last_receive = now
        previous = sock.last.get(sender, -1)
        if seq < previous:
            c.out_of_order += 1
        else:
            sock.last[sender] = seq

    def on_activity(self, sock: Sock, frame: dict[str, Any], now: float) -> None:
        c = self.counters
        message_id = frame["id"]
        if (
            frame.get("room") not in sock.watching
            or frame.get("room") == sock.spec.room
            or frame.get("author") == sock.spec.username
        ):
            c.activity_stray += 1
            return
        if message_id in sock.activity_seen:
            c.activity_duplicates += 1
            return
        sock.activity_seen.add(message_id)
        c.activity_unique += 1
        c.activity_ids.append(message_id)
        c.activity_times.append(now)
        c.last_receive = now

    async def read(self, sock: Sock) -> None:
        decode = ADAPTERS[sock.spec.kind][1]
        try:
            async for text in sock.ws:
                if isinstance(text, str):
                    try:
                        self.on_frame(sock, text, decode)
                    except Exception:  # a frame this code did not foresee: count, read on
                        self.counters.frames["unreadable"] += 1
        except ConnectionClosed:
            pass
        finally:
            rcvd = sock.ws.protocol.close_rcvd
            sock.closed_code = rcvd.code if rcvd is not None else 1006

    # Commands.

    async def cmd_open(
        self, specs: list[SocketSpec], concurrency: int, sender_rooms: dict[int, str]
    ) -> dict[str, Any]:
        """Open the sockets, `concurrency` handshakes at a time; a product socket counts as
        open once its `ready` frame arrived."""
        self.sender_rooms.update(sender_rooms)
        self.room_senders = {}
        for sender, room in self.sender_rooms.items():
            self.room_senders.setdefault(room, []).append(sender)
        gate = asyncio.Semaphore(max(1, concurrency))
        failures: Counter = Counter()
        durations = array("d")
        started = time.monotonic()

        async def open_one(spec: SocketSpec) -> None:
            async with gate:
                t0 = time.monotonic()
                try:
                    sock = await asyncio.wait_for(self._open(spec), OPEN_TIMEOUT)
                except ConnectionClosed as exc:
                    rcvd = exc.rcvd
                    failures[f"closed {rcvd.code if rcvd else 1006}"] += 1
                    return
                except Exception as exc:
                    failures[type(exc).__name__ + (f" {exc}"[:80] if str(exc) else "")] += 1
                    return
                durations.append(time.monotonic() - t0)
                self.socks.append(sock)

        await asyncio.gather(*(open_one(spec) for spec in specs))
        return {
            "opened": len(durations),
            "failed": dict(failures),
            "seconds": time.monotonic() - started,
            "handshake_seconds": durations.tobytes(),
        }

    async def _open(self, spec: SocketSpec) -> Sock:
        headers = {"Cookie": f"sessionid={spec.cookie}"} if spec.cookie else None
        ws = await connect(
            spec.url,
            additional_headers=headers,
            origin=spec.origin,  # type: ignore[arg-type]
            compression=None,  # no permessage-deflate: Daphne offers none, the raw peer would
            open_timeout=OPEN_TIMEOUT,
            ping_interval=None,  # the servers ping; a client ping timeout would blur "closed by"
            max_size=2**22,
            max_queue=256,
        )
        if spec.kind == "product":
            try:
                first = json.loads(await ws.recv())
            except BaseException:
                await ws.close()
                raise
            if first.get("type") != "ready":
                await ws.close()
                raise RuntimeError(f"first frame {first.get('type')!r}, not ready")
        sock = Sock(spec, ws, watching=frozenset(spec.watches) - {spec.room})
        sock.reader = asyncio.create_task(self.read(sock))
        return sock

    async def cmd_settle(self, quiet: float, limit: float) -> dict[str, Any]:
        """Wait until no frame arrived for `quiet` seconds (the presence and member updates
        that a crowd of joins sets off), at most `limit` seconds."""
        started = time.monotonic()
        self.counters.last_frame_at = started
        while time.monotonic() - started < limit:
            if time.monotonic() - self.counters.last_frame_at >= quiet:
                break
            await asyncio.sleep(0.1)
        return {"seconds": time.monotonic() - started, "frames": dict(self.counters.frames)}

    async def cmd_arm(self, step: int) -> None:
        """Reset the receivers for `step`. Every client process is armed before any sends, or
        the first messages could reach a process still counting the previous step."""
        self.counters = StepCounters(step=step)
        for sock in self.socks:
            sock.seen.clear()
            sock.last.clear()
            sock.activity_seen.clear()

    async def cmd_step(self, step: int, rates: dict[int, float], seconds: float) -> dict[str, Any]:
        """Send from this process's senders at their rate for `seconds`, open loop: a sender
        that falls behind sends at once, it never skips."""
        started = time.monotonic()
        senders = [s for s in self.socks if s.spec.index in rates and s.closed_code is None]
        results = await asyncio.gather(
            *(self._send(s, step, rates[s.spec.index], started, seconds) for s in senders)
        )
        sent = {s.spec.index: r[0] for s, r in zip(senders, results, strict=True)}
        lag = max((r[1] for r in results), default=0.0)
        return {"sent": sent, "max_lag": lag, "started": started, "ended": time.monotonic()}

    async def _send(
        self, sock: Sock, step: int, rate: float, start: float, seconds: float
    ) -> tuple[int, float]:
        encode = ADAPTERS[sock.spec.kind][0]
        interval = 1.0 / rate
        # Senders start spread over one interval (golden ratio steps), not all at once.
        offset = (sock.spec.index * 0.618034 % 1.0) * interval
        seq, lag = 0, 0.0
        sender = sock.spec.index
        while True:
            due = start + offset + seq * interval
            if due >= start + seconds:
                break
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
                now = time.monotonic()
            lag = max(lag, now - due)
            body = json.dumps({"st": step, "s": sender, "q": seq, "t": now}, separators=(",", ":"))
            try:
                await sock.ws.send(encode(body, f"{step}-{sender}-{seq}"))
            except ConnectionClosed:
                break
            seq += 1
        return seq, lag

    async def cmd_drain(self, sent: dict[int, int], quiet: float, cap: float) -> dict[str, Any]:
        """Wait until every receiver of this process has every message its room's senders
        sent in this step; give up when no new copy arrived for `quiet` seconds (what is
        missing then is lost, not late), or after `cap` seconds in all (a backlog that
        large is reported as lost too). Then report what arrived."""
        c = self.counters
        per_room = {
            room: sum(sent.get(s, 0) for s in senders)
            for room, senders in self.room_senders.items()
        }
        expected = sum(per_room.get(s.spec.room, 0) for s in self.socks)
        # Scenario F: each message in a room a socket watches (not its own room), but its
        # user's own messages, comes as one `activity`.
        activity_expected = sum(
            count
            for s in self.socks
            if s.watching
            for sender, count in sent.items()
            if sender != s.spec.index and self.sender_rooms.get(sender) in s.watching
        )
        started = time.monotonic()
        while c.unique + c.activity_unique < expected + activity_expected:
            now = time.monotonic()
            if now - max(started, c.last_receive) >= quiet or now - started >= cap:
                break
            if all(s.closed_code is not None for s in self.socks):
                break
            await asyncio.sleep(0.02)
        return {
            "expected": expected,
            "unique": c.unique,
            "duplicates": c.duplicates,
            "out_of_order": c.out_of_order,
            "late": c.late,
            "last_receive": c.last_receive,
            "latencies": c.latencies.tobytes(),
            "frames": dict(c.frames),
            "errors": dict(c.errors),
            "closed": self._closed(),
            "drain_seconds": time.monotonic() - started,
            "activity": {
                "expected": activity_expected,
                "unique": c.activity_unique,
                "duplicates": c.activity_duplicates,
                "stray": c.activity_stray,
                "ids": c.activity_ids.tobytes(),
                "times": c.activity_times.tobytes(),
                "sent_ids": c.sent_ids.tobytes(),
                "sent_times": c.sent_times.tobytes(),
            },
        }

    def _closed(self) -> dict[str, int]:
        codes = Counter(
            str(s.closed_code) for s in self.socks if s.closed_code is not None and not s.closing
        )
        return dict(codes)

    async def cmd_hold(self, seconds: float) -> dict[str, Any]:
        """Keep the sockets open and idle; report those the server closed meanwhile."""
        before = sum(1 for s in self.socks if s.closed_code is not None)
        await asyncio.sleep(seconds)
        open_now = sum(1 for s in self.socks if s.closed_code is None)
        return {
            "open_before": len(self.socks) - before,
            "open_after": open_now,
            "closed_by_server": self._closed(),
        }

    async def cmd_close_all(self) -> dict[str, Any]:
        """Close every socket at once (a closing handshake each), and forget them."""
        started = time.monotonic()
        for s in self.socks:
            s.closing = True
        await asyncio.gather(*(s.ws.close() for s in self.socks), return_exceptions=True)
        await asyncio.gather(*(s.reader for s in self.socks if s.reader), return_exceptions=True)
        count = len(self.socks)
        self.socks = []
        self.sender_rooms = {}
        self.room_senders = {}
        return {"closed": count, "seconds": time.monotonic() - started}


def client_main(conn: Connection) -> None:
    """Entry point of a client process: answer the main process's commands until `quit`."""
    asyncio.run(_serve(conn))


async def _serve(conn: Connection) -> None:
    client = ClientProcess()
    loop = asyncio.get_running_loop()
    while True:
        name, kwargs = await loop.run_in_executor(None, conn.recv)
        if name == "quit":
            await client.cmd_close_all()
            conn.send(("ok", None))
            return
        try:
            result = await getattr(client, f"cmd_{name}")(**kwargs)
        except Exception:
            conn.send(("error", traceback.format_exc()))
        else:
            conn.send(("ok", result))


class ClientPool:
    """The main process's handle on the client processes."""

    def __init__(self, processes: int) -> None:
        ctx = multiprocessing.get_context("spawn")  # no Django state inherited
        self.conns: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        for i in range(processes):
            parent, child = ctx.Pipe()
            process = ctx.Process(target=client_main, args=(child,), name=f"bench-client-{i}")
            process.start()
            child.close()
            self.conns.append(parent)
            self.processes.append(process)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes if p.pid is not None]

    def __len__(self) -> int:
        return len(self.conns)

    def call(self, name: str, per_client: list[dict[str, Any]] | dict[str, Any]) -> list[Any]:
        """Send a command to every client process at once, then collect their answers."""
        if isinstance(per_client, dict):
            per_client = [per_client] * len(self.conns)
        for conn, kwargs in zip(self.conns, per_client, strict=True):
            conn.send((name, kwargs))
        answers = []
        for conn in self.conns:
            status, result = conn.recv()
            if status != "ok":
                raise RuntimeError(f"client process failed in {name}:\n{result}")
            answers.append(result)
        return answers

    def split(self, specs: list[SocketSpec], workers: int) -> list[list[SocketSpec]]:
        """Socket i (on worker i % workers) goes to client (i // workers) % clients, so that
        no client talks to one worker only."""
        shares: list[list[SocketSpec]] = [[] for _ in self.conns]
        for spec in specs:
            shares[(spec.index // max(1, workers)) % len(shares)].append(spec)
        return shares

    def close(self) -> None:
        for conn, process in zip(self.conns, self.processes, strict=True):
            try:
                conn.send(("quit", {}))
                if conn.poll(30):
                    conn.recv()
            except (OSError, EOFError):
                pass
            process.join(10)
            if process.is_alive():
                process.terminate()
                process.join(5)
