"""A post decided on before the room's lock (PostgreSQL: `messages._post_decided_early`) is
stored only if nothing its decision read changed meanwhile. Each test holds the room's lock in
another transaction, lets a post read and wait for the lock, changes what it read (the
author's account, a blocked term, the same `client_id` stored), then lets go: the post must
decide again, on what is true now. (A ban or a mute cannot land there: storing one checks its
room's row, which waits for the lock, so it is ordered after the post.)"""

import threading
from collections.abc import Callable, Iterator

import pytest
from django.db import connection, connections, transaction

from chat import messages, moderation
from chat.errors import Forbidden, Unauthenticated
from chat.models import BlockedTerm, Message, Room

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite's writers wait for each other from BEGIN: no post reads before a lock",
    ),
]


class LockHolder(threading.Thread):
    """A transaction that holds the room's row lock (running `inside` first, if given) until
    released."""

    def __init__(self, room: Room, inside: Callable[[], None] | None = None) -> None:
        super().__init__(daemon=True)
        self.room, self.inside = room, inside
        self.locked, self.release = threading.Event(), threading.Event()

    def run(self) -> None:
        try:
            with transaction.atomic():
                Room.objects.select_for_update().get(pk=self.room.pk)
                if self.inside is not None:
                    self.inside()
                self.locked.set()
                self.release.wait(30)
        finally:
            connections.close_all()


class Poster(threading.Thread):
    def __init__(self, **post) -> None:
        super().__init__(daemon=True)
        self.post, self.result, self.error = post, None, None

    def run(self) -> None:
        try:
            self.result = messages.post(**self.post)
        except Exception as exc:  # what the post raised is the test's to check
            self.error = exc
        finally:
            connections.close_all()


def _waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        return cursor.fetchone()[0]


@pytest.fixture
def race(members) -> Iterator[Callable]:
    """`race(change, **post)`: the post reads, waits for the lock, `change()` commits
    meanwhile, the lock goes: the post's thread, finished."""
    holders = []

    def run(change: Callable[[], None], inside: Callable[[], None] | None = None, **post):
        holder = LockHolder(members, inside)
        holders.append(holder)
        holder.start()
        assert holder.locked.wait(10)
        poster = Poster(room=members, **post)
        poster.start()
        for _ in range(500):  # until the post waits for the room's lock
            if _waiting_for_a_lock():
                break
            threading.Event().wait(0.01)
        else:
            raise AssertionError("the post never waited for the room's lock")
        change()
        holder.release.set()
        poster.join(10)
        assert not poster.is_alive()
        return poster

    yield run
    for holder in holders:
        holder.release.set()
        holder.join(10)


def test_an_account_deactivated_while_its_post_waits_for_the_lock_is_refused(
    race, staff, bob, members
):
    poster = race(
        lambda: moderation.set_active(actor=staff, user=bob, active=False),
        author=bob,
        body="sent just as the account is closed",
    )
    assert isinstance(poster.error, Unauthenticated)
    assert not Message.objects.filter(room=members, author=bob).exists()


def test_a_term_refused_while_a_post_waits_for_the_lock_refuses_the_post(race, bob, members):
    poster = race(
        lambda: BlockedTerm.objects.create(term="lemon", action=BlockedTerm.Action.REFUSE),
        author=bob,
        body="a lemon tart",
    )
    assert isinstance(poster.error, Forbidden)
    assert not Message.objects.filter(room=members, author=bob).exists()


def test_a_term_blocked_while_a_post_waits_for_the_lock_is_masked_in_it(race, bob, members):
    poster = race(
        lambda: BlockedTerm.objects.create(term="lemon", action=BlockedTerm.Action.MASK),
        author=bob,
        body="a lemon tart",
    )
    assert poster.error is None
    message, created = poster.result
    assert created
    assert Message.objects.get(pk=message.pk).body == "a ***** tart"


def test_a_client_id_stored_while_a_post_waits_for_the_lock_is_not_stored_twice(race, bob, members):
    def first() -> None:
        messages.post(author=bob, room=members, body="once", client_id="c-17")

    poster = race(lambda: None, inside=first, author=bob, body="once", client_id="c-17")
    assert poster.error is None
    message, created = poster.result
    assert not created
    assert list(Message.objects.filter(client_id="c-17").values_list("pk", flat=True)) == [
        message.pk
    ]


def test_a_post_with_nothing_changed_follows_the_message_stored_before_it(race, bob, members):
    """The message a new one follows (chat.fanout's order) is read under the lock, in the
    statement that stores it: here, the one the lock's holder stored."""
    stored = []

    def first() -> None:
        stored.append(messages.post(author=bob, room=members, body="first")[0])

    poster = race(lambda: None, inside=first, author=bob, body="second")
    assert poster.error is None
    second, created = poster.result
    assert created and second.pk > stored[0].pk
    assert list(
        Message.objects.filter(room=members).order_by("pk").values_list("body", flat=True)
    ) == [
        "first",
        "second",
    ]
