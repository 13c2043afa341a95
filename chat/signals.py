"""Auth events that must reach live sockets: Channels resolves the user only at the handshake."""

from asgiref.sync import async_to_sync
from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from . import broadcast
from .errors import Unauthenticated


@receiver(user_logged_out, dispatch_uid="chat.close_sockets_on_logout")
def close_sockets_on_logout(sender, request, user, **kwargs) -> None:
    """Close the sockets of the session that logged out; the user's other sessions stay."""
    if user is None:
        return
    async_to_sync(broadcast.close_user_sockets)(
        user.pk, Unauthenticated.close_code, session_key=request.session.session_key
    )
