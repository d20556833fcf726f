"""Workflow code is deterministic by rule: the worker runs it outside Temporal's sandbox (`worker.workflow_runner`
says why), where it could reach the real clock, random number generator and I/O. So nothing in `workflows/` may
import them or ask the time of anything but `workflow.now()`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

WORKFLOWS = sorted((Path(__file__).parent.parent / "workflows").glob("*.py"))
FORBIDDEN_MODULES = {"time", "random", "secrets", "uuid", "os", "socket", "threading", "subprocess", "sqlalchemy"}
FORBIDDEN_MODULES |= {"sqlmodel", "aiosmtplib", "smtplib", "httpx", "requests", "persistence", "mail", "web"}
CLOCK_CALLS = {"now", "utcnow", "today", "fromtimestamp"}


def problems(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            found += [f"line {node.lineno}: imports {n}" for n in names if n.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CLOCK_CALLS:
            owner = node.func.value
            if not (isinstance(owner, ast.Name) and owner.id == "workflow"):
                found.append(f"line {node.lineno}: calls {ast.unparse(node.func)}()")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
            found.append(f"line {node.lineno}: calls open()")
    return found


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_code_uses_no_clock_randomness_or_io_of_its_own(path: Path) -> None:
    assert not problems(path), problems(path)


def test_the_rule_catches_what_it_is_for(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import random\nfrom datetime import datetime\n\ndef f():\n    return datetime.now(), open('x')\n")
    assert len(problems(bad)) == 3
