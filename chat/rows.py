"""Model rows read by plain SQL on the hot paths (a post, a socket's opening): compiling the
ORM's query cost more CPU there than the database took to run it (docs/performance.md, issue
17). A statement selects a model's `columns()` and turns them back into an instance with
`instance()`, converted as the ORM converts them; `insert()` stores a new instance."""

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


def insert(obj: Model, *, unless_exists: tuple[str, ...] = ()) -> bool:
    """`obj.save()` for a new row, by plain SQL: the ORM compiles its INSERT anew for every
    row. `unless_exists`: the fields of a unique constraint; where a row with the same values
    is there already, nothing is stored and the answer is False (`ON CONFLICT DO NOTHING`, one
    statement where `get_or_create` takes four)."""
    model = type(obj)
    values = new_values(obj)
    quote = connection.ops.quote_name
    conflict = ""
    if unless_exists:
        unique = ", ".join(quote(model._meta.get_field(name).column) for name in unless_exists)
        conflict = f" ON CONFLICT ({unique}) DO NOTHING"
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({new_columns(model)})"
        f" VALUES ({', '.join(['%s'] * len(values))}){conflict}"
        f" RETURNING {quote(model._meta.pk.column)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    stored(obj, row[0])
    return True


def new_columns(model: type[Model]) -> str:
    """The columns an INSERT gives values for (all but the id), in `new_values()`' order."""
    quote = connection.ops.quote_name
    return ", ".join(quote(field.column) for field in new_fields(model))


def new_values(obj: Model) -> list:
    """A new instance's values for `new_columns()`, prepared as `save()` prepares them."""
    return [
        field.get_db_prep_save(field.pre_save(obj, True), connection)
        for field in new_fields(type(obj))
    ]


def stored(obj: Model, pk: Any) -> None:
    """The instance as `save()` leaves a new one."""
    obj.pk = pk
    obj._state.adding = False
    obj._state.db = connection.alias


def new_fields(model: type[Model]) -> list:
    """The fields an INSERT gives values for: all but the id."""
    if model not in _new:
        _new[model] = [field for field in model._meta.concrete_fields if not field.primary_key]
    return _new[model]


# Per model: the fields an INSERT gives values for.
_new: dict[type[Model], list] = {}
