"""Search (chat.search): the search text of every message, and the index over it that the
database has: PostgreSQL's full text search (a stored to_tsvector('simple', ...) under a GIN
index), or SQLite's FTS5 (a table kept by triggers). Each engine's part runs on that engine
only."""

from django.db import migrations, models

from chat import search

FTS5 = [
    """CREATE VIRTUAL TABLE chat_message_fts USING fts5(
        search_text, content='chat_message', content_rowid='id',
        tokenize='unicode61 remove_diacritics 0')""",
    """CREATE TRIGGER chat_message_fts_insert AFTER INSERT ON chat_message BEGIN
        INSERT INTO chat_message_fts(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
    """CREATE TRIGGER chat_message_fts_delete AFTER DELETE ON chat_message BEGIN
        INSERT INTO chat_message_fts(chat_message_fts, rowid, search_text)
            VALUES ('delete', old.id, old.search_text);
    END""",
    """CREATE TRIGGER chat_message_fts_update AFTER UPDATE OF search_text ON chat_message BEGIN
        INSERT INTO chat_message_fts(chat_message_fts, rowid, search_text)
            VALUES ('delete', old.id, old.search_text);
        INSERT INTO chat_message_fts(rowid, search_text) VALUES (new.id, new.search_text);
    END""",
    "INSERT INTO chat_message_fts(chat_message_fts) VALUES ('rebuild')",
]
FTS5_DROP = [
    "DROP TRIGGER IF EXISTS chat_message_fts_insert",
    "DROP TRIGGER IF EXISTS chat_message_fts_delete",
    "DROP TRIGGER IF EXISTS chat_message_fts_update",
    "DROP TABLE IF EXISTS chat_message_fts",
]
# PostgreSQL: the tsvector stored beside the text (a recheck of a phrase reads it instead of
# parsing the text again, row by row), under a GIN index.
VECTOR = (
    "ALTER TABLE chat_message ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple'::regconfig, search_text)) STORED"
)
GIN = "CREATE INDEX chat_message_search ON chat_message USING gin (search_vector)"
POSTGRESQL = [VECTOR, GIN]
POSTGRESQL_DROP = [
    "DROP INDEX IF EXISTS chat_message_search",
    "ALTER TABLE chat_message DROP COLUMN IF EXISTS search_vector",
]


def fill(apps, schema_editor):
    """The search text of the messages there are (deleted ones stay empty)."""
    Message = apps.get_model("chat", "Message")
    batch = []
    for message in Message.objects.filter(deleted__isnull=True).only("id", "body").iterator(
        chunk_size=2000
    ):
        message.search_text = search.index_text(message.body)
        batch.append(message)
        if len(batch) == 1000:
            Message.objects.bulk_update(batch, ["search_text"])
            batch = []
    Message.objects.bulk_update(batch, ["search_text"])


def index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"sqlite": FTS5, "postgresql": POSTGRESQL}.get(vendor, []):
        schema_editor.execute(statement)


def unindex(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    for statement in {"sqlite": FTS5_DROP, "postgresql": POSTGRESQL_DROP}.get(vendor, []):
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0007_attachments"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="search_text",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.RunPython(index, unindex),
    ]
