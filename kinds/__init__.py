"""The kind registry: every kind of escalation the engine runs, one line each.

Each kind declares itself in its own module (`kinds/<kind>.py`, a `KindSpec`); the CLI, the start
forms, the console, the link pages, the report and the worker are built from this list.
Adding a kind: docs/adding-a-kind.md.
"""

from __future__ import annotations

from kinds.spec import KindSpec


def _registry() -> tuple[KindSpec, ...]:
    from kinds import deregistration, interface_alert, pathology, unfunded_claim

    return (
        unfunded_claim.SPEC,
        pathology.SPEC,
        deregistration.SPEC,
        interface_alert.SPEC,
    )


KINDS: tuple[KindSpec, ...] = _registry()
BY_NAME: dict[str, KindSpec] = {spec.name: spec for spec in KINDS}
BY_PREFIX: dict[str, KindSpec] = {spec.id_prefix: spec for spec in KINDS}


def kind(name: str) -> KindSpec | None:
    return BY_NAME.get(name)


def all_workflows() -> list[type]:
    """Every workflow of every kind, once each, for the worker to register."""
    seen: dict[str, type] = {}
    for spec in KINDS:
        for workflow_class in spec.workflows:
            seen.setdefault(workflow_class.__qualname__, workflow_class)
    return list(seen.values())


def case_kinds() -> set[str]:
    """Every kind of case the engine may hold, top-level escalations and their parts."""
    return {name for spec in KINDS for name in (spec.name, *spec.parts)}
