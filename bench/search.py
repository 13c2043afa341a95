"""`python -m bench.search`: search over many messages of mixed Chinese and English.

Builds a database of its own (PostgreSQL: `chat_search_bench`, dropped and made again;
SQLite: a file under bench/results/), migrates it, fills it with `--messages` messages in
`--rooms` private rooms, a searcher being a member of `--member-of` of them, and then measures:

- the latency of `GET /api/search/` through Django's whole request stack in this process (no
  network, no Daphne) for a one-character and a two-character Chinese query and an English
  prefix, as the median and 95th percentile of `--requests` requests each;
- the size of the search index (PostgreSQL: the GIN index; SQLite: the FTS5 tables) and of the
  search text column it is made from;
- what indexing adds to a post: the worker's CPU for `chat.search.index_text` per message, and
  the database's time for an insert with the index against one without it.

Messages are written with COPY (PostgreSQL) or executemany (SQLite), their search text made by
the same tokenizer as a post's, so that a million take minutes rather than an evening. Prints
Markdown; the raw figures go to bench/results/search-<engine>.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_NAME = "chat_search_bench"
QUERIES = {
    "one Chinese character": "好",
    "two Chinese characters": "聊天",
    "English prefix": "sock",
}

# Words to make messages from: common Chinese words (written without spaces), English words
# (some sharing the prefix searched for), and a few of both kinds of noise a chat has.
CHINESE = (
    "你好 好的 我们 今天 明天 会议 项目 进度 问题 服务器 部署 测试 代码 文档 聊天 聊天室 "
    "大家 谢谢 没问题 可以 需要 已经 还是 因为 所以 如果 这个 那个 什么 时候 下午 上午 "
    "开会 讨论 设计 发布 版本 用户 数据 数据库 网络 连接 断开 重新 检查 修复 错误 日志 "
    "周末 吃饭 咖啡 天气 很好 不错 辛苦 加油 收到 稍等 马上 一下 看看 觉得 应该 同意"
).split()
ENGLISH = (
    "the a to and of we is it on for deploy server socket sockets websocket release build "
    "test tests review merge branch commit fix bug issue meeting today tomorrow lunch coffee "
    "thanks please check logs error timeout retry database index query search room message "
    "client worker redis postgres latency p95 dashboard alert ticket ship looks good done"
).split()
PUNCTUATION_ZH = "，。！？、"  # noqa: RUF001 (Chinese punctuation, on purpose)


def message_body(rng: random.Random) -> str:
    """Half Chinese, a third English, the rest both; sometimes a mention or a link."""
    kind = rng.random()
    if kind < 0.5:
        parts = [
            "".join(rng.choices(CHINESE, k=rng.randint(2, 5))) for _ in range(rng.randint(1, 3))
        ]
        body = rng.choice(PUNCTUATION_ZH).join(parts) + rng.choice(PUNCTUATION_ZH)
    elif kind < 0.83:
        body = " ".join(rng.choices(ENGLISH, k=rng.randint(3, 14)))
    else:
        body = (
            "".join(rng.choices(CHINESE, k=rng.randint(1, 4)))
            + " "
            + " ".join(rng.choices(ENGLISH, k=rng.randint(1, 5)))
        )
    if rng.random() < 0.05:
        body += f" @user{rng.randint(0, 99)}"
    if rng.random() < 0.03:
        body += f" https://example.com/{rng.choice(ENGLISH)}/{rng.randint(1, 999)}"
    return body


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.search",
        description="Search latency, index size and indexing cost over generated messages.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--engine", choices=["postgresql", "sqlite"], default="postgresql")
    p.add_argument("--messages", type=int, help="default: 1,000,000 (PostgreSQL), 100,000 (SQLite)")
    p.add_argument("--rooms", type=int, default=1000)
    p.add_argument("--member-of", type=int, default=20, help="rooms the searcher is in")
    p.add_argument("--authors", type=int, default=100)
    p.add_argument("--requests", type=int, default=200, help="per query")
    p.add_argument("--pg-admin-url", default=PG_ADMIN_URL, help="to drop and create the database")
    p.add_argument("--seed", type=int, default=17)
    args = p.parse_args(argv)
    if args.messages is None:
        args.messages = 1_000_000 if args.engine == "postgresql" else 100_000
    return args


def make_database(engine: str, admin_url: str, name: str) -> str:
    """A fresh, empty database called `name`; its URL. PostgreSQL: dropped and made again;
    SQLite: a file under bench/results/."""
    if engine == "sqlite":
        RESULTS.mkdir(exist_ok=True)
        for leftover in RESULTS.glob(f"{name}.sqlite3*"):
            leftover.unlink()
        return f"sqlite:///{RESULTS / f'{name}.sqlite3'}"
    import psycopg

    admin_url = admin_url.replace("postgres://", "postgresql://")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + "/" + name


def use_database(url: str, name: str) -> None:
    """Django in this process, on that database, with the in-memory channel layer."""
    os.environ["DATABASE_URL"] = url
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SECRET_KEY", f"{name}-" + "k" * 50)
    os.environ.setdefault("DJANGO_DEBUG", "false")
    os.environ.setdefault("DJANGO_SECURE", "false")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    import django

    django.setup()


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def fill(args: argparse.Namespace) -> dict:
    """Authors, rooms, the searcher's memberships and the messages; what it took."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from chat import search
    from chat.models import Membership, Room

    user_model = get_user_model()
    rng = random.Random(args.seed)
    searcher = user_model.objects.create_user("searcher", password=None)
    authors = user_model.objects.bulk_create(
        [user_model(username=f"user{i}") for i in range(args.authors)]
    )
    author_ids = [a.pk for a in user_model.objects.filter(username__startswith="user")]
    Room.objects.bulk_create(
        [
            Room(slug=f"room-{i}", name=f"Room {i}", kind=Room.Kind.PRIVATE)
            for i in range(args.rooms)
        ]
    )
    room_ids = list(Room.objects.order_by("id").values_list("id", flat=True))
    mine = rng.sample(room_ids, args.member_of)
    Membership.objects.bulk_create([Membership(room_id=r, user=searcher) for r in mine])
    del authors

    start = datetime(2026, 1, 1, tzinfo=UTC)
    tokenize_cpu = 0.0
    began = time.perf_counter()
    columns = ("room_id", "author_id", "body", "html", "created", "search_text")

    def rows(first: int, count: int):
        nonlocal tokenize_cpu
        for n in range(first, first + count):
            body = message_body(rng)
            t = time.process_time()
            text = search.index_text(body)
            tokenize_cpu += time.process_time() - t
            yield (
                rng.choice(room_ids),
                rng.choice(author_ids),
                body,
                "",
                start + timedelta(seconds=n * 10),
                text,
            )

    batch = 50_000
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Loading first and indexing after is how a bulk load is done; posts index one by one.
            cursor.execute("DROP INDEX chat_message_search")
            raw = cursor.cursor
            for first in range(0, args.messages, batch):
                count = min(batch, args.messages - first)
                with raw.copy(f"COPY chat_message ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows(first, count):
                        copy.write_row(row)
                progress(f"  {first + count:,} messages")
            index_began = time.perf_counter()
            cursor.execute(search_migration().GIN)  # over the stored vector COPY filled
            index_seconds = time.perf_counter() - index_began
            cursor.execute("VACUUM ANALYZE chat_message")
        else:
            sql = (
                f"INSERT INTO chat_message ({', '.join(columns)}) "
                f"VALUES ({', '.join(['%s'] * len(columns))})"
            )
            for first in range(0, args.messages, batch):
                count = min(batch, args.messages - first)
                with transaction.atomic():
                    cursor.executemany(sql, list(rows(first, count)))
                progress(f"  {first + count:,} messages")
            index_seconds = None  # FTS5 is written row by row by its triggers, during the load
            cursor.execute("ANALYZE")
    return {
        "load_seconds": round(time.perf_counter() - began, 1),
        "index_build_seconds": None if index_seconds is None else round(index_seconds, 1),
        "tokenize_us_per_message": round(tokenize_cpu / args.messages * 1e6, 1),
        "searcher": searcher.pk,
    }


def search_migration():
    return importlib.import_module("chat.migrations.0008_search")


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def latencies(args: argparse.Namespace, searcher_id: int) -> dict:
    """p50 and p95 of GET /api/search/ per query, and how many messages each found a page of."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    settings.CHAT_RATE_LIMITS = {**settings.CHAT_RATE_LIMITS, "search": (10**9, 1.0)}
    settings.ALLOWED_HOSTS = ["*"]
    client = Client()
    client.force_login(get_user_model().objects.get(pk=searcher_id))
    results = {}
    for label, q in QUERIES.items():
        for _ in range(5):
            client.get("/api/search/", {"q": q})
        samples = []
        for _ in range(args.requests):
            began = time.perf_counter()
            response = client.get("/api/search/", {"q": q})
            samples.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, response.content
        page = response.json()
        older = client.get("/api/search/", {"q": q, "before": page["messages"][-1]["id"]})
        results[label] = {
            "query": q,
            "p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(percentile(samples, 0.95), 2),
            "found_on_page": len(page["messages"]),
            "second_page_ok": older.status_code == 200,
        }
        progress(
            f"  {label} {q!r}: p50 {results[label]['p50_ms']} ms, p95 {results[label]['p95_ms']} ms"
        )
    return results


def sizes() -> dict:
    """Bytes of the index and of the search text it is made from."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_relation_size('chat_message_search')")
            index = cursor.fetchone()[0]
            cursor.execute("SELECT sum(pg_column_size(search_text)) FROM chat_message")
            column = cursor.fetchone()[0]
            cursor.execute("SELECT pg_total_relation_size('chat_message')")
            table = cursor.fetchone()[0]
        else:
            cursor.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'chat_message_fts%'")
            index = cursor.fetchone()[0]
            cursor.execute("SELECT sum(length(CAST(search_text AS BLOB))) FROM chat_message")
            column = cursor.fetchone()[0]
            cursor.execute("SELECT sum(pgsize) FROM dbstat WHERE name = 'chat_message'")
            table = cursor.fetchone()[0]
    return {
        "index_bytes": int(index),
        "search_text_bytes": int(column),
        "messages_table_bytes": int(table),
    }


def insert_cost(args: argparse.Namespace, searcher_id: int, count: int = 5000) -> dict:
    """The database's time to insert `count` messages with their search index kept, and with
    it gone (PostgreSQL: the stored vector and its GIN index, GIN's pending list flushed before
    the clock stops, so the deferred work counts; SQLite: the FTS5 triggers); each run in a
    transaction rolled back. Inserted in one batch, so that the difference is the index's and
    not the noise of a round trip per row."""
    from django.db import connection, transaction

    from chat import search
    from chat.models import Membership, Message

    rng = random.Random(args.seed + 1)
    room_id = Membership.objects.filter(user_id=searcher_id).values_list("room_id", flat=True)[0]
    rows = [
        Message(room_id=room_id, author_id=searcher_id, body=b, search_text=search.index_text(b))
        for b in (message_body(rng) for _ in range(count))
    ]
    postgresql = connection.vendor == "postgresql"

    def run(drop: list[str]) -> float:
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in drop:
                cursor.execute(statement)
            began = time.perf_counter()
            Message.objects.bulk_create(rows, batch_size=1000)
            if postgresql and not drop:
                cursor.execute("SELECT gin_clean_pending_list('chat_message_search')")
            spent = time.perf_counter() - began
            for row in rows:
                row.pk = None
            transaction.set_rollback(True)
        return spent

    if postgresql:
        drop = search_migration().POSTGRESQL_DROP
    else:
        drop = [s for s in search_migration().FTS5_DROP if "TRIGGER" in s]
    run([])  # warm
    with_index = min(run([]) for _ in range(5))
    without = min(run(drop) for _ in range(5))
    return {
        "insert_us_with_index": round(with_index / count * 1e6, 1),
        "insert_us_without_index": round(without / count * 1e6, 1),
        "index_us_per_insert": round((with_index - without) / count * 1e6, 1),
    }


def tokenizer_cpu(args: argparse.Namespace, count: int = 20000) -> float:
    """Microseconds of CPU per message for the tokenizer alone, over typical bodies."""
    from chat import search

    rng = random.Random(args.seed + 2)
    bodies = [message_body(rng) for _ in range(count)]
    began = time.process_time()
    for body in bodies:
        search.index_text(body)
    return round((time.process_time() - began) / count * 1e6, 1)


def report(args: argparse.Namespace, result: dict) -> str:
    mib = 1024 * 1024
    lines = [
        f"### Search on {args.engine} ({args.messages:,} messages, {args.rooms:,} rooms, "
        f"the searcher in {args.member_of})",
        "",
        "| query | p50 | p95 | found on the first page |",
        "|---|---:|---:|---:|",
    ]
    for label, row in result["latency"].items():
        lines.append(
            f"| {label} `{row['query']}` | {row['p50_ms']} ms | {row['p95_ms']} ms | "
            f"{row['found_on_page']} |"
        )
    s, c = result["sizes"], result["insert"]
    lines += [
        "",
        f"- index {s['index_bytes'] / mib:.0f} MiB; the search text it is made from "
        f"{s['search_text_bytes'] / mib:.0f} MiB; "
        f"the messages table {s['messages_table_bytes'] / mib:.0f} MiB",
        f"- worker CPU for the tokenizer per post: {result['tokenizer_us']} µs",
        f"- database time per message inserted in a batch: {c['insert_us_with_index']} µs with "
        f"the index, {c['insert_us_without_index']} µs without "
        f"({c['index_us_per_insert']} µs for the index)",
        f"- loading took {result['fill']['load_seconds']} s"
        + (
            f", building the index {result['fill']['index_build_seconds']} s"
            if result["fill"]["index_build_seconds"] is not None
            else ""
        ),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    progress(f"Making the {args.engine} database")
    use_database(make_database(args.engine, args.pg_admin_url, PG_NAME), PG_NAME)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    progress(f"Writing {args.messages:,} messages")
    filled = fill(args)
    progress("Searching")
    result = {
        "engine": args.engine,
        "messages": args.messages,
        "rooms": args.rooms,
        "member_of": args.member_of,
        "fill": filled,
        "latency": latencies(args, filled["searcher"]),
        "sizes": sizes(),
        "insert": insert_cost(args, filled["searcher"]),
        "tokenizer_us": tokenizer_cpu(args),
    }
    (RESULTS / f"search-{args.engine}.json").write_text(json.dumps(result, indent=2))
    print(report(args, result))


if __name__ == "__main__":
    main()
