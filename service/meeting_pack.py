"""The LMC-ICB liaison meeting pack: for one ICB and meeting date, what goes on the agenda (every
escalation at the top of the ladder or stalled, every open incident the ICB is part of), what changed
since the previous meeting, and how the ICB's earlier commitments stand; each item with a short
history and the ask. Read from Temporal visibility, each case's summary and the audit log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as listed
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, Field, ValidationInfo, field_validator
from temporalio.client import Client

from domain import wording
from domain.alert_analysis import AlertFigures, Share, shares
from domain.configuration import EscalationConfig
from domain.confirmation import KIND as CONFIRMATION
from domain.contacts import Organisation, Role
from domain.incident import IncidentCase
from domain.working_days import at_close_of_day, describe_date, describe_deadline
from kinds import KINDS, kind
from persistence.audit_log import AuditLog, AuditRecord
from persistence.meetings import Meetings
from service import listing, reading
from service.gate import Keyword, admit, refuse_field
from service.refusals import Refused
from workflows import search_attributes as sa
from workflows.escalation_workflow import CaseView

DEFAULT_LOOKBACK = timedelta(weeks=8)
"""With no earlier meeting recorded, what changed in the eight weeks before this one."""
EARLIEST, LATEST = date(2000, 1, 1), date(2099, 12, 31)
"""Meeting dates the pack accepts: anything else is a typing slip, refused naming the field."""
HISTORY_STEPS = 6
QUERIES_AT_ONCE = 16

EVENT_WORDS = {
    "requested": "Request sent",
    "submitted": "Escalation raised",
    "incident_opened": "Incident opened",
    "email_sent": "Email sent",
    "email_held": "Email held (delivery unknown)",
    "deadline_missed": "Deadline missed",
    "ladder_climbed": "Escalated to a more senior contact",
    "stalled": "Stalled: no response at the top of the ladder",
    "overdue": "Marked overdue",
    "closed": "Closed",
    "child_closed": "A request within it closed",
    "contact_replaced": "Contact replaced",
    "returns_closed": "Practice returns closed",
    "returns_collected": "Practice returns collected",
    "shares_allocated": "Shares allocated to practices",
    "share_notified": "A practice told its share",
    "practices_settled": "Every practice settled",
    "payment_overdue": "Payment overdue",
    "interest_declared": "Interest declared",
}


def event_in_words(row: AuditRecord) -> str:
    """One audit step as a line a meeting reads: 'Email sent to cmo@… (Reminder: …)'."""
    event, detail = row.event, row.detail
    if event.startswith("response:"):
        words = f"Response recorded: {event.removeprefix('response:').replace('_', ' ')}"
    else:
        words = EVENT_WORDS.get(event, event.replace("_", " ").replace(":", ": ").capitalize())
    if event in ("email_sent", "email_held") and detail.get("to"):
        words += f" to {detail['to']}" + (f" ({detail['subject']})" if detail.get("subject") else "")
    elif event == "ladder_climbed" and detail.get("level"):
        words += f" (level {detail['level']})"
    elif detail.get("reasons"):
        words += f": {detail['reasons']}"
    elif row.actor not in ("engine", "timer"):
        words += f" by {row.actor}"
    return words


@dataclass(frozen=True)
class HistoryLine:
    on: date
    what: str


@dataclass(frozen=True)
class PackItem:
    """One escalation or incident on the agenda: why it is there, its story so far, what the LMC asks."""

    reference: str
    title: str
    kind_label: str
    status: str
    level: int
    stalled: bool
    why: str
    ask: str
    deadline: str | None
    history: list[HistoryLine]


@dataclass(frozen=True)
class Change:
    reference: str
    title: str
    lines: list[HistoryLine]


@dataclass(frozen=True)
class CommitmentLine:
    """A commitment the ICB made at an earlier meeting, and where it stands now."""

    reference: str
    meeting_date: date
    commitment: str
    contact: str
    due: date | None
    status: str


@dataclass(frozen=True)
class MeetingPack:
    icb: Organisation
    meeting_date: date
    since: date
    previous_meeting: date | None
    agenda: list[PackItem] = listed(default_factory=list)
    incidents: list[PackItem] = listed(default_factory=list)
    changes: list[Change] = listed(default_factory=list)
    commitments: list[CommitmentLine] = listed(default_factory=list)
    alerts: list[AlertFigures] = listed(default_factory=list)
    """Interface alerts from the ICB's practices since the last meeting (issue #17)."""

    @property
    def alert_shares(self) -> dict[str, list[Share]]:
        """The Kent-style analysis of `alerts`: share of items by category and by provider."""
        return {key: shares(self.alerts, key) for key in ("category", "provider")}

    @property
    def intro(self) -> str:
        return (
            f"For the liaison meeting between the Local Medical Committee (LMC) and {self.icb.name}, the Integrated "
            "Care Board (ICB): what the LMC asks of the ICB, item by item, and what has happened since the last meeting."
        )

    @property
    def title(self) -> str:
        return f"{self.icb.name}: LMC liaison meeting, {describe_date(self.meeting_date)}"


def icb_of(config: EscalationConfig, code: str) -> Organisation:
    """The configured ICB `code`, or `Refused` naming the `icb` field."""
    try:
        org = config.organisation(code)
    except ValueError as err:
        raise refuse_field("icb", str(err).removeprefix("payer_code: ")) from err
    if org.kind != "icb":
        raise refuse_field("icb", f"{org.code} is a trust; a liaison meeting pack is for an ICB")
    return org


def kind_label(name: str) -> str:
    spec = kind(name)
    if spec is not None:
        return spec.label
    return "Request to confirm" if name == CONFIRMATION else name.replace("_", " ")


def _topic(topic: str) -> str:
    """'icb_message' as 'ICB message'."""
    return " ".join("ICB" if w == "icb" else w for w in topic.split("_"))


def _choices(actions: list[str]) -> str:
    """'acknowledge receipt, accept the claim in full or reject it'."""
    words = [a[0].lower() + a[1:] for a in actions]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def ask_of(view: CaseView, icb: Organisation) -> str:
    """What the LMC asks of the ICB about this case, in a sentence or two."""
    wait = view.wait
    if view.kind in _incident_kinds():
        children = view.case.get("children", {})
        waiting = [f"{_topic(t)} ({c['child_id']})" for t, c in children.items() if not c.get("outcome")]
        if waiting:
            return f"Progress on the requests still open: {', '.join(waiting)}."
    if wait is not None and wait.holder == Role.PAYER.value:
        payer = view.header.payer.name
        words = f"The LMC asks {payer} for its {wait.purpose.replace('_', ' ')}"
        actions = [view.action_labels.get(a, a) for a in view.payer_actions]
        if actions:
            words += f": to {_choices(actions)}"
        if wait.deadline:
            due = describe_deadline(datetime.fromisoformat(wait.deadline))
            words += f", by {due}" if not wait.misses else f", now overdue (due by {due})"
        elif wait.misses:
            words += f", after {wait.misses} missed deadlines"
        if view.stalled:
            words = f"Stalled with no response from any contact. {words}"
        return words + "."
    if wait is not None:
        return f"For information: the next step ({wait.purpose.replace('_', ' ')}) is the LMC's."
    return f"An update from {icb.name}."


def _incident_kinds() -> set[str]:
    return {spec.name for spec in KINDS if issubclass(spec.case_model, IncidentCase)}


async def _summaries(client: Client, ids: list[str]) -> dict[str, CaseView]:
    gate = asyncio.Semaphore(QUERIES_AT_ONCE)

    async def one(escalation_id: str) -> CaseView | None:
        async with gate:
            try:
                return await reading.summary(client, escalation_id, timeout=reading.REPORT_QUERY_TIMEOUT)
            except Refused:  # no worker can answer for it now: left out rather than holding the pack up
                return None

    found = await asyncio.gather(*(one(i) for i in ids))
    return {i: v for i, v in zip(ids, found, strict=True) if v is not None}


def _history(audit: AuditLog, escalation_id: str) -> list[HistoryLine]:
    rows = audit.timeline(escalation_id)
    return [HistoryLine(r.occurred_at.date(), event_in_words(r)) for r in rows[-HISTORY_STEPS:]]


def _item(view: CaseView, icb: Organisation, audit: AuditLog, why: str) -> PackItem:
    return PackItem(
        reference=view.escalation_id,
        title=view.title,
        kind_label=kind_label(view.kind),
        status=wording.outcome(view.outcome) if view.outcome else wording.status(view.status),
        level=view.ladder_level,
        stalled=view.stalled,
        why=why,
        ask=ask_of(view, icb),
        deadline=view.wait.deadline if view.wait else None,
        history=_history(audit, view.escalation_id),
    )


def _why(view: CaseView) -> str:
    if view.stalled:
        return "Stalled: every contact on the ladder has missed their deadline"
    return "At the top of the ladder (level 3): flagged for this meeting"


async def gather(
    client: Client,
    config: EscalationConfig,
    audit: AuditLog,
    meetings: Meetings,
    icb_code: str,
    meeting_date: date,
    since: date | None = None,
    alerts_between: Callable[[date, date], list[AlertFigures]] | None = None,
) -> MeetingPack:
    """The pack for `icb_code`'s meeting on `meeting_date`; what changed is counted from `since`, else
    from the previous recorded meeting, else from eight weeks before."""
    icb = icb_of(config, icb_code)
    code = icb.code
    previous = meetings.previous_meeting(code, meeting_date)
    since = since or previous or (meeting_date - DEFAULT_LOOKBACK)
    names = ", ".join(f"'{n}'" for n in sorted({spec.name for spec in KINDS} | {CONFIRMATION}))
    running = listing.OPEN
    ours = f"{sa.PAYER.name} = '{code}' AND {sa.KIND.name} IN ({names})"
    flagged = await reading.list_escalations(
        client, f"{ours} AND {running} AND ({sa.LADDER_LEVEL.name} >= 3 OR {sa.STALLED.name} = true)"
    )
    incident_names = ", ".join(f"'{n}'" for n in sorted(_incident_kinds()))
    incidents = await reading.list_escalations(client, f"{sa.KIND.name} IN ({incident_names}) AND {running}")
    everything = await reading.list_escalations(client, ours)
    views = await _summaries(client, sorted({r.id for r in (*flagged, *incidents)}))

    agenda = [
        _item(views[r.id], icb, audit, _why(views[r.id]))
        for r in flagged
        if r.id in views and (views[r.id].on_liaison_agenda or views[r.id].stalled)
    ]
    involved = [
        views[r.id]
        for r in incidents
        if r.id in views
        and code in {views[r.id].header.payer.code, str((views[r.id].case.get("icb") or {}).get("code", ""))}
    ]
    incident_items = [_item(v, icb, audit, "An open incident affecting practices in this ICB") for v in involved]

    commitments = await _commitments(client, meetings, code, meeting_date)
    watched = sorted(
        {r.id for r in everything} | {v.escalation_id for v in involved} | {c.reference for c in commitments}
    )
    rows = audit.since(watched, datetime.combine(since, datetime.min.time(), tzinfo=UTC))
    by_case: dict[str, list[HistoryLine]] = {}
    for row in rows:
        by_case.setdefault(row.escalation_id, []).append(HistoryLine(row.occurred_at.date(), event_in_words(row)))
    titles = {**{i: v.title for i, v in views.items()}}
    missing = [i for i in by_case if i not in titles]
    titles.update({i: v.title for i, v in (await _summaries(client, missing)).items()})
    changes = [Change(i, titles.get(i, i), lines) for i, lines in by_case.items()]

    return MeetingPack(
        icb=icb,
        meeting_date=meeting_date,
        since=since,
        previous_meeting=previous,
        agenda=agenda,
        incidents=incident_items,
        changes=changes,
        commitments=commitments,
        alerts=alerts_between(since, meeting_date) if alerts_between is not None else [],
    )


async def _commitments(client: Client, meetings: Meetings, code: str, before: date) -> list[CommitmentLine]:
    earlier = [o for o in meetings.outcomes(code) if o.commitment_id and o.meeting_date < before]
    views = await _summaries(client, [o.commitment_id for o in earlier if o.commitment_id])
    lines = []
    for o in earlier:
        assert o.commitment_id is not None and o.commitment is not None
        view = views.get(o.commitment_id)
        if view is None:
            status = "not known (the engine could not be asked)"
        elif view.outcome:
            status = view.outcome.replace("_", " ")
        elif view.stalled:
            status = "stalled"
        elif view.wait and view.wait.misses:
            status = f"overdue (level {view.ladder_level})"
        else:
            status = "open"
        lines.append(
            CommitmentLine(o.commitment_id, o.meeting_date, o.commitment, o.contact_email or "", o.due, status)
        )
    return lines


def due_words(day: date | None) -> str:
    return describe_deadline(at_close_of_day(day)) if day else ""


class PackChoice(BaseModel):
    """Which pack the officer asks for: an ICB's code and the meeting's date (and, to override the
    previous meeting, the date changes are counted from)."""

    icb: Keyword
    meeting_date: date = Field(alias="date", ge=EARLIEST, le=LATEST)
    since: date | None = Field(default=None, ge=EARLIEST, le=LATEST)

    @field_validator("since")
    @classmethod
    def _before_the_meeting(cls, since: date | None, info: ValidationInfo) -> date | None:
        meeting = info.data.get("meeting_date")
        if since is not None and meeting is not None and since >= meeting:
            raise ValueError(f"changes are counted from a day before the meeting ({describe_date(meeting)})")
        return since


def choose(params: dict[str, str]) -> PackChoice:
    """The page's or the download's query through the gate; `Refused` naming the field."""
    return admit(PackChoice, {k: v for k, v in params.items() if v})
