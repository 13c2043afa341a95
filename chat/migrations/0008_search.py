"""Search (chat.search): the search text of every message, and the index over it that the
database has: PostgreSQL's full text search (a GIN index over to_tsvector('simple', ...)), or
SQLite's FTS5 (a table kept by triggers). Each engine's part runs on that engine only."""

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
GIN = (
    "CREATE INDEX chat_message_search ON chat_message "
    "USING gin (to_tsvector('simple'::regconfig, COALESCE(search_text, ''::text)))"
)


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
    for statement in FTS5 if vendor == "sqlite" else [GIN] if vendor == "postgresql" else []:
        schema_editor.execute(statement)


def unindex(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for statement in FTS5_DROP:
            schema_editor.execute(statement)
    elif vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS chat_message_search")


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
