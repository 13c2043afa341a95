from django import template

from chat.models import Report

register = template.Library()


@register.simple_tag
def open_reports_count() -> int:
    """For the admin index: how many reports wait for a moderator."""
    return Report.objects.filter(status=Report.Status.OPEN).count()
