from django.core.management.base import BaseCommand

from chat.models import Room

DEMO_ROOMS = [
    ("general", "General", "Anything goes, within reason."),
    ("random", "Random", "Off-topic chatter."),
    ("help", "Help", "Questions about this site."),
]


class Command(BaseCommand):
    help = "Create a few public demo rooms (idempotent), so a fresh site has somewhere to talk."

    def handle(self, *args, **options) -> None:
        for slug, name, topic in DEMO_ROOMS:
            _, created = Room.objects.get_or_create(
                slug=slug, defaults={"name": name, "topic": topic, "kind": Room.Kind.PUBLIC}
            )
            if created:
                self.stdout.write(f"Created room #{slug}")
