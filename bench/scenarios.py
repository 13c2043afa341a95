"""The scenarios, A to F, run against one target at a time (G, uploads: bench/uploads.py).

Each scenario opens its sockets through the client processes, drives them step by step, and
samples the CPU time of the server processes, of redis-server, of the clients (and, for the
product on PostgreSQL, of PostgreSQL) around each step. What a step reports:

- sent/s and deliveries/s: messages sent, and copies received by the room's sockets (every
  socket of the room receives each message, the sender's own included);
- latency: receive time minus the send time embedded in the body (one monotonic clock);
- lost: copies expected (sent times the room's open sockets) minus copies received once the
  drain ended (nothing new for `--drain-seconds`, or `--drain-cap` in all); duplicates and
  out-of-order (per receiver and sender) besides;
- CPU per delivery: CPU time of the processes over the step and its drain, in microseconds,
  divided by the copies delivered.

Scenario F (the product only) adds `activity` frames, the live unread counts of a user's other
rooms: see `scenario_f`.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import time
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import fixtures
from .cluster import Sample, Target, cpu_seconds, machine_ticks, postgres_pids, rss_kib
from .loadgen import ClientPool, SocketSpec

ROLES = ("server", "redis", "loadgen", "db")
CORES = os.cpu_count() or 1
ROOM_NAMES = {
    "A": lambda options: ["bench-a"],
    "B": lambda options: [f"bench-b-{i:03d}" for i in range(options.b_rooms)],
    "C": lambda options: [
        f"bench-c-{i:03d}" for i in range(math.ceil(options.idle / options.idle_room_size))
    ],
    "G": lambda options: ["bench-g"],
}


@dataclass
class FPlan:
    """Scenario F's users, rooms and memberships: user i belongs to the rooms
    `member_rooms[i]` (indexes into `rooms`) and keeps one socket on the first of them;
    `senders` (user indexes) send into the room their socket is on."""

    rooms: list[str]
    member_rooms: list[list[int]]
    senders: list[int]

    def socket_room(self, user: int) -> str:
        return self.rooms[self.member_rooms[user][0]]

    def expected_per_message(self) -> tuple[float, float]:
        """Per message, averaged over the senders: `message` copies (sockets on its room,
        the sender's own included) and `activity` frames (members with their socket on
        another room, the sender excluded)."""
        on_room: Counter = Counter(self.socket_room(u) for u in range(len(self.member_rooms)))
        members: Counter = Counter(r for rooms in self.member_rooms for r in rooms)
        copies = activity = 0
        for s in self.senders:
            room = self.member_rooms[s][0]
            copies += on_room[self.rooms[room]]
            activity += members[room] - on_room[self.rooms[room]]
        n = max(1, len(self.senders))
        return copies / n, activity / n


def f_plan(options: argparse.Namespace) -> FPlan:
    """Drawn from `--f-seed`, so the fixtures and the scenario agree on it."""
    rng = random.Random(options.f_seed)
    count = options.f_rooms
    per_user = max(1, min(options.f_rooms_per_user, count))
    return FPlan(
        rooms=[f"bench-f-{i:03d}" for i in range(count)],
        member_rooms=[rng.sample(range(count), per_user) for _ in range(options.f_users)],
        senders=sorted(rng.sample(range(options.f_users), min(options.f_senders, options.f_users))),
    )


@dataclass
class Context:
    """What every scenario needs: the target, the clients, the options, the product's
    accounts and room slugs (the peers use the room names as they are)."""

    target: Target
    pool: ClientPool
    options: argparse.Namespace
    log: Callable[[str], None]
    accounts: list[fixtures.Account] = field(default_factory=list)
    slugs: dict[str, list[str]] = field(default_factory=dict)
    measure_db: bool = False
    step: int = 0
    f_plan: FPlan | None = None
    f_accounts: list[fixtures.Account] = field(default_factory=list)

    @property
    def product(self) -> bool:
        return self.target.name == "product"

    def rooms(self, scenario: str) -> list[str]:
        if self.product:
            return self.slugs[scenario]
        return ROOM_NAMES[scenario](self.options)

    def sample(self) -> Sample:
        cpu = {"server": cpu_seconds(self.target.server_pids)}
        if self.target.redis:
            cpu["redis"] = cpu_seconds(self.target.redis.pids)
        cpu["loadgen"] = cpu_seconds(self.pool.pids)
        if self.measure_db:
            cpu["db"] = cpu_seconds(postgres_pids(), with_children=False)
        return Sample(time.monotonic(), cpu, machine_ticks())

    def specs(self, rooms: list[str], per_room: int) -> list[SocketSpec]:
        """`per_room` sockets in each room, socket i as account i, on worker i % workers."""
        out = []
        for r, room in enumerate(rooms):
            for k in range(per_room):
                i = r * per_room + k
                cookie = self.accounts[i].session_key if self.product else None
                out.append(
                    SocketSpec(
                        i,
                        self.target.ws_url(i, room),
                        room,
                        self.target.name,
                        cookie,
                        self.target.origin(i),
                    )
                )
        return out

    def open(self, specs: list[SocketSpec], senders: list[int]) -> dict[str, Any]:
        sender_rooms = {s.index: s.room for s in specs if s.index in set(senders)}
        shares = self.pool.split(specs, len(self.target.ports))
        concurrency = math.ceil(self.options.connect_concurrency / len(self.pool))
        started = time.monotonic()
        answers = self.pool.call(
            "open",
            [
                {"specs": share, "concurrency": concurrency, "sender_rooms": sender_rooms}
                for share in shares
            ],
        )
        seconds = time.monotonic() - started
        failed: Counter = Counter()
        durations = array("d")
        for a in answers:
            failed.update(a["failed"])
            durations.frombytes(a["handshake_seconds"])
        opened = sum(a["opened"] for a in answers)
        result = {
            "wanted": len(specs),
            "opened": opened,
            "failed": dict(failed),
            "seconds": seconds,
            "handshakes_per_s": opened / seconds if seconds else 0.0,
            "handshake_ms": percentiles(durations),
        }
        self.log(
            f"  opened {opened}/{len(specs)} sockets in {seconds:.1f} s"
            + (f", failures: {dict(failed)}" if failed else "")
        )
        return result

    def settle(self, quiet: float = 1.0, limit: float = 60.0) -> float:
        """Let the join traffic (presence, members) die down before measuring."""
        started = time.monotonic()
        self.pool.call("settle", {"quiet": quiet, "limit": limit})
        return time.monotonic() - started

    def run_step(self, rates: dict[int, float], seconds: float) -> dict[str, Any]:
        """One step: every sender sends at its rate for `seconds`, then the receivers drain."""
        self.step += 1
        self.pool.call("arm", {"step": self.step})
        before = self.sample()
        steps = self.pool.call("step", {"step": self.step, "rates": rates, "seconds": seconds})
        sent: dict[int, int] = {}
        for a in steps:
            sent.update(a["sent"])
        started = min(a["started"] for a in steps)
        drains = self.pool.call(
            "drain",
            {"sent": sent, "quiet": self.options.drain_seconds, "cap": self.options.drain_cap},
        )
        after = self.sample()
        cpu = before.delta(after)

        latencies = array("d")
        frames: Counter = Counter()
        errors: Counter = Counter()
        closed: Counter = Counter()
        for d in drains:
            latencies.frombytes(d["latencies"])
            frames.update(d["frames"])
            errors.update(d["errors"])
            closed.update(d["closed"])
        expected = sum(d["expected"] for d in drains)
        received = sum(d["unique"] for d in drains)
        last = max((d["last_receive"] for d in drains), default=0.0)
        window = max(last - started, seconds) if received else seconds
        total_sent = sum(sent.values())
        activity = activity_stats([d["activity"] for d in drains])
        frames_delivered = received + (activity["received"] if activity else 0)
        row: dict[str, Any] = {
            "step": self.step,
            "target_rate": sum(rates.values()),
            "sent": total_sent,
            "sent_per_s": total_sent / seconds,
            "max_send_lag_ms": 1000 * max(a["max_lag"] for a in steps),
            "expected": expected,
            "received": received,
            "deliveries_per_s": received / window,
            "latency_ms": percentiles(latencies),
            "lost": expected - received,
            "duplicates": sum(d["duplicates"] for d in drains),
            "out_of_order": sum(d["out_of_order"] for d in drains),
            "late": sum(d["late"] for d in drains),
            "frames": dict(frames),
            "error_frames": dict(errors),
            "closed_by_server": dict(closed),
            "cpu_seconds": cpu,
            "us_per_delivery": {
                role: 1e6 * cpu[role] / received if received else None
                for role in ROLES
                if role in cpu
            },
            "cpu_pct": {role: 100 * cpu[role] / cpu["seconds"] for role in ROLES if role in cpu},
            "machine_busy_pct": cpu["machine_busy_pct"],
            # CPU used by processes outside the benchmark (another test run, say), in % of
            # one core: the machine's busy time minus what the roles above used.
            "other_cpu_pct": max(
                0.0,
                cpu["machine_busy_pct"] * CORES
                - sum(100 * cpu[r] / cpu["seconds"] for r in ROLES if r in cpu),
            ),
            "wall_seconds": cpu["seconds"],
        }
        # Per message sent, and per frame delivered (`message` copies and F's `activity`).
        if activity:
            row["activity"] = activity
        row["frames_delivered"] = frames_delivered
        row["us_per_message"] = {
            role: 1e6 * cpu[role] / total_sent if total_sent else None
            for role in ROLES
            if role in cpu
        }
        row["us_per_frame"] = {
            role: 1e6 * cpu[role] / frames_delivered if frames_delivered else None
            for role in ROLES
            if role in cpu
        }
        return row


def activity_stats(answers: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The `activity` frames of a step, over the client processes: expected, received, lost,
    and their latency (receive time minus the send time of their message, by id). None when
    no socket watched anything (every scenario but F)."""
    expected = sum(a["expected"] for a in answers)
    received = sum(a["unique"] for a in answers)
    stray = sum(a["stray"] for a in answers)
    if not (expected or received or stray):
        return None
    sent_at: dict[int, float] = {}
    for a in answers:
        ids, times = array("q"), array("d")
        ids.frombytes(a["sent_ids"])
        times.frombytes(a["sent_times"])
        sent_at.update(zip(ids, times, strict=True))
    latencies, unmatched = array("d"), 0
    for a in answers:
        ids, times = array("q"), array("d")
        ids.frombytes(a["ids"])
        times.frombytes(a["times"])
        for message_id, received_at in zip(ids, times, strict=True):
            at = sent_at.get(message_id)
            if at is None:
                unmatched += 1
            else:
                latencies.append(received_at - at)
    return {
        "expected": expected,
        "received": received,
        "lost": expected - received,
        "duplicates": sum(a["duplicates"] for a in answers),
        "stray": stray,
        "latency_ms": percentiles(latencies),
        # Activities whose message's send time is unknown (its sender never heard its own
        # copy): received, but without a latency.
        "unmatched": unmatched,
        "messages_identified": len(sent_at),
    }


def percentiles(samples: array) -> dict[str, float | None]:
    """p50, p99 and max of seconds, in milliseconds (nearest rank)."""
    if not samples:
        return {"p50": None, "p99": None, "max": None, "n": 0}
    ordered = sorted(samples)
    n = len(ordered)

    def rank(p: float) -> float:
        return 1000 * ordered[min(n - 1, max(0, math.ceil(p * n) - 1))]

    return {"p50": rank(0.50), "p99": rank(0.99), "max": 1000 * ordered[-1], "n": n}


def step_ok(row: dict[str, Any], p99_ms: float) -> bool:
    p99 = row["latency_ms"]["p99"]
    return row["lost"] == 0 and p99 is not None and p99 <= p99_ms


def scenario_a(ctx: Context) -> dict[str, Any]:
    """One room, `--a-sockets` sockets, `--a-senders` of them senders, a ladder of total send
    rates. A step that fails (p99 over the limit, or the senders could not keep the rate) is
    run once more; a second failure, or any loss, ends the ladder."""
    o = ctx.options
    room = ctx.rooms("A")[0]
    specs = ctx.specs([room], o.a_sockets)
    senders = list(range(min(o.a_senders, o.a_sockets)))
    result: dict[str, Any] = {"sockets": o.a_sockets, "senders": len(senders), "room": room}
    result["open"] = ctx.open(specs, senders)
    result["settle_seconds"] = ctx.settle()
    rows: list[dict[str, Any]] = []
    stop = ""
    for rate in o.rates:
        for attempt in (1, 2):
            row = ctx.run_step({s: rate / len(senders) for s in senders}, o.step_seconds)
            row["attempt"] = attempt
            row["ok"] = step_ok(row, o.p99_ms) and row["sent_per_s"] >= 0.9 * rate
            rows.append(row)
            ctx.log(f"  A {ctx.target.name} {step_line(row)}")
            if row["lost"] > 0:
                stop = f"lost {row['lost']} deliveries at {rate} msgs/s"
                break
            if row["ok"]:
                break
            time.sleep(0.5)
        if stop:
            break
        if not row["ok"]:
            stop = f"failed twice at {rate} msgs/s"
            break
        if ctx.target.dead():
            stop = "a server process died"
            break
        time.sleep(0.5)
    else:
        stop = "end of the ladder"
    ctx.pool.call("close_all", {})
    good = [r for r in rows if r["ok"]]
    best = max(good, key=lambda r: r["deliveries_per_s"], default=None)
    result.update(
        steps=rows,
        stopped=stop,
        best_deliveries_per_s=best["deliveries_per_s"] if best else 0.0,
        best_rate=best["target_rate"] if best else None,
        # Throughput whatever the latency, as long as nothing was lost: robust to a noisy
        # machine, where a p99 limit may fail at the first step.
        peak_deliveries_per_s=max(
            (r["deliveries_per_s"] for r in rows if r["lost"] == 0), default=0.0
        ),
    )
    if ctx.product:
        result["stored"] = fixtures.stored_messages([room])
        result["sent_total"] = sum(r["sent"] for r in rows)
        fixtures.close_connections()
    return result


def scenario_b(ctx: Context) -> dict[str, Any]:
    """Many small rooms: `--b-rooms` rooms of `--b-room-size` sockets, every socket sending
    `--b-rate` messages/s for `--b-seconds`; for the product, every message must be stored."""
    o = ctx.options
    rooms = ctx.rooms("B")
    specs = ctx.specs(rooms, o.b_room_size)
    senders = [s.index for s in specs]
    result: dict[str, Any] = {"rooms": len(rooms), "room_size": o.b_room_size}
    result["open"] = ctx.open(specs, senders)
    result["settle_seconds"] = ctx.settle()
    row = ctx.run_step({s: o.b_rate for s in senders}, o.b_seconds)
    row["ok"] = step_ok(row, o.p99_ms)
    ctx.log(f"  B {ctx.target.name} {step_line(row)}")
    ctx.pool.call("close_all", {})
    result["step"] = row
    if ctx.product:
        result["stored"] = fixtures.stored_messages(rooms)
        result["stored_ok"] = result["stored"] == row["sent"]
        fixtures.close_connections()
    return result


def scenario_cde(ctx: Context, scenarios: set[str]) -> dict[str, Any]:
    """C: open `--idle` idle sockets (handshakes/s, memory per socket); D: hold them
    `--hold-seconds` (none may be closed by the server); E: close them all at once and poll
    Redis until no room group and no presence entry is left."""
    o = ctx.options
    rooms = ctx.rooms("C")
    specs = ctx.specs(rooms, o.idle_room_size)[: o.idle]
    workers, redis_pids = ctx.target.server_pids, ctx.target.redis.pids if ctx.target.redis else []
    out: dict[str, Any] = {}
    redis = ctx.target.redis.client() if ctx.target.redis else None
    used_before = int(redis.info("memory")["used_memory"]) if redis else 0
    rss_before = {"server": rss_kib(workers), "redis": rss_kib(redis_pids)}
    before = ctx.sample()
    c = ctx.open(specs, [])
    c["rooms"] = len(rooms)
    c["room_size"] = o.idle_room_size
    c["settle_seconds"] = ctx.settle(quiet=2.0, limit=120.0)
    c["cpu_seconds"] = before.delta(ctx.sample())
    rss_after = {"server": rss_kib(workers), "redis": rss_kib(redis_pids)}
    opened = max(1, c["opened"])
    c["rss_kib_before"], c["rss_kib_after"] = rss_before, rss_after
    c["server_kib_per_socket"] = (rss_after["server"] - rss_before["server"]) / opened
    c["redis_kib_per_socket"] = (rss_after["redis"] - rss_before["redis"]) / opened
    used_after = int(redis.info("memory")["used_memory"]) if redis else 0
    c["redis_used_kib_per_socket"] = (used_after - used_before) / 1024 / opened
    out["C"] = c
    ctx.log(
        f"  C {c['opened']} sockets, {c['handshakes_per_s']:.0f} handshakes/s, "
        f"{c['server_kib_per_socket']:.1f} KiB/socket in the workers"
    )
    if "D" in scenarios:
        ctx.log(f"  D holding them {o.hold_seconds:.0f} s")
        before = ctx.sample()
        answers = ctx.pool.call("hold", {"seconds": o.hold_seconds})
        idle = before.delta(ctx.sample())
        closed: Counter = Counter()
        for a in answers:
            closed.update(a["closed_by_server"])
        out["D"] = {
            "seconds": o.hold_seconds,
            "open_before": sum(a["open_before"] for a in answers),
            "open_after": sum(a["open_after"] for a in answers),
            "closed_by_server": sum(closed.values()),
            "close_codes": dict(closed),
            # What idle sockets cost: heartbeats, group renewals, pings.
            "cpu_seconds": idle,
        }
    if "E" in scenarios and redis:
        started = time.monotonic()
        answers = ctx.pool.call("close_all", {})
        closed_in = time.monotonic() - started
        left = redis_leftovers(redis)
        while (
            left["room_group_members"] or left["presence_entries"] or left["user_group_members"]
        ) and (time.monotonic() - started < o.e_timeout):
            time.sleep(0.2)
            left = redis_leftovers(redis)
        out["E"] = {
            "closed": sum(a["closed"] for a in answers),
            "close_seconds": closed_in,
            "clean_seconds": time.monotonic() - started,
            **left,
            "clean": not (
                left["room_group_members"] or left["presence_entries"] or left["user_group_members"]
            ),
        }
    else:
        ctx.pool.call("close_all", {})
    if redis:
        redis.close()
    return out


def scenario_f(ctx: Context) -> dict[str, Any]:
    """Members spread over many rooms, the product only: `--f-users` users, each a member of
    `--f-rooms-per-user` of `--f-rooms` rooms, each with one socket on one of their rooms,
    which also watches the others (`activity` for every new message there but their own).
    `--f-senders` of them send `--f-rate` messages/s in all, for `--f-seconds`, into the room
    their socket is on: a message reaches the sockets on its room as `message`, and the
    room's other members as `activity`.

    Measured like C first (on fresh workers): the CPU and memory of opening the sockets, each
    watching its user's rooms; then one step like B's, with `activity` counted beside the
    `message` copies (see `activity_stats`)."""
    o = ctx.options
    plan = ctx.f_plan
    assert plan is not None
    specs = []
    for i, rooms_of in enumerate(plan.member_rooms):
        account = ctx.f_accounts[i]
        room = plan.socket_room(i)
        specs.append(
            SocketSpec(
                i,
                ctx.target.ws_url(i, room),
                room,
                "product",
                account.session_key,
                ctx.target.origin(i),
                watches=tuple(plan.rooms[r] for r in rooms_of),
                username=account.username,
            )
        )
    copies, activity = plan.expected_per_message()
    members = Counter(r for rooms in plan.member_rooms for r in rooms)
    result: dict[str, Any] = {
        "users": len(specs),
        "rooms": len(plan.rooms),
        "rooms_per_user": len(plan.member_rooms[0]) if plan.member_rooms else 0,
        "rooms_with_members": len(members),
        "rooms_with_sockets": len({s.room for s in specs}),
        "senders": len(plan.senders),
        "planned_copies_per_message": copies,
        "planned_activity_per_message": activity,
    }
    workers = ctx.target.server_pids
    redis_pids = ctx.target.redis.pids if ctx.target.redis else []
    redis = ctx.target.redis.client() if ctx.target.redis else None
    used_before = int(redis.info("memory")["used_memory"]) if redis else 0
    rss_before = {"server": rss_kib(workers), "redis": rss_kib(redis_pids)}
    before = ctx.sample()
    opened = ctx.open(specs, plan.senders)
    opened["settle_seconds"] = ctx.settle(quiet=2.0, limit=120.0)
    opened["cpu_seconds"] = before.delta(ctx.sample())
    rss_after = {"server": rss_kib(workers), "redis": rss_kib(redis_pids)}
    count = max(1, opened["opened"])
    opened["ms_per_socket"] = {
        role: 1000 * opened["cpu_seconds"][role] / count
        for role in ROLES
        if role in opened["cpu_seconds"]
    }
    opened["server_kib_per_socket"] = (rss_after["server"] - rss_before["server"]) / count
    if redis:
        opened["redis_used_kib_per_socket"] = (
            (int(redis.info("memory")["used_memory"]) - used_before) / 1024 / count
        )
        # Each worker's fan-out joins the group of every room one of its users belongs to.
        groups = list(redis.scan_iter(match="asgi:group:room.*", count=1000))
        opened["room_groups"] = len(groups)
        opened["room_group_members"] = sum(redis.zcard(g) for g in groups)
        redis.close()
    result["open"] = opened
    ctx.log(
        f"  F {opened['opened']} sockets watching {result['rooms_per_user']} rooms each: "
        + ", ".join(f"{k} {v:.2f} ms" for k, v in opened["ms_per_socket"].items())
        + " of CPU per socket opened"
    )
    rate = o.f_rate / max(1, len(plan.senders))
    row = ctx.run_step({s: rate for s in plan.senders}, o.f_seconds)
    act = row.get("activity")
    row["ok"] = step_ok(row, o.p99_ms) and (
        act is None or (act["lost"] == 0 and act["stray"] == 0 and step_ok(act, o.p99_ms))
    )
    ctx.log(f"  F {ctx.target.name} {step_line(row)}")
    if act:
        lat = act["latency_ms"]
        ctx.log(
            f"  F activity: {act['received']}/{act['expected']}, lost {act['lost']}, "
            f"dup {act['duplicates']}, stray {act['stray']}, p50 {_ms(lat['p50'])} ms, "
            f"p99 {_ms(lat['p99'])} ms"
        )
    ctx.pool.call("close_all", {})
    result["step"] = row
    result["stored"] = fixtures.stored_messages(plan.rooms)
    result["stored_ok"] = result["stored"] == row["sent"]
    fixtures.close_connections()
    return result


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def redis_leftovers(redis: Any) -> dict[str, int]:
    """Members of room groups, of user groups, and presence entries still in Redis."""

    def members(pattern: str) -> int:
        return sum(redis.zcard(key) for key in redis.scan_iter(match=pattern, count=1000))

    return {
        "room_group_members": members("asgi:group:room.*"),
        "user_group_members": members("asgi:group:user.*"),
        "presence_entries": members("chat:presence:*"),
    }


def step_line(row: dict[str, Any]) -> str:
    lat = row["latency_ms"]
    p50 = f"{lat['p50']:.1f}" if lat["p50"] is not None else "-"
    p99 = f"{lat['p99']:.1f}" if lat["p99"] is not None else "-"
    return (
        f"rate {row['target_rate']:g}: sent {row['sent_per_s']:.0f}/s, "
        f"{row['deliveries_per_s']:.0f} deliveries/s, p50 {p50} ms, p99 {p99} ms, "
        f"lost {row['lost']}, busy {row['machine_busy_pct']:.0f}%"
        + ("" if row.get("ok", True) else "  FAIL")
    )
