from django.core.management.base import BaseCommand, CommandParser

from chat import attachments


class Command(BaseCommand):
    help = (
        "Delete uploads never attached to a message, older than --hours (default 24), with "
        "their files. Schedule it daily (README)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--hours", type=float, default=24.0)

    def handle(self, *args, hours: float, **options) -> None:
        deleted = attachments.delete_unattached(older_than_hours=hours)
        self.stdout.write(f"Deleted {deleted} unattached upload(s) older than {hours:g} h.")
