"""What the LMC configures, not codes: its officers, the payers' contact ladders, the
deadline allowances per escalation kind, and the tariff for unfunded work."""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from domain.calendar import WorkingCalendar, legacy_calendar
from domain.contacts import Lmc, Organisation
from domain.deregistration import CapitationRate
from domain.escalation import DeadlinePolicy
from domain.money import RatePence


class TariffRate(BaseModel):
    unit_rate_pence: RatePence
    example: bool = Field(default=True, description="an illustrative rate, not one agreed with a payer")


class IncidentLimits(BaseModel):
    """How large one incident may be: past this many practices it is refused at start, naming the field."""

    max_practices: int = Field(default=25_000, ge=1)
    cohorts_at_once: int = Field(default=10, ge=1)
    """Cohorts starting their practices at one time: bounds the work in flight as an incident fans out."""


class EscalationConfig(BaseModel):
    lmc: Lmc
    organisations: list[Organisation] = Field(min_length=1)
    deadlines: dict[str, DeadlinePolicy] = Field(default_factory=dict)
    tariff: dict[str, TariffRate] = Field(default_factory=dict)
    capitation_rates: dict[str, CapitationRate] = Field(default_factory=dict)
    calendar: WorkingCalendar = Field(default_factory=legacy_calendar)
    """Not configured: the installed bank-holiday calendar, set by the service when it starts an escalation."""
    incidents: IncidentLimits = Field(default_factory=IncidentLimits)

    @model_validator(mode="after")
    def _unique_codes(self) -> EscalationConfig:
        codes = [o.code for o in self.organisations]
        if len(codes) != len(set(codes)):
            raise ValueError("organisations: each code must appear once")
        return self

    def organisation(self, code: str) -> Organisation:
        for org in self.organisations:
            if org.code.upper() == code.upper():
                return org
        known = ", ".join(o.code for o in self.organisations)
        raise ValueError(f"payer_code: no organisation '{code}' is configured (known: {known})")

    def capitation_rate(self, year: str) -> CapitationRate:
        if year not in self.capitation_rates:
            known = ", ".join(self.capitation_rates) or "none"
            raise ValueError(f"rate_year: no capitation rate configured for {year} (configured: {known})")
        return self.capitation_rates[year]

    def policy(self, kind: str) -> DeadlinePolicy:
        return self.deadlines.get(kind, DeadlinePolicy())
