"""`python -m bench.memory`: what an idle socket's memory in a worker is made of.

Scenario C measures the workers' RSS per idle socket; this says where it goes. One Daphne
worker of the product runs under `tracemalloc`; `--sockets` idle room sockets (rooms of 20, as
in C) are opened on it through the real cookie and session path, and the Python memory
allocated meanwhile, still held once the sockets are idle, is divided by their number and
grouped by the package that allocated it (the innermost frame of each allocation). RSS also
holds the allocator's free lists and fragmentation, which tracemalloc does not see: the
difference is reported as such. Prints Markdown; the figures also go to
bench/results/memory/result.json. About five minutes for 1,000 sockets: tracing slows the
worker down many times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from collections import Counter
from pathlib import Path

from bench import cluster, fixtures
from bench.search import PG_ADMIN_URL

RUN = Path(__file__).resolve().parent / "results" / "memory"
# Where an allocation's file lies says whose it is; the first match wins.
PACKAGES = (
    "autobahn",
    "twisted",
    "daphne",
    "channels_redis",
    "channels",
    "redis",
    "asgiref",
    "django",
    "asyncio",
    "/chat/",
)


def traced_daphne() -> None:
    """The worker: Daphne, with every allocation traced; SIGUSR1 dumps a snapshot."""
    tracemalloc.start(1)
    out = os.environ["TRACEMALLOC_OUT"]

    def dump(*_: object) -> None:
        tracemalloc.take_snapshot().dump(out)
        Path(out + ".done").touch()

    signal.signal(signal.SIGUSR1, dump)
    from daphne.cli import CommandLineInterface

    sys.argv = ["daphne", *sys.argv[2:]]
    CommandLineInterface.entrypoint()


def snapshot(process: subprocess.Popen) -> tracemalloc.Snapshot:
    path = RUN / "snapshot.trace"
    done = Path(f"{path}.done")
    done.unlink(missing_ok=True)
    process.send_signal(signal.SIGUSR1)
    cluster.wait_until(done.exists, 120, "a tracemalloc snapshot")
    return tracemalloc.Snapshot.load(str(path))


def package_of(filename: str) -> str:
    for package in PACKAGES:
        if f"/{package.strip('/')}/" in filename:
            return package.strip("/")
    return "other: " + filename.rsplit("/", 1)[-1]


async def open_sockets(port: int, accounts: list, slugs: list[str], room_size: int) -> list:
    import websockets

    sockets = []
    for index, account in enumerate(accounts):
        socket = await websockets.connect(
            f"ws://127.0.0.1:{port}/ws/rooms/{slugs[index // room_size]}/",
            additional_headers={"Cookie": f"sessionid={account.session_key}"},
            origin=f"http://127.0.0.1:{port}",
            compression=None,
        )
        while True:  # until `ready`, skipping presence
            if '"type":"ready"' in (await socket.recv()).replace(" ", ""):
                break
        sockets.append(socket)
    return sockets


async def measure(args: argparse.Namespace, process, port: int, accounts, slugs) -> dict:
    rss_before = cluster.rss_kib([process.pid])
    before = snapshot(process)
    sockets = await open_sockets(port, accounts, slugs, args.room_size)
    await asyncio.sleep(args.settle)  # presence announcements and the first sends are over
    after = snapshot(process)
    rss_after = cluster.rss_kib([process.pid])
    for socket in sockets:
        await socket.close()
    by_package: Counter[str] = Counter()
    lines = []
    for stat in after.compare_to(before, "lineno"):
        frame = stat.traceback[0]
        by_package[package_of(frame.filename)] += stat.size_diff
        lines.append(
            (stat.size_diff, f"{frame.filename.split('site-packages/')[-1]}:{frame.lineno}")
        )
    lines.sort(reverse=True)
    return {
        "sockets": len(sockets),
        "rss_kib": (rss_after - rss_before) / len(sockets),
        "traced_kib": sum(by_package.values()) / 1024 / len(sockets),
        "by_package": {name: size / 1024 / len(sockets) for name, size in by_package.items()},
        "lines": [(size / len(sockets), where) for size, where in lines[: args.top]],
    }


def report(result: dict) -> str:
    out = [
        f"Per idle room socket, {result['sockets']} sockets on one worker: RSS "
        f"{result['rss_kib']:.1f} KiB, of it traced by tracemalloc {result['traced_kib']:.1f} KiB "
        "(the rest: the allocator's free lists and fragmentation, and C libraries' own memory).",
        "",
        "| allocated in | KiB per socket |",
        "| --- | --- |",
    ]
    rows = sorted(result["by_package"].items(), key=lambda item: -item[1])
    out += [f"| {name} | {kib:.2f} |" for name, kib in rows if abs(kib) >= 0.05]
    out += ["", "| bytes per socket | where |", "| --- | --- |"]
    out += [f"| {size:,.0f} | `{where}` |" for size, where in result["lines"]]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--sockets", type=int, default=1000)
    parser.add_argument("--room-size", type=int, default=20)
    parser.add_argument("--settle", type=float, default=5.0, help="seconds idle before measuring")
    parser.add_argument("--top", type=int, default=20, help="source lines listed")
    parser.add_argument("--database", choices=["auto", "postgres", "sqlite"], default="auto")
    args = parser.parse_args(argv)
    RUN.mkdir(parents=True, exist_ok=True)
    database = cluster.Database.create(args.database, RUN, PG_ADMIN_URL)
    redis = cluster.RedisServer(RUN / "redis")
    redis.start()
    env = {
        **os.environ,
        **cluster.product_env(database, "bench-memory-" + "k" * 50, redis.url),
        "TRACEMALLOC_OUT": str(RUN / "snapshot.trace"),
    }
    process = None
    try:
        log = RUN / "daphne.log"
        cluster.migrate(env, log)
        fixtures.setup(env)
        accounts = fixtures.make_accounts(args.sockets)
        owner = fixtures.make_accounts(1, "benchmemowner{:05d}")[0]
        names = [f"mem-{i}" for i in range(-(-args.sockets // args.room_size))]
        slugs = fixtures.make_member_rooms(owner, names, [])
        fixtures.close_connections()
        port = cluster.free_port()
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "bench.memory", "--traced-daphne"),
                *("-b", "127.0.0.1", "-p", str(port), "chatsite.asgi:application"),
            ],
            cwd=cluster.ROOT,
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        cluster.wait_until(lambda: cluster.port_answers("127.0.0.1", port), 60, "daphne")
        time.sleep(1)
        result = asyncio.run(measure(args, process, port, accounts, slugs))
    finally:
        cluster.stop_process(process)
        redis.stop()
    (RUN / "result.json").write_text(json.dumps(result, indent=2))
    print(report(result))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--traced-daphne"]:
        traced_daphne()
    else:
        main()
