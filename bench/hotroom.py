"""`python -m bench.hotroom`: how long a post holds its room's lock, and the one-room ceiling.

Posts into one room are serialised on the room's row (`chat.writing.lock_for_write`), so that
ids in a room follow commit order. One room can therefore take at most 1 / (the time a post
holds that lock) messages a second, however many workers and cores there are. This measures
that time under contention: `--posters` processes (as Daphne workers would be, each with its
own database connection) post into one room at once through `chat.messages.post`, the whole
service with every check, and for each post the time

- `wait`: the lock statement, from sent to returned (waiting for the previous holder);
- `hold`: from the lock statement's return to COMMIT's return (what the next post waits for);
- `post`: the whole call, broadcast handed over included;
- `CPU per post`: the posting processes' own CPU time (not PostgreSQL's) per post.

Each process posts as a consumer does: from an event loop, through `database_sync_to_async`,
its broadcasts handed back to the loop (the in-memory channel layer, to a room nobody hears).

It then checks what the lock is for: every message stored once, and ids in the order of the
commits. Prints Markdown; the raw figures go to bench/results/hotroom-<engine>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import statistics
import sys
import time
import uuid

from bench.search import PG_ADMIN_URL, RESULTS, make_database, progress, use_database

PG_NAME = "chat_hotroom_bench"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.hotroom",
        description="The time a post holds its room's lock, and the one-room ceiling.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--engine", choices=["postgresql", "sqlite"], default="postgresql")
    p.add_argument("--posters", default="1,2,4", help="processes posting at once, per round")
    p.add_argument("--posts", type=int, default=1000, help="per process and round")
    p.add_argument("--pg-admin-url", default=PG_ADMIN_URL, help="to drop and create the database")
    return p.parse_args(argv)


def make_room(posters: int) -> tuple[int, list[int]]:
    from django.contrib.auth import get_user_model

    from chat.models import Membership, Room

    room = Room.objects.create(slug="hot", name="Hot room")
    users = [
        get_user_model().objects.create(username=f"hot{index:03d}") for index in range(posters)
    ]
    for user in users:
        Membership.objects.create(room=room, user=user, role=Membership.Role.MEMBER)
    return room.pk, [user.pk for user in users]


def poster(url: str, room_id: int, user_id: int, posts: int, start, results) -> None:
    """One process, as one worker's database thread would post."""
    use_database(url, PG_NAME)
    from channels.db import database_sync_to_async
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from chat import messages
    from chat.models import Room

    user = get_user_model().objects.get(pk=user_id)
    room = Room.objects.get(pk=room_id)
    marks: dict[str, float] = {}

    sqlite = connection.vendor == "sqlite"

    def timed(execute, sql, params, many, context):
        if sqlite:  # the write lock was taken at BEGIN (IMMEDIATE), just before
            if marks.pop("armed", False):
                transaction.on_commit(lambda: marks.__setitem__("committed", time.perf_counter()))
            return execute(sql, params, many, context)
        if "FOR UPDATE" not in sql:
            return execute(sql, params, many, context)
        sent = time.perf_counter()
        result = execute(sql, params, many, context)
        marks["wait"] = time.perf_counter() - sent
        marks["locked"] = time.perf_counter()
        transaction.on_commit(lambda: marks.__setitem__("committed", time.perf_counter()))
        return result

    def post_timed(index: int) -> tuple[float, float, float]:
        """In the database thread, as a consumer posts (`database_sync_to_async`)."""
        if sqlite and not marks.get("patched"):
            marks["patched"] = True
            begin_original = connection._start_transaction_under_autocommit

            def begin():
                sent = time.perf_counter()
                begin_original()
                marks["wait"] = time.perf_counter() - sent
                marks["locked"] = time.perf_counter()
                marks["armed"] = True

            connection._start_transaction_under_autocommit = begin
        sent = time.perf_counter()
        with connection.execute_wrapper(timed):
            messages.post(
                author=user,
                room=room,
                body=f"直播弹幕 {index} from {user.username}: 好!",
                client_id=uuid.uuid4().hex,
            )
        done = time.perf_counter()
        return marks["wait"], marks["committed"] - marks["locked"], done - sent

    async def run() -> list[tuple[float, float, float]]:
        post = database_sync_to_async(post_timed)
        return [await post(index) for index in range(posts)]

    start.wait()
    began, cpu = time.perf_counter(), time.process_time()
    timings = asyncio.run(run())
    results.put(
        {
            "timings": timings,
            "elapsed": time.perf_counter() - began,
            "cpu": time.process_time() - cpu,
        }
    )


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def round_of(url: str, room_id: int, user_ids: list[int], posts: int) -> dict:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(len(user_ids))
    results = context.Queue()
    processes = [
        context.Process(target=poster, args=(url, room_id, user_id, posts, start, results))
        for user_id in user_ids
    ]
    for process in processes:
        process.start()
    outcomes = [results.get() for _ in processes]
    for process in processes:
        process.join()
    timings = [timing for outcome in outcomes for timing in outcome["timings"]]
    elapsed = max(outcome["elapsed"] for outcome in outcomes)
    wait, hold, post = ([timing[i] * 1000 for timing in timings] for i in range(3))
    return {
        "posters": len(user_ids),
        "posts": len(timings),
        "msgs_per_s": len(timings) / elapsed,
        "wait_ms": {"p50": percentile(wait, 0.5), "p99": percentile(wait, 0.99)},
        "hold_ms": {
            "mean": statistics.fmean(hold),
            "p50": percentile(hold, 0.5),
            "p99": percentile(hold, 0.99),
        },
        "post_ms": {"p50": percentile(post, 0.5), "p99": percentile(post, 0.99)},
        "ceiling_msgs_per_s": 1000 / statistics.fmean(hold),
        "cpu_us_per_post": 1e6 * sum(outcome["cpu"] for outcome in outcomes) / len(timings),
    }


def check_order(room_id: int, expected: int) -> dict:
    """Every post stored once; ids in commit order: each message's `created` (taken before its
    INSERT, under the lock) is not earlier than the previous id's."""
    from chat.models import Message

    rows = list(Message.objects.filter(room_id=room_id).order_by("id").values_list("created"))
    ordered = all(a[0] <= b[0] for a, b in itertools.pairwise(rows))
    return {"stored": len(rows), "expected": expected, "ids_in_commit_order": ordered}


def report(engine: str, rounds: list[dict], order: dict) -> str:
    lines = [
        f"### One hot room on {engine}: the time a post holds the room's lock",
        "",
        "| posters | posts | msgs/s | post p50 / p99 ms | lock wait p50 / p99 ms "
        "| lock held mean / p50 / p99 ms | ceiling (1 / mean held) | CPU per post |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rounds:
        lines.append(
            f"| {r['posters']} | {r['posts']} | {r['msgs_per_s']:,.0f} "
            f"| {r['post_ms']['p50']:.2f} / {r['post_ms']['p99']:.2f} "
            f"| {r['wait_ms']['p50']:.2f} / {r['wait_ms']['p99']:.2f} "
            f"| {r['hold_ms']['mean']:.2f} / {r['hold_ms']['p50']:.2f} / {r['hold_ms']['p99']:.2f} "
            f"| {r['ceiling_msgs_per_s']:,.0f} msgs/s | {r['cpu_us_per_post']:,.0f} µs |"
        )
    lines += [
        "",
        f"Stored {order['stored']} of {order['expected']}; ids in commit order: "
        f"{'yes' if order['ids_in_commit_order'] else '**no**'}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    counts = [int(count) for count in args.posters.split(",")]
    url = make_database(args.engine, args.pg_admin_url, PG_NAME)
    use_database(url, PG_NAME)
    from django.core.management import call_command
    from django.db import connections

    call_command("migrate", verbosity=0)
    room_id, user_ids = make_room(max(counts))
    connections.close_all()
    rounds = []
    for count in counts:
        progress(f"{count} posting processes, {args.posts} posts each")
        rounds.append(round_of(url, room_id, user_ids[:count], args.posts))
    order = check_order(room_id, sum(count * args.posts for count in counts))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"hotroom-{args.engine}.json").write_text(
        json.dumps({"rounds": rounds, "order": order}, indent=2)
    )
    print(report(args.engine, rounds, order))
    if order["stored"] != order["expected"] or not order["ids_in_commit_order"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
