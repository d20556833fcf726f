"""The names of the kinds officers start, without importing the registry (which brings in every workflow,
activity and the database layer): `starter.py list` and the lists filter by them on every call.
tests/test_listing.py keeps this equal to the registry's `KINDS`; a new kind adds its name here too."""

from __future__ import annotations

TOP_LEVEL_KINDS: tuple[str, ...] = ("unfunded_claim", "pathology_error", "deregistration")
