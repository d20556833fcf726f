"""Reading an incident's stored practice list (the console's incident page, `starter.py show`): the list is
not in the incident's `summary`, which carries only its count (`IncidentCase.practice_count`)."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from domain.practice_return import Practice
from persistence.database import shared_engine
from persistence.incident_practices import IncidentPractices
from service.refusals import Refused, Why
from settings import Settings


def practices_of(settings: Settings, escalation_id: str, offset: int = 0, limit: int = 100) -> list[Practice]:
    """Practices `offset` to `offset + limit - 1` of an incident's stored list, as the officer listed them;
    none for an incident whose practices are in its case (`IncidentCase.practices`, started before lists were
    stored) or for any other escalation."""
    try:
        rows = IncidentPractices(shared_engine(settings.database)).chunk(escalation_id, offset, min(limit, 1000))
    except SQLAlchemyError as err:
        raise Refused(Why.UNAVAILABLE, "The database did not answer. Please try again in a minute.") from err
    return [Practice.model_validate(row) for row in rows]
