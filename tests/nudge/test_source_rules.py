"""Rules read off the source tree: SQL only through the ORM or bound parameters; one CSV writer.

A scan of every Python file's syntax tree. SQL text handed to `text()`, `execute()`,
`executemany()`, `exec_driver_sql()` or a COPY must be a literal (values bound as
parameters), never built with an f-string, `%`, `+` or `.format()`; the few places that
must put an identifier into SQL are listed below, each reviewed, and the list must stay
exact (a stale entry fails too). CSV files are written only by nudge/csvout.py, which
escapes formula prefixes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

SOURCE_FOLDERS = ("nudge", "experiments", "messages", "analysis", "tests", "bench")
SQL_CALLS = frozenset({"text", "execute", "executemany", "exec_driver_sql", "copy"})
# (file, function): why building SQL text there is safe.
REVIEWED_SQL = {
    ("nudge/bulk.py", "insert_rows"): "table and column names from the SQLModel metadata; "
    "values go through COPY's row protocol or '?' parameters",
    ("tests/conftest.py", "create_postgres_database"): "a name made of a uuid4 hex, quoted",
    ("tests/conftest.py", "drop_postgres_database"): "the same generated name, quoted",
    ("tests/conftest.py", "_empty_database"): "TRUNCATE of the metadata's own table names, quoted",
    ("bench/enrol.py", "fresh_url"): "a generated benchmark database name, quoted",
    ("bench/enrol.py", "drop"): "the same generated name, quoted",
}
CSV_WRITERS = frozenset({"writer", "DictWriter", "to_csv"})


def python_files() -> Iterator[Path]:
    for folder in SOURCE_FOLDERS:
        yield from sorted((ROOT / folder).rglob("*.py"))


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        owner = call.func.value
        if call.func.attr == "text" and not (
            isinstance(owner, ast.Name) and owner.id in ("sa", "sqlalchemy")
        ):
            return None  # str.text, hypothesis's st.text: not SQLAlchemy's text()
        return call.func.attr
    return None


def _built_string(node: ast.AST) -> bool:
    """An f-string, `%` or `+` on strings, or `.format()`: text assembled at run time."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return any(
            isinstance(side, ast.Constant | ast.JoinedStr | ast.BinOp)
            for side in (node.left, node.right)
        )
    return isinstance(node, ast.Call) and _called_name(node) == "format"


def _functions(tree: ast.AST) -> Iterator[tuple[str, ast.AST]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name, node


def built_sql() -> set[tuple[str, str]]:
    """(file, function) of every SQL call whose SQL text is assembled at run time."""
    found = set()
    for path in python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found |= built_sql_in(tree, path.relative_to(ROOT).as_posix())
    return found


def built_sql_in(tree: ast.AST, name: str) -> set[tuple[str, str]]:
    found = set()
    for function, body in _functions(tree):
        for call in ast.walk(body):
            if not isinstance(call, ast.Call) or _called_name(call) not in SQL_CALLS:
                continue
            first = call.args[0] if call.args else None
            if first is not None and _built_string(first):
                found.add((name, function))
            if _called_name(call) == "text" and first is not None:
                if not isinstance(first, ast.Constant):
                    found.add((name, function))
    return found


def test_sql_text_is_never_built_from_strings_outside_the_reviewed_places() -> None:
    found = built_sql()
    assert sorted(found - REVIEWED_SQL.keys()) == [], "SQL built from strings: bind parameters"
    assert sorted(REVIEWED_SQL.keys() - found) == [], "a reviewed entry no longer applies"


def test_the_scan_catches_sql_built_from_strings_and_leaves_bound_parameters_alone() -> None:
    sample = ast.parse(
        "def f_string(session, ref):\n"
        "    session.execute(text(f\"SELECT * FROM participant WHERE ref = '{ref}'\"))\n"
        "def concatenated(session, ref):\n"
        "    session.execute('SELECT ' + ref)\n"
        "def percent(session, ref):\n"
        "    session.exec_driver_sql('SELECT %s' % ref)\n"
        "def formatted(session, ref):\n"
        "    session.execute(text('SELECT {}'.format(ref)))\n"
        "def text_of_a_variable(session, sql):\n"
        "    session.execute(text(sql))\n"
        "def bound(session, ref):\n"
        "    session.execute(text('SELECT :ref'), {'ref': ref})\n"
        "def literal(connection):\n"
        "    connection.exec_driver_sql('PRAGMA journal_mode')\n"
        "def not_sql(st, first, last):\n"
        "    return st.text(max_size=first + last), f'{first} {last}'.format()\n"
    )
    found = {function for _, function in built_sql_in(sample, "sample.py")}
    assert found == {"f_string", "concatenated", "percent", "formatted", "text_of_a_variable"}


def test_csv_files_are_written_only_through_the_formula_safe_writer() -> None:
    writers = []
    for path in python_files():
        name = path.relative_to(ROOT).as_posix()
        if name.startswith(("tests/", "bench/")) or name == "nudge/csvout.py":
            continue
        for call in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(call, ast.Call) and _called_name(call) in CSV_WRITERS:
                writers.append(f"{name}:{call.lineno}")
    assert writers == [], "write CSV through nudge.csvout, which escapes formulas"
