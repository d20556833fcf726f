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
