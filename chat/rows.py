"""Model rows read by plain SQL on the hot paths (a post, a socket's opening): compiling the
ORM's query cost more CPU there than the database took to run it (docs/performance.md, issue
17). A statement selects a model's `columns()` and turns them back into an instance with
`instance()`, converted as the ORM converts them."""

from typing import Any

from django.db import connection
from django.db.models import Model


def columns(model: type[Model], alias: str) -> str:
    """The model's columns in `instance()`'s order, from the table aliased `alias`."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)


def width(model: type[Model]) -> int:
    return len(model._meta.concrete_fields)


def instance(model: type[Model], values: tuple | list) -> Model:
    """The model from its `columns()`' values. SQLite's datetimes, for one, come naive; the
    converters that fix them, and the names, are found once per model and database vendor."""
    key = (model, connection.vendor)
    if key not in _known:
        compiler = model.objects.none().query.get_compiler(connection=connection)
        fields = model._meta.concrete_fields
        converters = compiler.get_converters(
            [field.get_col(model._meta.db_table) for field in fields]
        )
        _known[key] = ([field.attname for field in fields], converters)
    names, converters = _known[key]
    values = list(values)
    for index, (functions, expression) in converters.items():
        for function in functions:
            values[index] = function(values[index], expression, connection)
    return model.from_db(connection.alias, names, values)


# Per model and vendor: the attribute names of `columns()`, and their converters.
_known: dict[tuple[type[Model], str], tuple[list[str], dict[int, Any]]] = {}
