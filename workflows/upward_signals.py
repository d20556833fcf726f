"""Signals a child workflow sends up to its parent. A child cannot import its parent's class (the
parent imports the child's), so the two ends share the signal's name from here rather than each
spelling it out."""

from __future__ import annotations

PRACTICE_RETURNS_CLOSED = "practice_returns_closed"
"""A practice tells its cohort it has stored its return and closed returns."""
COHORT_RETURNS_CLOSED = "cohort_returns_closed"
"""A cohort tells its incident that all its practices have."""
COHORT_PRACTICES_STARTED = "cohort_practices_started"
"""A cohort over a stored practice list tells its incident it has started all its practices."""
COHORT_SETTLED = "cohort_settled"
"""A cohort whose incident may continue as new tells it, with how each practice closed, that all its practices
have (its incident holds no handle to await it on)."""
CHILD_CLOSED = "child_closed"
"""A payer's request (a confirmation, a claim) whose incident may continue as new tells it that it closed, and how."""
