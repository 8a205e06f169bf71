"""The shape of the package, kept by the test suite: its parts import each other one way (no
circles; storage and what lies below it never reach up to the Book), and no part reads
another part's private attributes. Every import counts, also those inside functions and
under TYPE_CHECKING, as /work/shared/tools/import_cycles.py counts them."""

from __future__ import annotations

import ast
import subprocess
import sys
from functools import cache
from pathlib import Path

import crmbook

PACKAGE = Path(crmbook.__file__).parent
# Below the Book (STYLE.md: schema <- io <- storage <- book): these import nothing above it.
BELOW_THE_BOOK = {
    "errors",
    "schema",
    "languages",
    "values",
    "excel_limits",
    "io",
    "validation",
    "lists",
    "storage",
}


@cache
def modules() -> dict[str, ast.Module]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts).removesuffix(".__init__")
        found[name] = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return found


def part(module: str) -> str:
    """The part of crmbook a module belongs to: crmbook.storage.sql -> storage."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else ""


def imported(module: str, tree: ast.Module) -> set[str]:
    """The crmbook modules `module` imports, anywhere in it."""
    known = modules()
    is_package = any(m.startswith(module + ".") for m in known)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                prefix = ".".join([*base, *([node.module] if node.module else [])])
            else:
                prefix = node.module or ""
            names = [f"{prefix}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in known and "." in name:
                name = name.rsplit(".", 1)[0]
            if name in known and name != module:
                found.add(name)
    return found


def part_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, tree in modules().items():
        for other in imported(module, tree):
            if part(module) and part(other) and part(module) != part(other):
                graph.setdefault(part(module), set()).add(part(other))
    return graph


def test_the_parts_import_each_other_without_circles():
    graph = part_graph()

    def reaches(start: str, goal: str) -> list[str] | None:
        seen, stack = set(), [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == goal:
                    return [*path, nxt]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
        return None

    circles = [reaches(p, p) for p in graph]
    assert not [c for c in circles if c], " / ".join(" -> ".join(c) for c in circles if c)


def test_storage_and_what_lies_below_never_import_the_book_or_above():
    reaching_up = sorted(
        f"{module} imports {other}"
        for module, tree in modules().items()
        if part(module) in BELOW_THE_BOOK
        for other in imported(module, tree)
        if part(other) not in BELOW_THE_BOOK
    )
    assert not reaching_up, "\n".join(reaching_up)


def private_names() -> dict[str, set[str]]:
    """Per part, the private attributes its classes define (methods and self._x)."""
    found: dict[str, set[str]] = {}
    for module, tree in modules().items():
        names = found.setdefault(part(module), set())
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                for item in ast.walk(node):
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and _private(
                        item.name
                    ):
                        names.add(item.name)
                    if (
                        isinstance(item, ast.Attribute)
                        and isinstance(item.ctx, ast.Store)
                        and isinstance(item.value, ast.Name)
                        and item.value.id == "self"
                        and _private(item.attr)
                    ):
                        names.add(item.attr)
    return found


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def test_no_part_reads_another_parts_private_attributes():
    defined = private_names()
    reads = []
    for module, tree in modules().items():
        own = defined.get(part(module), set())
        elsewhere = set().union(*(n for p, n in defined.items() if p != part(module))) - own
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("crmbook")
            ):
                target = node.module if node.level == 0 else ""
                for alias in node.names:
                    if _private(alias.name) and part(target) != part(module):
                        reads.append(f"{module}:{node.lineno} imports {target}.{alias.name}")
            if not isinstance(node, ast.Attribute) or node.attr not in elsewhere:
                continue
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if isinstance(owner, ast.Call) and getattr(owner.func, "id", "") == "super":
                continue
            reads.append(f"{module}:{node.lineno} reads .{node.attr}")
    assert not reads, "\n".join(reads)


def test_the_command_line_starts_without_what_only_some_commands_need():
    """openpyxl (writing a new workbook or sheet) and email_validator (checking emails) take
    a good part of a second to import: every command would pay it at start-up."""
    code = (
        "import sys, crmbook.cli; print(sorted({'openpyxl', 'email_validator'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
