"""SQL is parameterized everywhere: no module under ``frolic/`` hands a driver or ``text()``
a statement built from strings at run time (f-strings with values, ``%``, ``+``,
``.format``, ``.join``), directly or through a variable.

ruff's S608 looks for the same thing but only in strings that read like SQL; this walks
every call that executes or wraps SQL, whatever its text looks like.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import frolic

# Calls whose first argument is SQL text: SQLAlchemy's text() and exec_driver_sql, the
# execute/fetch family of SQLAlchemy connections, asyncpg and DB-API cursors, alembic's
# op.execute, and the two SQLAlchemy constructs that take raw SQL.
SQL_CALLS = frozenset({
    "text", "exec_driver_sql", "execute", "executemany", "fetch", "fetchrow", "fetchval",
    "copy_from_query", "literal_column", "DDL",
})  # fmt: skip

# Statements that must carry an identifier, which no driver can bind as a parameter (a
# database or table name). Each entry: (module, function) -> why it is safe, that is where
# the identifier is validated before it is spliced in. None today: the embedded stack
# creates its database with `createdb`, and imports name their temp table literally.
ALLOWED: dict[tuple[str, str], str] = {}


def _dynamic(node: ast.expr) -> bool:
    """A string expression with a part computed at run time."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return not (_constant(node.left) and _constant(node.right))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in {"format", "join", "replace"}
    return False


def _constant(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.BinOp):
        return _constant(node.left) and _constant(node.right)
    return False


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


class _Finder(ast.NodeVisitor):
    """SQL calls whose text is dynamic, with names resolved to what they were assigned."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.scopes: list[dict[str, ast.expr]] = [{}]
        self.function = "<module>"
        self.found: list[str] = []

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer = self.function
        self.function = node.name
        self.scopes.append({})
        self.generic_visit(node)
        self.scopes.pop()
        self.function = outer

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.scopes[-1][target.id] = node.value
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if isinstance(node.target, ast.Name) and node.value is not None:
            self.scopes[-1][node.target.id] = node.value
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        # sql += f"..." makes the name dynamic whatever it started as.
        if isinstance(node.target, ast.Name):
            self.scopes[-1][node.target.id] = ast.BinOp(node.target, ast.Add(), node.value)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        if _call_name(node) in SQL_CALLS and node.args:
            sql = self._resolve(node.args[0])
            allowed = (self.module, self.function) in ALLOWED
            if _dynamic(sql) and not allowed:
                self.found.append(
                    f"{self.module}:{node.lineno} {self.function}: {ast.unparse(node)[:120]}"
                )
        self.generic_visit(node)

    def _resolve(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.Name):
            for scope in reversed(self.scopes):
                if node.id in scope:
                    return scope[node.id]
        return node


def findings(source: str, module: str) -> list[str]:
    finder = _Finder(module)
    finder.visit(ast.parse(source))
    return finder.found


def test_no_module_builds_sql_from_strings() -> None:
    root = Path(frolic.__file__).parent
    found = []
    for path in sorted(root.rglob("*.py")):
        module = str(path.relative_to(root.parent))
        found += findings(path.read_text(encoding="utf-8"), module)
    assert found == []


def test_every_allowed_statement_still_exists() -> None:
    root = Path(frolic.__file__).parent.parent
    for module, function in ALLOWED:
        assert f"def {function}(" in (root / module).read_text(), (module, function)


@pytest.mark.parametrize(
    "source",
    [
        'conn.execute(text(f"SELECT * FROM t WHERE id = {x}"))',
        'conn.execute(text("SELECT * FROM t WHERE id = " + x))',
        'conn.execute(text("SELECT * FROM t WHERE id = %s" % x))',
        'conn.execute(text("SELECT * FROM t WHERE id = {}".format(x)))',
        'conn.exec_driver_sql(f"DROP TABLE {name}")',
        'await pg.fetchrow(f"SELECT {col} FROM t")',
        'cursor.execute("SELECT " + ", ".join(cols))',
        'def f():\n    q = f"SELECT {x}"\n    return conn.execute(text(q))',
        'def f():\n    q = "SELECT 1"\n    q += f" WHERE a = {x}"\n    conn.execute(q)',
    ],
)
def test_the_walker_catches_built_sql(source: str) -> None:
    assert findings(source, "m.py"), source


@pytest.mark.parametrize(
    "source",
    [
        'conn.execute(text("SELECT * FROM t WHERE id = :id"), {"id": x})',
        'conn.execute(text("SELECT * FROM t " "WHERE id = :id"), {"id": x})',
        'Q = text("SELECT 1")\nconn.execute(Q)',
        'await pg.fetch("SELECT * FROM t WHERE id = $1", x)',
        "conn.execute(select(T).where(T.id == x))",
        'log.info(f"executing {x}")',
    ],
)
def test_the_walker_passes_bound_parameters(source: str) -> None:
    assert findings(source, "m.py") == [], source
