"""Every status and outcome the domain sets has its words (`domain.wording`): a recipient never reads a key,
and the lists refuse a status no case can be in (`service.gate.ListFilters`) without refusing one that is."""

from __future__ import annotations

import ast
import importlib
from enum import Enum
from pathlib import Path

from domain import wording

DOMAIN = Path(__file__).resolve().parents[2] / "domain"
SETTERS = {"close", "no_money"}  # methods whose first argument becomes a case's status or outcome
FIELDS = {"status", "outcome", "closes_as"}


def _set_in(path: Path) -> set[str]:
    """The statuses and outcomes a domain module sets: literals and named constants, as the module evaluates
    them (a value computed at run time is not named here; `gap_status`'s are its module's constants)."""
    module = importlib.import_module(f"domain.{path.stem}")
    values: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        exprs: list[ast.expr] = []
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if node.value is not None and any(
                isinstance(t, ast.Attribute | ast.Name) and getattr(t, "attr", getattr(t, "id", "")) in FIELDS
                for t in targets
            ):
                exprs.append(node.value)
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr in SETTERS and node.args:
                exprs.append(node.args[0])
            exprs += [kw.value for kw in node.keywords if kw.arg in FIELDS]
        elif isinstance(node, ast.ClassDef) and (node.name.endswith("Status") or node.name == "Outcome"):
            values |= {str(member.value) for member in getattr(module, node.name)}
        for expr in exprs:
            for branch in (expr.body, expr.orelse) if isinstance(expr, ast.IfExp) else (expr,):
                try:
                    value = eval(compile(ast.Expression(branch), str(path), "eval"), vars(module))  # noqa: S307
                except Exception:  # noqa: BLE001 - a local variable: not a value this scan can name
                    continue
                if isinstance(value, str | Enum):
                    values.add(str(value.value if isinstance(value, Enum) else value))
    return values


def test_every_status_and_outcome_the_domain_sets_has_its_words() -> None:
    found = {value: path.stem for path in sorted(DOMAIN.glob("*.py")) for value in _set_in(path)}
    assert len(found) > 25  # the scan sees them at all
    unworded = {value: where for value, where in found.items() if not wording.is_status(value)}
    assert not unworded, f"add these to domain/wording.py's STATUSES or OUTCOMES: {unworded}"
    assert {"pot_refused", "awaiting_digest", "paid_short", "underpaid"} <= set(found)  # set by name or constant
