"""Changes that must reach live sockets whichever path made them: Channels resolves the user only
at the handshake, and admin, a shell or a cascade can change accounts and memberships without
passing through a service.
"""

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db import transaction
from django.db.models.signals import post_delete, pre_delete, pre_save
from django.dispatch import receiver

from . import broadcast, rooms
from .errors import Forbidden, Unauthenticated
from .models import Attachment, Membership
from .moderation import RECONNECT_CLOSE_CODE


@receiver(user_logged_out, dispatch_uid="chat.close_sockets_on_logout")
def close_sockets_on_logout(sender, request, user, **kwargs) -> None:
    """Close the sockets of the session that logged out; the user's other sessions stay."""
    if user is None:
        return
    broadcast.on_commit(
        broadcast.close_user_sockets,
        user.pk,
        Unauthenticated.close_code,
        session_key=request.session.session_key,
    )


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="chat.account_change")
def close_sockets_on_account_change(sender, instance, update_fields=None, **kwargs) -> None:
    """A new password or a deactivation ends every socket of the account (4401; the browser
    that changed the password reconnects with its renewed session); staff rights granted or
    withdrawn make them reconnect (4000), to be served with the new rights.

    Django sends no signal for these, and they happen in views, the admin and
    `manage.py changepassword` alike: the save is the one place that sees them all.
    """
    if instance.pk is None:
        return
    watched = ("password", "is_active", "is_staff", "is_superuser")
    if update_fields is not None and not set(watched) & set(update_fields):
        return
    old = sender.objects.filter(pk=instance.pk).values(*watched).first()
    if old is None:
        return
    if old["password"] != instance.password or (old["is_active"] and not instance.is_active):
        broadcast.on_commit(broadcast.close_user_sockets, instance.pk, Unauthenticated.close_code)
    elif (old["is_staff"], old["is_superuser"]) != (instance.is_staff, instance.is_superuser):
        broadcast.on_commit(broadcast.close_user_sockets, instance.pk, RECONNECT_CLOSE_CODE)


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="chat.account_deleted")
def close_sockets_on_account_deleted(sender, instance, **kwargs) -> None:
    """Before the cascade: its memberships' 4403 must not come first."""
    broadcast.on_commit(broadcast.close_user_sockets, instance.pk, Unauthenticated.close_code)


@receiver(post_delete, sender=Membership, dispatch_uid="chat.membership_deleted")
def close_sockets_on_membership_deleted(sender, instance, **kwargs) -> None:
    """Left, removed (the settings page, admin, a cascade): the person's sockets on the room
    close with 4403, their others drop it from the sidebar, and the room hears its new member
    list."""
    broadcast.on_commit(
        broadcast.close_user_sockets,
        instance.user_id,
        Forbidden.close_code,
        room_id=instance.room_id,
    )
    rooms.left(instance.user_id, instance.room)
    rooms.announce_members(instance.room_id)


@receiver(post_delete, sender=Attachment, dispatch_uid="chat.attachment_deleted")
def delete_files_of_attachment(sender, instance, **kwargs) -> None:
    """Its file and thumbnail go with the row (cleanup, or a cascade from its room or user),
    once the deletion has committed."""
    storage = instance.file.storage
    names = [name for name in (instance.file.name, instance.thumbnail.name) if name]

    def delete() -> None:
        for name in names:
            storage.delete(name)

    transaction.on_commit(delete)
