"""The machine the numbers came from, and the Markdown tables they are printed as.

Numbers without the machine mean little, so the report starts with it: CPU model, cores, load
average at the start (something else running skews everything), and the versions of Python,
the packages and the servers.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

PACKAGES = [
    "Django",
    "channels",
    "channels-redis",
    "daphne",
    "Twisted",
    "autobahn",
    "redis",
    "websockets",
    "psycopg",
]


def product_code() -> str:
    """The commit, and whether the product's code differs from it: the numbers belong to
    the working tree as it was during the run."""
    root = Path(__file__).resolve().parent.parent

    def git(*words: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *words], capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "?"
    changed = git("status", "--porcelain", "--", "chat", "chatsite", "templates").splitlines()
    if changed:
        commit += f" with {len(changed)} uncommitted changes in chat/, chatsite/, templates/"
    return commit


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if "model name" in line),
        platform.processor() or "?",
    )
    meminfo = Path("/proc/meminfo").read_text().split()
    mem_kib = int(meminfo[meminfo.index("MemTotal:") + 1])
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "-"
    try:
        redis_server = subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True, check=False
        ).stdout.split()
        redis_version = next(w.split("=")[1] for w in redis_server if w.startswith("v="))
    except (OSError, StopIteration):
        redis_version = "-"
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        "python": sys.version.split()[0],
        "packages": versions,
        "redis_server": redis_version,
        "product_code": product_code(),
    }


def _f(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _ok(flag: bool) -> str:
    return "yes" if flag else "**no**"


def render(results: dict[str, Any]) -> str:
    m, cfg = results["machine"], results["config"]
    lines = [
        "# Chat fan-out benchmark",
        "",
        f"- Machine: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), "
        f"{m['memory_gib']} GiB, Linux {m['kernel']}; load average at start "
        f"{' '.join(m['loadavg_at_start'])}",
        f"- Python {m['python']}; "
        + ", ".join(f"{k} {v}" for k, v in m["packages"].items())
        + f"; redis-server {m['redis_server']}; database {cfg.get('database_version', '-')}",
        f"- Product code: commit {m['product_code']}",
        f"- product: {cfg['workers']} Daphne workers of `chatsite.asgi` on their own "
        "redis-server and the database; tutorial: "
        f"{cfg['workers']} Daphne workers of the Channels tutorial consumer "
        "(`bench/peers/tutorial.py`) on their own redis-server; raw: one `websockets` "
        "process (`bench/peers/raw.py`)",
        f"- Load generator: {cfg['clients']} client processes (asyncio + websockets, "
        "compression off), sockets spread round-robin over the workers",
        "- The product runs with `CHAT_RATE_MESSAGES=1000000`: its per-user rate limit "
        "(10 messages per 10 s) would otherwise refuse the senders",
        f"- The load generator shares the machine's {m['usable_cores']} cores with the servers "
        "and competes with them: `busy %` near 100 means the machine was saturated, and part "
        "of it was the clients (`clients %`). `other %` is CPU used by processes outside the "
        "benchmark during the step (anything else running on the machine). Every `%` but "
        "`busy %` is in % of one core",
        "- CPU µs per delivery: CPU time of the processes during the step and its drain, "
        "divided by the copies delivered. `server` is the Daphne workers (or the raw "
        "process); `db` is all of PostgreSQL on the machine (the product only)",
        "",
    ]
    targets = results["targets"]
    for name, t in targets.items():
        lines += [f"- {name}: {note}" for note in t.get("notes", [])]
    lines.append("")
    if any("A" in t for t in targets.values()):
        lines += _scenario_a(targets, cfg)
    if any("B" in t for t in targets.values()):
        lines += _scenario_b(targets, cfg)
    g = targets.get("product", {}).get("G")
    if g:
        lines += _scenario_g(g)
    f = targets.get("product", {}).get("F")
    if f:
        lines += _scenario_f(f, cfg)
    cde = targets.get("product", {}).get("CDE")
    if cde:
        lines += _scenario_cde(cde, cfg)
    for name, t in targets.items():
        for problem in t.get("problems", []):
            lines += [f"**{name}, a problem:**", "", "```", problem.rstrip(), "```", ""]
    if results.get("error"):
        lines += ["**The run failed:**", "", "```", results["error"].rstrip(), "```", ""]
    return "\n".join(lines)


def _scenario_a(targets: dict[str, Any], cfg: dict[str, Any]) -> list[str]:
    lines = [
        f"## A: one room, {cfg['a_sockets']} sockets, {cfg['a_senders']} senders, "
        f"a ladder of send rates ({cfg['step_seconds']:g} s steps)",
        "",
        f"A step is ok when p99 <= {cfg['p99_ms']:g} ms, nothing is lost, and the senders "
        "kept 90% of the rate; a failed step is tried once more.",
        "",
    ]
    header = (
        "| msgs/s | sent/s | deliveries/s | p50 ms | p99 ms | max ms | lost | dup | ooo "
        "| server µs | redis µs | db µs | server % | redis % | db % | clients % | other % "
        "| busy % | ok |"
    )
    summary = []
    for name, t in targets.items():
        a = t.get("A")
        if not a:
            continue
        opened = a["open"]
        lines += [
            f"### {name}",
            "",
            f"{opened['opened']}/{opened['wanted']} sockets opened"
            + (f" (failures: {opened['failed']})" if opened["failed"] else "")
            + f"; ladder stopped: {a['stopped']}"
            + (f"; stored {a['stored']} of {a['sent_total']} sent" if "stored" in a else ""),
            "",
            header,
            "|" + "---|" * 19,
        ]
        for r in a["steps"]:
            lat, us, pct = r["latency_ms"], r["us_per_delivery"], r["cpu_pct"]
            lines.append(
                f"| {r['target_rate']:g} | {_f(r['sent_per_s'])} | {_f(r['deliveries_per_s'])} "
                f"| {_f(lat['p50'], 1)} | {_f(lat['p99'], 1)} | {_f(lat['max'], 1)} "
                f"| {r['lost']} | {r['duplicates']} | {r['out_of_order']} "
                f"| {_f(us.get('server'), 1)} | {_f(us.get('redis'), 1)} | {_f(us.get('db'), 1)} "
                f"| {_f(pct.get('server'))} | {_f(pct.get('redis'))} | {_f(pct.get('db'))} "
                f"| {_f(pct.get('loadgen'))} | {_f(r['other_cpu_pct'])} "
                f"| {_f(r['machine_busy_pct'])} | {_ok(r['ok'])} |"
            )
        lines.append("")
        best = next(
            (
                r
                for r in a["steps"]
                if r["ok"] and r["deliveries_per_s"] == a["best_deliveries_per_s"]
            ),
            None,
        )
        summary.append(
            f"| {name} | {_f(a['best_deliveries_per_s'])} | {_f(a['best_rate'] or 0)} "
            f"| {_f(best['us_per_delivery'].get('server'), 1) if best else '-'} "
            f"| {_f(a['peak_deliveries_per_s'])} |"
        )
    lines += [
        f"### A, summary: the highest deliveries/s with p99 <= {cfg['p99_ms']:g} ms and 0 lost",
        "",
        "| target | deliveries/s | at msgs/s | server µs per delivery there "
        "| peak deliveries/s (any p99, 0 lost) |",
        "|---|---|---|---|---|",
        *summary,
        "",
    ]
    for key, what in (
        ("best_deliveries_per_s", "the best deliveries/s"),
        ("peak_deliveries_per_s", "the peak deliveries/s"),
    ):
        value = {n: t["A"][key] for n, t in targets.items() if t.get("A")}
        if "product" not in value or len(value) < 2:
            continue
        ratios = [
            f"product/{peer} = {value['product'] / value[peer]:.2f}"
            if value[peer]
            else f"product/{peer}: n/a ({peer} had no such step)"
            for peer in ("tutorial", "raw")
            if peer in value
        ]
        lines += [f"Ratios of {what}: " + ", ".join(ratios), ""]
    return lines


def _incidents(steps: list[dict[str, Any]]) -> str:
    """Error frames and server-side closes over the steps, which the table does not show."""
    errors: dict[str, int] = {}
    closed: dict[str, int] = {}
    for r in steps:
        for k, v in r["error_frames"].items():
            errors[k] = errors.get(k, 0) + v
        for k, v in r["closed_by_server"].items():
            closed[k] = closed.get(k, 0) + v
    late = sum(r["late"] for r in steps)
    text = f"; error frames {errors}" if errors else ""
    text += f"; {late} copies arrived after their step's drain" if late else ""
    return text + (f"; sockets closed by the server {closed}" if closed else "")


def _scenario_b(targets: dict[str, Any], cfg: dict[str, Any]) -> list[str]:
    lines = [
        f"## B: {cfg['b_rooms']} rooms x {cfg['b_room_size']} sockets, each socket "
        f"{cfg['b_rate']:g} msg/s for {cfg['b_seconds']:g} s",
        "",
        "| target | sockets | sent | deliveries | lost | dup | ooo | p50 ms | p99 ms | max ms "
        "| server µs | redis µs | db µs | clients % | other % | busy % | stored | ok |",
        "|" + "---|" * 18,
    ]
    for name, t in targets.items():
        b = t.get("B")
        if not b:
            continue
        r = b["step"]
        lat, us = r["latency_ms"], r["us_per_delivery"]
        stored = (
            f"{b['stored']} ({'all' if b['stored_ok'] else '**not all**'})"
            if "stored" in b
            else "-"
        )
        lines.append(
            f"| {name} | {b['open']['opened']}/{b['open']['wanted']} | {r['sent']} "
            f"| {r['received']}/{r['expected']} | {r['lost']} | {r['duplicates']} "
            f"| {r['out_of_order']} | {_f(lat['p50'], 1)} | {_f(lat['p99'], 1)} "
            f"| {_f(lat['max'], 1)} | {_f(us.get('server'), 1)} | {_f(us.get('redis'), 1)} "
            f"| {_f(us.get('db'), 1)} | {_f(r['cpu_pct'].get('loadgen'))} "
            f"| {_f(r['other_cpu_pct'])} | {_f(r['machine_busy_pct'])} | {stored} "
            f"| {_ok(r['ok'] and b.get('stored_ok', True))} |"
        )
    per_message = [
        f"{name} {_f(t['B']['step']['us_per_message'].get('server'))} µs"
        for name, t in targets.items()
        if t.get("B") and "us_per_message" in t["B"]["step"]
    ]
    if per_message:
        lines += [
            "",
            "Server CPU per message sent (every delivery included): " + ", ".join(per_message),
        ]
    return [*lines, ""]


def _scenario_f(f: dict[str, Any], cfg: dict[str, Any]) -> list[str]:
    r, o = f["step"], f["open"]
    act = r.get("activity") or {
        "expected": 0,
        "received": 0,
        "lost": 0,
        "duplicates": 0,
        "stray": 0,
        "unmatched": 0,
        "latency_ms": {"p50": None, "p99": None, "max": None},
    }
    lat, alat = r["latency_ms"], act["latency_ms"]
    per_msg, per_frame = r.get("us_per_message", {}), r.get("us_per_frame", {})
    sent = max(1, r["sent"])
    roles = [role for role in ("server", "redis", "db", "loadgen") if role in per_msg]
    stored = f"{f['stored']} ({'all' if f['stored_ok'] else '**not all**'})"
    return [
        f"## F: {f['users']} users, each a member of {f['rooms_per_user']} of {f['rooms']} "
        f"rooms with one socket on one of them; {f['senders']} send {cfg['f_rate']:g} msgs/s "
        f"in all for {cfg['f_seconds']:g} s",
        "",
        f"{f['rooms_with_members']} rooms have members, {f['rooms_with_sockets']} a socket. "
        "A message reaches the sockets on its room as `message` (the sender's own included) "
        "and every other member's socket as `activity` (not the sender's). Planned per "
        f"message: {f['planned_copies_per_message']:.2f} `message` copies, "
        f"{f['planned_activity_per_message']:.2f} `activity` frames. Activity latency: its "
        "receive time minus the time its message was sent (learnt by id from the sender's "
        "own copy).",
        "",
        "| frames | sent | expected | received | lost | dup | stray | p50 ms | p99 ms | max ms |",
        "|" + "---|" * 10,
        f"| `message` | {r['sent']} | {r['expected']} | {r['received']} | {r['lost']} "
        f"| {r['duplicates']} | - | {_f(lat['p50'], 1)} | {_f(lat['p99'], 1)} "
        f"| {_f(lat['max'], 1)} |",
        f"| `activity` | | {act['expected']} | {act['received']} | {act['lost']} "
        f"| {act['duplicates']} | {act['stray']} | {_f(alat['p50'], 1)} | {_f(alat['p99'], 1)} "
        f"| {_f(alat['max'], 1)} |",
        "",
        "| CPU | " + " | ".join(roles) + " |",
        "|---|" + "---|" * len(roles),
        "| µs per message sent | " + " | ".join(_f(per_msg.get(role), 0) for role in roles) + " |",
        "| µs per frame delivered (`message` + `activity`) | "
        + " | ".join(_f(per_frame.get(role), 1) for role in roles)
        + " |",
        "| % of one core during the step | "
        + " | ".join(_f(r["cpu_pct"].get(role)) for role in roles)
        + " |",
        "| ms per socket opened (open and settle) | "
        + " | ".join(_f(o["ms_per_socket"].get(role), 2) for role in roles)
        + " |",
        "",
        f"- Sockets: {o['opened']}/{o['wanted']} opened"
        + (f" (failures: {o['failed']})" if o["failed"] else "")
        + f", {_f(o['handshakes_per_s'])} handshakes/s (p50 {_f(o['handshake_ms']['p50'], 1)} "
        f"ms, p99 {_f(o['handshake_ms']['p99'], 1)} ms); workers' RSS "
        f"{_f(o['server_kib_per_socket'], 1)} KiB per socket, Redis used_memory "
        f"{_f(o.get('redis_used_kib_per_socket'), 1)} KiB per socket; "
        f"{o.get('room_groups', '-')} room groups in Redis with "
        f"{o.get('room_group_members', '-')} members (worker channels)",
        f"- Per message: {r['expected'] / sent:.2f} `message` copies and "
        f"{act['expected'] / sent:.2f} `activity` frames expected; stored {stored}; "
        f"clients {_f(r['cpu_pct'].get('loadgen'))} %, other {_f(r['other_cpu_pct'])} %, "
        f"busy {_f(r['machine_busy_pct'])} %; ok: {_ok(r['ok'] and f['stored_ok'])}"
        + _incidents([r])
        + (
            f"; {act['unmatched']} activities without a known send time" if act["unmatched"] else ""
        ),
        "",
    ]


def _scenario_g(g: dict[str, Any]) -> list[str]:
    """Upload throughput alone, then the room's latency without and during uploads."""
    lines = [
        f"## G: uploads of {g['mib']:g} MiB, and the room's latency meanwhile",
        "",
        "Alone: one upload at a time on a quiet room, through the socket (binary frames of "
        "64 KiB, at most 1 MiB unacknowledged, as the browser sends them) and through "
        "`POST /api/rooms/<slug>/uploads/` (multipart, session and CSRF), from the first byte "
        "to the attachment's description (hashed and stored). Median of the runs.",
        "",
        "| upload | MiB/s | s per file | chunks acknowledged at MiB/s | server ms CPU per MiB "
        "| busy % |",
        "|---|---|---|---|---|---|",
    ]
    for kind, label in (("socket", "socket"), ("http", "HTTP")):
        t = g.get(f"{kind}_alone")
        if t:
            lines.append(
                f"| {label} | {_f(t['mib_per_s'], 1)} | {_f(t['seconds'], 2)} "
                f"| {_f(t.get('transfer_mib_per_s'), 1)} | {_f(t['server_cpu_ms_per_mib'])} "
                f"| {_f(t['busy_pct'])} |"
            )
    phases = g.get("phases", {})
    if phases:
        lines += [
            "",
            f"The room: {g['sockets']} sockets, all senders, {g['rate']:g} msgs/s in all for "
            f"{g['seconds']:g} s, with no upload, then while uploads of {g['mib']:g} MiB run "
            "back to back (on the first worker; the room's sockets are on all of them).",
            "",
            "| while | deliveries | lost | p50 ms | p99 ms | max ms | uploads done "
            "| upload MiB/s | server % | busy % | ok |",
            "|" + "---|" * 11,
        ]
        for phase, label in (("idle", "no upload"), ("socket", "socket"), ("http", "HTTP")):
            r = phases.get(phase)
            if not r:
                continue
            lat, ups = r["latency_ms"], r.get("uploads") or {}
            lines.append(
                f"| {label if phase == 'idle' else label + ' uploads'} "
                f"| {r['received']}/{r['expected']} | {r['lost']} "
                f"| {_f(lat['p50'], 1)} | {_f(lat['p99'], 1)} | {_f(lat['max'], 1)} "
                f"| {ups.get('done', '-')} | {_f(ups.get('mib_per_s'), 1)} "
                f"| {_f(r['cpu_pct'].get('server'))} | {_f(r['machine_busy_pct'])} "
                f"| {_ok(r['ok'])} |"
            )
        errors = [
            f"{p}: {r['uploads']['error']}"
            for p, r in phases.items()
            if (r.get("uploads") or {}).get("error")
        ]
        if errors:
            lines += ["", "Uploads that failed: " + "; ".join(errors)]
        incidents = _incidents(list(phases.values()))
        if incidents:
            lines += ["", "In the room" + incidents]
    return [*lines, ""]


def _scenario_cde(cde: dict[str, Any], cfg: dict[str, Any]) -> list[str]:
    lines = [
        "## C, D, E: idle sockets on the product",
        "",
        "| check | result | ok |",
        "|---|---|---|",
    ]
    c = cde["C"]
    lines += [
        f"| C: sockets opened (`ready` received), in {c['rooms']} rooms of {c['room_size']} "
        f"| {c['opened']}/{c['wanted']}"
        + (f" (failures: {c['failed']})" if c["failed"] else "")
        + f" | {_ok(c['opened'] == c['wanted'])} |",
        f"| C: handshakes/s, {cfg['connect_concurrency']} at a time "
        f"| {_f(c['handshakes_per_s'])} (p50 {_f(c['handshake_ms']['p50'], 1)} ms, "
        f"p99 {_f(c['handshake_ms']['p99'], 1)} ms) | |",
        f"| C: workers' RSS per socket | {_f(c['server_kib_per_socket'], 1)} KiB "
        f"({c['rss_kib_before']['server'] // 1024} -> {c['rss_kib_after']['server'] // 1024} MiB)"
        " | |",
        f"| C: redis-server per socket | RSS {_f(c['redis_kib_per_socket'], 1)} KiB, "
        f"used_memory {_f(c['redis_used_kib_per_socket'], 1)} KiB | |",
        "| C: CPU per socket opened (open and settle) | "
        + ", ".join(
            f"{role} {_f(1000 * c['cpu_seconds'][role] / max(1, c['opened']), 2)} ms"
            for role in ("server", "redis", "db", "loadgen")
            if role in c["cpu_seconds"]
        )
        + " | |",
    ]
    d = cde.get("D")
    if d:
        lines.append(
            f"| D: closed by the server, from opening through {d['seconds']:g} s idle "
            f"| {d['closed_by_server']} {d['close_codes'] or ''} (open {d['open_after']}) "
            f"| {_ok(d['closed_by_server'] == 0)} |"
        )
        if "cpu_seconds" in d:
            per = max(1, d["open_before"]) * max(d["cpu_seconds"]["seconds"], 1e-9) / 60
            lines.append(
                "| D: CPU while idle, per socket per minute | "
                + ", ".join(
                    f"{role} {_f(1e6 * d['cpu_seconds'][role] / per, 1)} µs"
                    for role in ("server", "redis")
                    if role in d["cpu_seconds"]
                )
                + " | |"
            )
    e = cde.get("E")
    if e:
        lines += [
            f"| E: closed all {e['closed']} at once | in {_f(e['close_seconds'], 2)} s | |",
            f"| E: room group members left in Redis | {e['room_group_members']} "
            f"(after {_f(e['clean_seconds'], 1)} s) | {_ok(e['room_group_members'] == 0)} |",
            f"| E: presence entries left | {e['presence_entries']} "
            f"| {_ok(e['presence_entries'] == 0)} |",
            f"| E: user group members left | {e['user_group_members']} "
            f"| {_ok(e['user_group_members'] == 0)} |",
        ]
    return [*lines, ""]
