"""`python -m bench`: start each target, run the chosen scenarios on it, print Markdown, and
write the raw results to bench/results/latest.json.

Progress goes to stderr and the tables to stdout, so `python -m bench > report.md` keeps a
clean report. Every process started here (redis-servers, Daphne workers, the raw server, the
client processes) is stopped before exit, also on Ctrl+C. Server logs stay in
bench/results/run/ until the next run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import secrets
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from . import cluster, fixtures, report, scenarios, uploads
from .loadgen import ClientPool

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_RATES = "5,10,25,50,100,150,200,300,400,600,800,1000,1500,2000,3000"


def csv(kind: type) -> Any:
    return lambda text: [kind(part) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Fan-out of the chat site on real Daphne workers and Redis, beside the "
        "Channels tutorial consumer and a raw websockets server.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--targets", type=csv(str), default="product,tutorial,raw", help="comma-separated"
    )
    p.add_argument(
        "--scenarios",
        type=csv(str.upper),
        default="A,B,C,D,E,G",
        help="C, D, E, F, G: product only (F runs when named)",
    )
    p.add_argument("--workers", type=int, default=2, help="Daphne workers (product, tutorial)")
    p.add_argument(
        "--tutorial-layer",
        choices=["core", "pubsub"],
        default="core",
        help="the tutorial peer's channels-redis layer",
    )
    p.add_argument("--clients", type=int, default=2, help="load generator processes")
    p.add_argument("--connect-concurrency", type=int, default=100, help="handshakes at once")
    p.add_argument("--p99-ms", type=float, default=100.0, help="a step's p99 latency limit")
    p.add_argument(
        "--drain-seconds",
        type=float,
        default=10.0,
        help="after a step, what has not arrived when nothing arrived for this long is lost",
    )
    p.add_argument(
        "--drain-cap", type=float, default=120.0, help="after a step, wait at most this long"
    )
    a = p.add_argument_group("A: one room, a ladder of send rates")
    a.add_argument("--a-sockets", type=int, default=200, help="sockets in the room")
    a.add_argument("--a-senders", type=int, default=5, help="of them, senders")
    a.add_argument("--rates", type=csv(float), default=DEFAULT_RATES, help="total msgs/s")
    a.add_argument("--step-seconds", type=float, default=5.0, help="sending time per step")
    b = p.add_argument_group("B: many small rooms")
    b.add_argument("--b-rooms", type=int, default=100, help="rooms")
    b.add_argument("--b-room-size", type=int, default=5, help="sockets per room")
    b.add_argument("--b-rate", type=float, default=1.0, help="msgs/s per socket")
    b.add_argument("--b-seconds", type=float, default=20.0, help="sending time")
    c = p.add_argument_group("C, D, E: idle sockets on the product")
    c.add_argument("--idle", type=int, default=2000, help="idle sockets")
    c.add_argument("--idle-room-size", type=int, default=20, help="idle sockets per room")
    c.add_argument("--hold-seconds", type=float, default=30.0, help="D: idle time")
    c.add_argument("--e-timeout", type=float, default=60.0, help="max wait for a clean Redis")
    f = p.add_argument_group(
        "F: members spread over many rooms, live unread counts (`activity`) on the product"
    )
    f.add_argument("--f-users", type=int, default=200, help="users, one socket each")
    f.add_argument("--f-rooms", type=int, default=400, help="rooms")
    f.add_argument(
        "--f-rooms-per-user", type=int, default=20, help="rooms each user is a member of"
    )
    f.add_argument(
        "--f-senders", type=int, default=50, help="users who send, into their socket's room"
    )
    f.add_argument("--f-rate", type=float, default=100.0, help="total msgs/s")
    f.add_argument("--f-seconds", type=float, default=20.0, help="sending time")
    f.add_argument("--f-seed", type=int, default=12, help="draws the memberships and senders")
    g = p.add_argument_group("G: uploads on the product, and the room's latency meanwhile")
    g.add_argument(
        "--g-mib", type=float, default=8.0, help="the file's size (CHAT_UPLOAD_MAX_BYTES: 10 MiB)"
    )
    g.add_argument("--g-runs", type=int, default=5, help="uploads of each kind timed alone")
    g.add_argument("--g-sockets", type=int, default=20, help="sockets in the room, all senders")
    g.add_argument("--g-rate", type=float, default=20.0, help="total msgs/s in the room")
    g.add_argument("--g-seconds", type=float, default=5.0, help="sending time of each step")
    d = p.add_argument_group("database")
    d.add_argument("--database", choices=["auto", "postgres", "sqlite"], default="auto")
    d.add_argument(
        "--pg-admin-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help=f"where to drop and create the database {cluster.PG_DATABASE}",
    )
    p.add_argument(
        "--output", type=Path, default=RESULTS / "latest.json", help="raw results (JSON)"
    )
    options = p.parse_args(argv)  # string defaults go through `type` too
    unknown = set(options.targets) - {"product", "tutorial", "raw"}
    if unknown:
        p.error(f"unknown targets: {', '.join(sorted(unknown))}")
    unknown = set(options.scenarios) - set("ABCDEFG")
    if unknown:
        p.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return options


def raise_fd_limit() -> int:
    """Thousands of sockets need thousands of descriptors, in every process started here."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 65536
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, hard), hard))
    return hard


def interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def accounts_needed(options: argparse.Namespace) -> int:
    wanted = [1]
    if "A" in options.scenarios:
        wanted.append(options.a_sockets)
    if "B" in options.scenarios:
        wanted.append(options.b_rooms * options.b_room_size)
    if set("CDE") & set(options.scenarios):
        wanted.append(options.idle)
    if "G" in options.scenarios:
        wanted.append(options.g_sockets)
    return max(wanted)


def prepare_product(
    options: argparse.Namespace, run_dir: Path, config: dict[str, Any]
) -> tuple[
    cluster.Database,
    str,
    list[fixtures.Account],
    dict[str, list[str]],
    list[fixtures.Account],
]:
    """The database, migrated, with the users, sessions and rooms the scenarios need; F has
    users of its own (its memberships would otherwise add to the other scenarios')."""
    database = cluster.Database.create(options.database, run_dir, options.pg_admin_url)
    config["database_version"] = database.version
    secret_key = "bench-" + secrets.token_urlsafe(50)
    env = cluster.product_env(database, secret_key, None)
    log(f"product: migrating {database.version} ({database.url})")
    cluster.migrate(env, run_dir / "migrate.log")
    cluster.collectstatic(env, run_dir / "static", run_dir / "collectstatic.log")
    fixtures.setup(env)
    started = time.monotonic()
    accounts = fixtures.make_accounts(accounts_needed(options))
    owner = fixtures.make_accounts(1, fixtures.OWNER)[0]
    slugs = {
        name: fixtures.make_rooms(owner, make(options))
        for name, make in scenarios.ROOM_NAMES.items()
        if name in options.scenarios or (name == "C" and set("CDE") & set(options.scenarios))
    }
    slugs["login"] = fixtures.make_rooms(owner, ["bench-login"])
    f_accounts: list[fixtures.Account] = []
    if "F" in options.scenarios:
        plan = scenarios.f_plan(options)
        f_accounts = fixtures.make_accounts(options.f_users, fixtures.F_USERNAME)
        slugs["F"] = fixtures.make_member_rooms(
            owner, plan.rooms, list(zip(f_accounts, plan.member_rooms, strict=True))
        )
    fixtures.close_connections()
    log(
        f"product: {len(accounts) + len(f_accounts) + 1} users with sessions, "
        f"{sum(len(s) for s in slugs.values())} rooms in {time.monotonic() - started:.1f} s"
    )
    return database, secret_key, accounts, slugs, f_accounts


def check_login(target: cluster.Target, accounts: list[fixtures.Account], slug: str) -> str:
    """One user logs in through the login form and opens a socket with that session: the
    path a browser takes works, and the benchmark's made-up sessions are the same thing."""
    from websockets.sync.client import connect

    key = fixtures.login_over_http(target.origin(0), accounts[-1].username)
    with connect(
        target.ws_url(1, slug),  # the other worker, as a browser's next page might
        additional_headers={"Cookie": f"sessionid={key}"},
        origin=target.origin(1),
        compression=None,
        open_timeout=30,
    ) as ws:
        frame = json.loads(ws.recv(timeout=30))
    if frame.get("type") != "ready":
        raise RuntimeError(f"a socket after an HTTP login got {frame.get('type')!r}, not ready")
    return "an HTTP login (login form, CSRF) then a socket on another worker: ready received"


def run_target(
    name: str,
    options: argparse.Namespace,
    pool: ClientPool,
    run_dir: Path,
    product: tuple | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"problems": [], "notes": [], "logs": []}

    def start() -> cluster.Target:
        if name == "product":
            database, secret_key = product[0], product[1]
            return cluster.start_product(
                database, secret_key, options.workers, run_dir, run_dir / "static"
            )
        if name == "tutorial":
            return cluster.start_tutorial(options.workers, run_dir, options.tutorial_layer)
        return cluster.start_raw(run_dir)

    def finish(target: cluster.Target) -> None:
        if target.stopped:
            return
        out["problems"] += target.dead()
        out["notes"] += target.notes
        out["logs"] += [str(p) for p in target.logs if str(p) not in out["logs"]]
        target.stop()

    log(f"{name}: starting")
    target = start()
    try:
        ctx = scenarios.Context(target, pool, options, log)
        if name == "product":
            database, _, accounts, slugs, f_accounts = product
            ctx.accounts, ctx.slugs = accounts, slugs
            if "F" in options.scenarios:
                ctx.f_plan, ctx.f_accounts = scenarios.f_plan(options), f_accounts
            ctx.measure_db = database.kind == "postgresql"
            try:
                target.notes.append(check_login(target, accounts, slugs["login"][0]))
                log(f"{name}: {target.notes[-1]}")
            except Exception as exc:  # worth reporting, not worth skipping the scenarios
                out["problems"].append(f"the HTTP login check failed: {exc!r}")
        if "A" in options.scenarios:
            log(f"{name}: scenario A")
            out["A"] = scenarios.scenario_a(ctx)
        if "B" in options.scenarios:
            log(f"{name}: scenario B")
            out["B"] = scenarios.scenario_b(ctx)
        if name == "product" and "G" in options.scenarios:
            log(f"{name}: scenario G")
            out["G"] = uploads.scenario_g(ctx)
        if name == "product" and "F" in options.scenarios:
            if "A" in out or "B" in out or "G" in out:
                # Fresh workers and Redis, as for C: the handshakes' CPU and memory compare.
                log(f"{name}: restarting the workers and Redis for F")
                finish(target)
                target = ctx.target = start()
            log(f"{name}: scenario F")
            out["F"] = scenarios.scenario_f(ctx)
        cde = set("CDE") & set(options.scenarios)
        if name == "product" and cde:
            if "A" in out or "B" in out or "F" in out or "G" in out:
                # Fresh workers and Redis: the memory per socket is measured from a baseline
                # that A and B's sockets have not already grown.
                log(f"{name}: restarting the workers and Redis for C")
                finish(target)
                target = ctx.target = start()
            log(f"{name}: scenarios {', '.join(sorted(cde))}")
            out["CDE"] = scenarios.scenario_cde(ctx, cde)
    except Exception as exc:
        log(f"{name}: failed: {exc!r}")
        out["problems"].append(f"the run failed: {exc!r}")
        with contextlib.suppress(Exception):
            pool.call("close_all", {})
    finally:
        finish(target)
    return out


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    # SIGTERM unwinds like Ctrl+C, so that the finally blocks stop every process.
    signal.signal(signal.SIGTERM, interrupt)
    fd_limit = raise_fd_limit()
    results: dict[str, Any] = {
        "machine": report.machine(),
        "config": {
            **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(options).items()},
            "fd_limit": fd_limit,
        },
        "targets": {},
    }
    log(f"machine: {results['machine']['cpu']}, {results['machine']['cores']} cores")
    # Server logs, the SQLite file and Redis' directory, kept until the next run.
    run_dir = options.output.parent / "run"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    pool = ClientPool(options.clients)
    try:
        product = None
        if "product" in options.targets:
            product = prepare_product(options, run_dir, results["config"])
        for name in options.targets:
            results["targets"][name] = run_target(name, options, pool, run_dir, product)
            for problem in results["targets"][name]["problems"]:
                log(f"{name}: {problem[:3000]}")
    except KeyboardInterrupt:
        log("interrupted; stopping everything")
        results["interrupted"] = True
    except Exception:  # setting up the product failed: still report what there is
        results["error"] = traceback.format_exc()
        log(results["error"])
    finally:
        pool.close()
    options.output.write_text(json.dumps(results, indent=1, default=str))
    print(report.render(results))
    log(f"raw results: {options.output}")
    problems = any(t.get("problems") for t in results["targets"].values())
    return 1 if problems or results.get("interrupted") or results.get("error") else 0


if __name__ == "__main__":
    sys.exit(main())
