"""Scenario G, the product only: uploads (issue 14).

Two questions. How fast does one large file go in, through the room's socket (binary frames,
chat/uploads.py) and through `POST /api/rooms/<slug>/uploads/` (multipart, chat/api.py)? And
do the other sockets of the room keep their latency while such an upload runs? A file's bytes
pass through the same Daphne worker and event loop as the room's messages, so an upload that
held the loop (a synchronous write, a hash of 8 MiB) would show as latency of everyone else.

The socket upload is what the browser client does (chat/static/chat/core/uploads.js):
`upload.start {name, size}`, then binary frames (the upload's 16-byte id, the offset as 8
bytes big-endian, at most `chunk` bytes) while at most `WINDOW` bytes wait for their
`upload.progress`, then `upload.finish` for `upload.done`. The HTTP upload is a browser's
form post: the session cookie, and the CSRF cookie and header. Both time the whole exchange,
from the first byte sent to the attachment's description received (the server hashes and
stores the file before it answers).

The `upload` rate limit (10 per 60 s per user) is kept: each uploader account does at most
`PER_ACCOUNT` uploads, and the scenario makes as many uploader accounts as it needs
(`benchg00000`, ...). The uploaded files land in the workers' media directory (bench/results/
run/media), which is emptied at the end.
"""

from __future__ import annotations

import http.client
import json
import secrets
import shutil
import statistics
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import fixtures
from .scenarios import Context, step_line

G_USERNAME = "benchg{:05d}"
WINDOW = 1024 * 1024  # bytes not yet acknowledged, as UPLOAD_WINDOW in core/constants.js
PER_ACCOUNT = 8  # uploads per uploader account, under the `upload` bucket (10 per 60 s)
ACCOUNTS = 24  # uploader accounts made at least (bulk inserts: cheap)
TIMEOUT = 120.0
MIB = 1024 * 1024


class UploadFailed(RuntimeError):
    """The server refused an upload or the connection broke: the figure would be wrong."""


@dataclass
class Uploaders:
    """Accounts for uploads, each used at most `PER_ACCOUNT` times, so that no upload meets the
    product's `upload` rate limit, which stays as it is."""

    accounts: list[fixtures.Account] = field(default_factory=list)
    used: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> fixtures.Account:
        with self.lock:
            for account in self.accounts:
                if self.used.get(account.username, 0) < PER_ACCOUNT:
                    self.used[account.username] = self.used.get(account.username, 0) + 1
                    return account
        raise UploadFailed("out of uploader accounts")

    def fresh(self) -> fixtures.Account:
        """An account nobody has uploaded with yet (a socket keeps one for all its uploads)."""
        with self.lock:
            for account in self.accounts:
                if account.username not in self.used:
                    self.used[account.username] = 0
                    return account
        raise UploadFailed("out of uploader accounts")

    def count(self, username: str) -> bool:
        """Count one upload of `username`; False once it has done its share."""
        with self.lock:
            if self.used.get(username, 0) >= PER_ACCOUNT:
                return False
            self.used[username] = self.used.get(username, 0) + 1
            return True


def make_uploaders(count: int) -> Uploaders:
    """`count` accounts with sessions, made in the benchmark's process (Django is set up)."""
    accounts = fixtures.make_accounts(count, G_USERNAME)
    fixtures.close_connections()
    return Uploaders(accounts=accounts)


class SocketUploader:
    """One socket on the room, as one uploader account, for up to `PER_ACCOUNT` uploads."""

    def __init__(self, url: str, origin: str, account: fixtures.Account) -> None:
        from websockets.sync.client import connect

        self.account = account
        self.ws = connect(
            url,
            additional_headers={"Cookie": f"sessionid={account.session_key}"},
            origin=origin,  # type: ignore[arg-type]
            compression=None,
            open_timeout=30,
            max_size=2**22,
            max_queue=None,  # the room's messages arrive too; never push back on the server
        )
        first = self._next()
        if first.get("type") != "ready":
            self.ws.close()
            raise UploadFailed(f"the uploader's socket got {first.get('type')!r}, not ready")

    def _next(self) -> dict[str, Any]:
        while True:
            frame = self.ws.recv(timeout=TIMEOUT)
            if isinstance(frame, str):
                return json.loads(frame)

    def _answer(self, upload: str | None = None) -> dict[str, Any]:
        """The next frame about uploads (or an error); the room's other frames are skipped."""
        while True:
            frame = self._next()
            kind = frame.get("type")
            if kind == "error":
                raise UploadFailed(f"upload refused: {frame}")
            if kind in ("upload.started", "upload.done") or (
                kind == "upload.progress" and (upload is None or frame.get("upload") == upload)
            ):
                return frame

    def upload(self, data: bytes, name: str) -> dict[str, float]:
        """Send `data` as the browser does; seconds from `upload.start` to `upload.done`,
        and to the last chunk acknowledged (the rest is the server hashing and storing)."""
        started = time.monotonic()
        self.ws.send(json.dumps({"type": "upload.start", "name": name, "size": len(data)}))
        answer = self._answer()
        if answer.get("type") != "upload.started":
            raise UploadFailed(f"expected upload.started, got {answer}")
        upload, chunk = answer["upload"], int(answer["chunk"])
        key, view = bytes.fromhex(upload), memoryview(data)
        sent = acked = 0
        while acked < len(data):
            while sent < len(data) and sent - acked < WINDOW:
                end = min(len(data), sent + chunk)
                self.ws.send(key + sent.to_bytes(8, "big") + view[sent:end])
                sent = end
            acked = max(acked, int(self._answer(upload)["received"]))
        transferred = time.monotonic()
        self.ws.send(json.dumps({"type": "upload.finish", "upload": upload}))
        done = self._answer()
        if done.get("type") != "upload.done":
            raise UploadFailed(f"expected upload.done, got {done}")
        ended = time.monotonic()
        return {"seconds": ended - started, "transfer_seconds": transferred - started}

    def close(self) -> None:
        self.ws.close()


def multipart(data: bytes, name: str) -> tuple[bytes, str]:
    """A form with one file field `file`, as a browser's FormData sends it."""
    boundary = "----bench" + secrets.token_hex(12)
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return (
        head + data + f"\r\n--{boundary}--\r\n".encode(),
        f"multipart/form-data; boundary={boundary}",
    )


def http_upload(
    port: int, slug: str, account: fixtures.Account, body: bytes, content_type: str
) -> dict[str, float]:
    """`POST /api/rooms/<slug>/uploads/` with a session and the CSRF cookie and header (a
    browser's upload); seconds from the request's first byte to the 201's body."""
    csrf = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    headers = {
        "Cookie": f"sessionid={account.session_key}; csrftoken={csrf}",
        "X-CSRFToken": csrf,
        "Origin": f"http://127.0.0.1:{port}",
        "Content-Type": content_type,
        "Content-Length": str(len(body)),
    }
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        started = time.monotonic()
        conn.request("POST", f"/api/rooms/{slug}/uploads/", body=body, headers=headers)
        response = conn.getresponse()
        text = response.read()
        ended = time.monotonic()
    finally:
        conn.close()
    if response.status != 201:
        raise UploadFailed(f"HTTP upload answered {response.status}: {text[:300]!r}")
    return {"seconds": ended - started}


class Runner:
    """Uploads of one kind ("socket" or "http"), one after another, as the accounts allow."""

    def __init__(
        self, ctx: Context, kind: str, slug: str, data: bytes, uploaders: Uploaders
    ) -> None:
        self.ctx, self.kind, self.slug, self.data = ctx, kind, slug, data
        self.uploaders = uploaders
        self.socket: SocketUploader | None = None
        self.body, self.content_type = multipart(data, "bench.bin") if kind == "http" else (b"", "")

    def once(self) -> dict[str, float]:
        target = self.ctx.target
        if self.kind == "http":
            account = self.uploaders.take()
            out = http_upload(target.ports[0], self.slug, account, self.body, self.content_type)
        else:
            if self.socket is None or not self.uploaders.count(self.socket.account.username):
                self.close()
                account = self.uploaders.fresh()
                self.socket = SocketUploader(target.ws_url(0, self.slug), target.origin(0), account)
                self.uploaders.count(account.username)
            out = self.socket.upload(self.data, "bench.bin")
        out["mib_per_s"] = len(self.data) / MIB / out["seconds"]
        return out

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close()
            self.socket = None


def throughput(runner: Runner, runs: int) -> dict[str, Any]:
    """`runs` uploads one after another on a quiet room: the median MiB/s, and the server's
    CPU per MiB (the Daphne workers, over all the runs)."""
    before = runner.ctx.sample()
    try:
        results = [runner.once() for _ in range(runs)]
    finally:
        runner.close()
    cpu = before.delta(runner.ctx.sample())
    mib = runs * len(runner.data) / MIB
    out: dict[str, Any] = {
        "runs": results,
        "mib_per_s": statistics.median(r["mib_per_s"] for r in results),
        "seconds": statistics.median(r["seconds"] for r in results),
        "server_cpu_ms_per_mib": 1000 * cpu["server"] / mib,
        "busy_pct": cpu["machine_busy_pct"],
    }
    if "transfer_seconds" in results[0]:
        out["transfer_mib_per_s"] = statistics.median(
            len(runner.data) / MIB / r["transfer_seconds"] for r in results
        )
    return out


def in_background(runner: Runner) -> tuple[threading.Event, threading.Thread, dict[str, Any]]:
    """Upload back to back in a thread until the event is set; what happened, in the dict."""
    stop, state = threading.Event(), {"runs": [], "error": None}

    def loop() -> None:
        try:
            while not stop.is_set():
                state["runs"].append(runner.once())
        except Exception as exc:  # reported with the step, not raised across threads
            state["error"] = repr(exc)
        finally:
            runner.close()

    thread = threading.Thread(target=loop, name=f"bench-upload-{runner.kind}", daemon=True)
    thread.start()
    return stop, thread, state


def scenario_g(ctx: Context) -> dict[str, Any]:
    """G: one `--g-mib` file `--g-runs` times through the socket and through HTTP on a quiet
    room (median MiB/s); then `--g-sockets` sockets on the room sending `--g-rate` msgs/s in
    all for `--g-seconds`, three times: with no upload, while socket uploads run back to back,
    while HTTP uploads do. The uploads go to the first worker; the room's sockets are spread
    over all of them."""
    o = ctx.options
    slug = ctx.rooms("G")[0]
    data = secrets.token_bytes(int(o.g_mib * MIB))  # random: no image, nothing compresses
    # Accounts for 30 uploads a second (an 8 MiB file went in at ~200 MiB/s through the
    # socket on 2 cores), over the step and its drain; they are cheap (bulk inserts).
    per_phase = int((o.g_seconds + 5) * 30)
    needed = 2 * o.g_runs + 2 * per_phase
    uploaders = make_uploaders(max(ACCOUNTS, needed // PER_ACCOUNT + 4))
    result: dict[str, Any] = {
        "mib": len(data) / MIB,
        "sockets": o.g_sockets,
        "rate": o.g_rate,
        "seconds": o.g_seconds,
        "room": slug,
    }
    try:
        for kind in ("socket", "http"):
            result[f"{kind}_alone"] = t = throughput(
                Runner(ctx, kind, slug, data, uploaders), o.g_runs
            )
            ctx.log(
                f"  G {kind} upload of {result['mib']:g} MiB alone: {t['mib_per_s']:.1f} MiB/s "
                f"(median of {o.g_runs}), server {t['server_cpu_ms_per_mib']:.0f} ms CPU per MiB"
            )
        specs = ctx.specs([slug], o.g_sockets)
        senders = [s.index for s in specs]
        result["open"] = ctx.open(specs, senders)
        result["settle_seconds"] = ctx.settle()
        rates = {s: o.g_rate / len(senders) for s in senders}
        result["phases"] = {}
        for phase in ("idle", "socket", "http"):
            running = None
            if phase != "idle":
                running = in_background(Runner(ctx, phase, slug, data, uploaders))
                time.sleep(0.2)  # the first upload under way before the step starts
            row = ctx.run_step(rates, o.g_seconds)
            if running is not None:
                stop, thread, state = running
                stop.set()
                thread.join(TIMEOUT)
                runs = state["runs"]
                row["uploads"] = {
                    "done": len(runs),
                    "mib_per_s": statistics.median(r["mib_per_s"] for r in runs) if runs else None,
                    "error": state["error"],
                }
            row["ok"] = row["lost"] == 0 and not (row.get("uploads") or {}).get("error")
            result["phases"][phase] = row
            ups = row.get("uploads")
            ctx.log(
                f"  G room while {phase if phase == 'idle' else phase + ' uploads run'}: "
                f"{step_line(row)}"
                + (
                    f"; {ups['done']} uploads, {ups['mib_per_s'] or 0:.1f} MiB/s"
                    + (f", error {ups['error']}" if ups["error"] else "")
                    if ups
                    else ""
                )
            )
            time.sleep(0.5)
        ctx.pool.call("close_all", {})
    finally:
        if ctx.target.media is not None:
            shutil.rmtree(ctx.target.media, ignore_errors=True)
    return result
