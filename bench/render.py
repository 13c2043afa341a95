"""`python -m bench.render`: what rendering one message body costs (chat.richtext.render).

Every message is rendered from Markdown to HTML once, when it is stored or edited (in
`chat.messages.post` and `edit`, in the worker's database thread). This times that call with
`timeit` on a few typical bodies, in this process, on one core, and splits it into its two
parts: markdown-it-py (parse and render) and nh3 (the allowlist cleaner). `escape only` is
`html.escape` of the body, the floor of what a plain-text fast path would cost.

The figures explain the per-message difference scenario B shows between a commit without
rendering and one with it (docs/performance.md); they are per call, on an otherwise idle
interpreter, so they are a lower bound of what the call costs in a busy worker.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import timeit
from typing import Any

# The load generator's own body (bench/loadgen.py), what scenarios A, B and F store.
BENCH_BODY = '{"st":1,"s":42,"q":17,"t":12345.678901}'
# Chinese punctuation is full-width on purpose: it is what such a body holds.
CHINESE = (
    "今天下午三点在二楼会议室开会，讨论下个版本的发布计划。请大家提前看一下文档，"  # noqa: RUF001
    "把问题写在评论里。如果有时间冲突，请在群里说一声，我们再调整。谢谢大家！"  # noqa: RUF001
)

BODIES: list[tuple[str, str, tuple[str, ...]]] = [
    ("plain text, one line", "Sure, I'll be there in ten minutes, see you at the entrance.", ()),
    ("the benchmark's body (JSON text)", BENCH_BODY, ()),
    (
        "**bold**, a bare URL and a [link](...)",
        "This is **important**: read https://example.com/docs/setup first, then "
        "[the guide](https://example.org/guide) before Friday.",
        (),
    ),
    ("an @mention of a member", "@alice can you look at the failing build? Thanks!", ("alice",)),
    (
        "a fenced code block (6 lines) and `inline` code",
        "Try this:\n```python\ndef total(items):\n    return sum(i.price for i in items)\n\n"
        "print(total(cart))\n```\nthen run `make test` again.",
        (),
    ),
    ("4,000 characters of Chinese", (CHINESE * 60)[:4000], ()),
    (
        "4,000 characters of English prose",
        ("The quick brown fox jumps over the lazy dog, twice, and then it rests. " * 60)[:4000],
        (),
    ),
]


def best_us(call: Any, repeat: int) -> float:
    """The fastest of `repeat` runs of `timeit`'s autorange, per call, in µs: the least
    disturbed by whatever else the machine runs."""
    timer = timeit.Timer(call)
    number, _ = timer.autorange()
    return 1e6 * min(timer.repeat(repeat=repeat, number=number)) / number


def measure(repeat: int) -> list[dict[str, Any]]:
    import nh3

    from chat import richtext

    md = richtext._markdown  # the module's configured parser: the same work render() does

    def clean(text: str) -> str:
        return nh3.clean(
            text,
            tags=richtext.TAGS,
            attributes=richtext.ATTRIBUTES,
            url_schemes=richtext.URL_SCHEMES,
            link_rel=richtext.LINK_REL,
            set_tag_attribute_values={"a": {"target": "_blank"}},
        )

    rows = []
    for name, body, members in BODIES:
        rendered = md.render(body)
        rows.append(
            {
                "body": name,
                "chars": len(body),
                "html_chars": len(richtext.render(body, members)),
                "render_us": best_us(lambda b=body, m=members: richtext.render(b, m), repeat),
                "markdown_it_us": best_us(lambda b=body: md.render(b), repeat),
                "nh3_us": best_us(lambda h=rendered: clean(h), repeat),
                "escape_us": best_us(lambda b=body: html.escape(b), repeat),
            }
        )
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| body | chars | html chars | render µs | markdown-it µs | nh3 µs | escape only µs |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['body']} | {r['chars']:,} | {r['html_chars']:,} | {r['render_us']:,.1f} "
            f"| {r['markdown_it_us']:,.1f} | {r['nh3_us']:,.1f} | {r['escape_us']:,.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.render",
        description="CPU per call of chat.richtext.render on typical message bodies.",
    )
    p.add_argument("--repeat", type=int, default=5, help="timeit repeats; the best counts")
    p.add_argument("--json", action="store_true", help="print JSON, not a Markdown table")
    options = p.parse_args(argv)
    rows = measure(options.repeat)
    if options.json:
        print(json.dumps(rows, indent=1))
    else:
        import markdown_it
        import nh3

        print(
            f"Python {sys.version.split()[0]}, markdown-it-py {markdown_it.__version__}, "
            f"nh3 {getattr(nh3, '__version__', '?')}; best of {options.repeat} timeit runs, "
            "per call\n"
        )
        print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
