"""Driving Django admin's forms as a browser would: what a change form posts unchanged."""

from django.forms import MultiWidget
from django.test import Client


def post(client: Client, url: str, data: dict) -> int:
    return client.post(url, data).status_code


def form_data(client: Client, url: str) -> dict:
    """What the admin change form at `url` would POST unchanged, inlines included."""
    response = client.get(url)
    data: dict = {}

    def add(form) -> None:
        for name, field in form.fields.items():
            bound = form[name]
            value = bound.value()
            if isinstance(field.widget, MultiWidget):
                parts = field.widget.decompress(value)
                data.update({f"{bound.html_name}_{i}": p or "" for i, p in enumerate(parts)})
            elif isinstance(value, bool):
                if value:
                    data[bound.html_name] = "on"
            elif value is not None:
                data[bound.html_name] = value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.forms:
            add(form)
    return data
