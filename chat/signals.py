"""Auth events that must reach live sockets: Channels resolves the user only at the handshake."""

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import pre_save
from django.dispatch import receiver

from . import broadcast
from .errors import Unauthenticated


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


@receiver(pre_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="chat.password_change")
def close_sockets_on_password_change(sender, instance, update_fields=None, **kwargs) -> None:
    """A new password ends every session's sockets (4401); the browser that changed it
    reconnects with its renewed session.

    Django sends no signal for a password change, and passwords change through the
    password change view, the admin and `manage.py changepassword` alike: the save is the one
    place that sees them all.
    """
    if instance.pk is None or (update_fields is not None and "password" not in update_fields):
        return
    old = sender.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    if old is not None and old != instance.password:
        broadcast.on_commit(broadcast.close_user_sockets, instance.pk, Unauthenticated.close_code)
