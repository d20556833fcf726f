"""The names of the kinds of case, for code that must not import the kind registry (`kinds/`), whose import
brings in every workflow, activity and the database layer: `starter.py list` and the list filters' gate.
tests/test_listing.py keeps these equal to the registry's, so a new kind adds its name here too."""

from __future__ import annotations

TOP_LEVEL_KINDS: tuple[str, ...] = ("unfunded_claim", "pathology_error", "deregistration", "interface_alert")
"""The kinds officers start."""

PART_KINDS: tuple[str, ...] = ("practice_return", "confirmation", "compensation_claim")
"""The parts of incidents: a practice's return, a payer's confirmation, the claim on the trust."""

CASE_KINDS: frozenset[str] = frozenset(TOP_LEVEL_KINDS + PART_KINDS)

LABELS: dict[str, str] = {
    "unfunded_claim": "Claim for unfunded work",
    "pathology_error": "Pathology error compensation",
    "deregistration": "Deregistration redistribution",
    "interface_alert": "Interface alert",
}
"""Each kind officers start as people name it (the console's headings and menus, the CLI's help): the registry's
`KindSpec.label` is this, and a list filter accepts it as well as the key."""

ALSO_CALLED: dict[str, str] = {
    "unfunded work claim": "unfunded_claim",
    "pathology": "pathology_error",
    "pathfinder deregistration redistribution": "deregistration",
    "interface alerts": "interface_alert",
}
"""Other names people use for a kind (the README's headings, the short forms), as a list filter reads them."""


def every_kind_in_words() -> str:
    """Every kind a list can be filtered by, as people name them: a filter's help, and its refusal."""
    return ", ".join(sorted(f"'{LABELS.get(kind, kind.replace('_', ' '))}'" for kind in CASE_KINDS))
