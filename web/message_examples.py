"""Every email and link page a recipient sees, rendered from the real domain rules, templates and
composition for every kind, party and ladder level: `python -m web.message_examples` writes them to
docs/messages/ (text and HTML), and tests/test_recipient_messages.py checks they are what the code
renders now, so a change to a message is a reviewed change.

The escalations are the examples in examples/*.json under config/escalations.toml, driven through
their states by the pure domain at fixed instants (no Temporal, SMTP or database), so the output is
the same on every run. Links and form ids are placeholders.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from typing import Any

from jinja2 import Environment

from domain import formatting
from domain.calendar import LEGACY_CALENDAR
from domain.compensation_claim import CompensationClaimCase
from domain.configuration import EscalationConfig
from domain.confirmation import ConfirmationCase
from domain.contacts import Contact, Role
from domain.deregistration import DeregistrationCase, DeregistrationRequest
from domain.escalation import COMMON_LABELS, Effect, EmailEffect, EscalationCase
from domain.incident import IncidentCase, StartChild, StartPractices
from domain.pathology import PathologyCase, PathologyRequest
from domain.practice_return import Practice, PracticeCase, ReturnRecord, ShareNotice
from domain.responses import DeregisteredGroup, ResponseInput, ResponseOutcome
from domain.unfunded_claim import ClaimCase, priced_claim
from domain.working_days import LONDON
from mail.compose import compose, message_id_for
from settings import ROOT, Settings
from web.templating import field_words, templates
from workflows.escalation_workflow import CaseView
from workflows.practice import open_practice
from workflows.practice_cohort import PracticeCommon, StartCohort

OUT = ROOT / "docs" / "messages"
LINK = "https://lmc.example/r/SIGNED-LINK"
MAIL_FROM = "Example LMC <escalations@lmc.example>"


def at(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=LONDON)


@dataclass
class Example:
    """One email or page: `name` is its file name without the extension."""

    name: str
    text: str
    html: str | None = None


@dataclass
class Scene:
    """A case as it stood when an email went (or a page was opened) at `now`."""

    case: EscalationCase
    now: datetime


def _config() -> EscalationConfig:
    return Settings().escalation_config()


def _example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((ROOT / "examples" / name).read_text())
    return data


def _officer(cfg: EscalationConfig, email: str) -> Contact:
    officer = cfg.lmc.officer(email)
    if officer is None:
        raise ValueError(f"{email} is not an officer in the configuration")
    return officer


def _practices(entries: list[dict[str, Any]]) -> list[Practice]:
    return [
        Practice(
            ods=p["ods"],
            name=p["name"],
            contact=Contact(name=p["contact_name"], title="Practice manager", email=p["contact_email"]),
            weighting=p.get("weighting"),  # a deregistration practice's, as its stored list gives it
        )
        for p in entries
    ]


def _emails(effects: list[Effect]) -> list[EmailEffect]:
    return [e for e in effects if isinstance(e, EmailEffect)]


def _as(role: Role, action: str, email: str, **fields: Any) -> ResponseInput:
    return ResponseInput(action=action, actor_email=email, actor_role=role, **fields)


# --- rendering ---------------------------------------------------------------------------------
def render_email(effect: EmailEffect, scene: Scene, step: int) -> EmailMessage:
    """The email as it is sent, read back as its recipient's mail program reads it."""
    case = scene.case
    officer = case.officer if effect.to_role is not Role.OFFICER else None
    return compose(
        effect,
        mail_from=MAIL_FROM,
        message_id=message_id_for(case.escalation_id, step, "lmc.example"),
        in_reply_to=message_id_for(case.escalation_id, 1, "lmc.example") if step > 1 else None,
        link=LINK if effect.actions else None,
        facts=case.shown_facts(effect.to_role),
        action_labels={**case.action_labels(), **COMMON_LABELS},
        sent_at=scene.now,
        tables=case.tables(),
        reply_to=officer,
    ).as_email()


def email_example(name: str, message: EmailMessage) -> Example:
    headers = "".join(
        f"{header}: {message[header]}\n"
        for header in ("From", "To", "Cc", "Reply-To", "Subject", "Message-ID", "In-Reply-To")
        if message[header]
    )
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    attachments = [
        f"\n--- attachment: {part.get_filename()} ---\n{_lines(part.get_content())}"
        for part in message.iter_attachments()
    ]
    return Example(
        name=name,
        text=headers + "\n" + (_lines(text.get_content()) if text else "") + "".join(attachments),
        html=_lines(html.get_content()) if html else None,
    )


def _lines(content: str | bytes) -> str:
    """A part's text with its line ends as files hold them (as sent, CRLF; here LF)."""
    text = content.decode("utf-8") if isinstance(content, bytes) else content
    return text.removeprefix("\ufeff").replace("\r\n", "\n")


def view_of(case: EscalationCase) -> CaseView:
    """What the workflow's `summary` query answers, from the case itself."""
    return CaseView.of(case)


def _page_env(now: datetime) -> Environment:
    """The link pages' environment, with "working days left" counted from `now` rather than the clock."""
    env = templates.env.overlay()
    env.filters = dict(templates.env.filters)
    env.filters["deadline_in_words"] = lambda iso: (
        formatting.deadline(datetime.fromisoformat(iso), now, LEGACY_CALENDAR) if iso else None
    )
    env.filters["field_words"] = field_words
    return env


def render_page(
    scene: Scene,
    role: Role,
    recipient: str,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    recorded: ResponseOutcome | None = None,
) -> str:
    view = view_of(scene.case).read_by(role)  # as the link page shows it
    actions = {Role.PAYER: view.payer_actions, Role.OFFICER: view.officer_actions}.get(role, view.practice_actions)
    context = {
        "view": view,
        "grant": {"escalation_id": view.escalation_id, "recipient": recipient, "role": role},
        "actions": actions,
        "fields": view.action_fields,
        "group_rows": range(3),
        "labels": view.action_labels,
        "form": form or {},
        "errors": errors or {},
        "refusal": None,
        "recorded": recorded,
        "new_submission_id": lambda: "FORM-ID",
    }
    return _page_env(scene.now).get_template("respond.html").render(context)


# --- the scenes --------------------------------------------------------------------------------
Emit = Callable[[str, EmailEffect, Scene], None]
Page = Callable[..., None]


def claim_examples(emit: Emit, page: Page) -> None:
    """The unfunded work claim to NHS Kent and Medway ICB: the request, every ladder level, the replies."""
    cfg = _config()
    claim = priced_claim(_example("unfunded_claim_kent.json"), cfg.tariff)
    officer = _officer(cfg, claim.officer_email)
    payer = cfg.organisation(claim.payer_code)

    def opened() -> tuple[ClaimCase, list[Effect]]:
        return ClaimCase.open(
            "UWC-2026-EXAMPLE", claim, cfg.lmc, officer, payer, cfg.policy("unfunded_claim"), at(2026, 12, 1)
        )

    case, effects = opened()
    scene = Scene(case, at(2026, 12, 1))
    [request] = _emails(effects)
    emit("claim-1-request-to-icb-level-1", request, scene)
    page("claim-page-icb", scene, Role.PAYER, payer.contact_at(1).email)
    page(
        "claim-page-icb-with-errors",
        scene,
        Role.PAYER,
        payer.contact_at(1).email,
        form={"action": "accept_part", "amount": "12.345", "reasons": ""},
        errors={"amount": "an amount cannot have fractions of a penny", "reasons": "give the reasons for your offer"},
    )
    page("claim-page-officer", scene, Role.OFFICER, officer.email)
    names = [
        "reminder-level-1",
        "escalated-level-2",
        "reminder-level-2",
        "escalated-level-3",
        "reminder-level-3",
        "stalled",
    ]
    for n, name in enumerate(names, start=2):
        when = case.next_timer()
        assert when is not None
        [email] = _emails(case.on_timer(when))
        emit(f"claim-{n}-{name}", email, Scene(case, when))
    page("claim-page-icb-level-3", Scene(case, at(2027, 3, 1)), Role.PAYER, payer.contact_at(3).email)

    replies: list[tuple[str, ResponseInput]] = [
        (
            "counter-offer",
            _as(
                Role.PAYER,
                "accept_part",
                payer.contact_at(1).email,
                amount_pence=150_000,
                reasons="Only fit notes and referrals are evidenced",
            ),
        ),
        (
            "rejected",
            _as(Role.PAYER, "reject", payer.contact_at(1).email, reasons="This work is within the GMS contract"),
        ),
        (
            "information-requested",
            _as(Role.PAYER, "request_info", payer.contact_at(1).email, text="Which trust clinics sent these letters?"),
        ),
        ("accepted", _as(Role.PAYER, "accept", payer.contact_at(1).email)),
    ]
    for name, reply in replies:
        case, _ = opened()
        now = at(2026, 12, 2)
        case.apply(_as(Role.PAYER, "acknowledge", payer.contact_at(1).email), now)
        result, effects = case.apply(reply, at(2026, 12, 3))
        for email in _emails(effects):
            emit(f"claim-reply-{name}-to-{email.to_role.value}", email, Scene(case, at(2026, 12, 3)))
        page(f"claim-page-officer-after-{name}", Scene(case, at(2026, 12, 3)), Role.OFFICER, officer.email)
        page(
            f"claim-page-icb-after-{name}",
            Scene(case, at(2026, 12, 3)),
            Role.PAYER,
            payer.contact_at(1).email,
            recorded=result,
        )


def pathology_examples(emit: Emit, page: Page) -> None:
    """The NWL uACR lab error: practices' returns, the ICB's year-end request, the trust's report and
    claim with its schedule, and each practice's share."""
    cfg = _config()
    request = PathologyRequest.model_validate(_example("pathology_nwl_uacr.json"))
    officer = _officer(cfg, request.officer_email)
    trust, icb = cfg.organisation(request.trust_code), cfg.organisation(request.icb_code)
    opened_at = at(2026, 12, 1)
    incident, effects = PathologyCase.open(
        "PEC-2026-EXAMPLE",
        request,
        _practices([p.model_dump() for p in request.practices]),
        cfg.lmc,
        officer,
        trust,
        icb,
        cfg.policy("pathology_error"),
        opened_at,
    )
    [start] = [e for e in effects if isinstance(e, StartPractices)]
    practice, opening = _practice_case(incident, start, opened_at)
    [ask] = _emails(opening)
    emit("pathology-practice-1-return-requested", ask, Scene(practice, opened_at))
    page("pathology-page-practice-return", Scene(practice, opened_at), Role.PRACTICE, practice.practice.contact.email)
    page(
        "pathology-page-practice-return-with-errors",
        Scene(practice, opened_at),
        Role.PRACTICE,
        practice.practice.contact.email,
        form={"action": "submit_return", "count.patients_reviewed": "ten", "count.recall_appointments": "4"},
        errors={"count.patients_reviewed": "give a whole number of 0 or more", "count.repeat_tests": "required"},
    )
    returned = practice.model_copy(deep=True)  # its page once it has returned: the form starts from the return
    manager = practice.practice.contact.email
    counts = {item.key: n for n, item in enumerate(practice.items, start=3)}
    returned.apply(_as(Role.PRACTICE, "submit_return", manager, counts=counts), opened_at)
    page("pathology-page-practice-correction", Scene(returned, opened_at), Role.PRACTICE, manager)
    when = practice.next_timer()
    assert when is not None
    for email in _emails(practice.on_timer(when)):
        emit("pathology-practice-2-return-reminder", email, Scene(practice, when))

    for topic, payer in (("year_end", icb), ("incident_report", trust)):
        [child] = [e for e in effects if isinstance(e, StartChild) and e.topic == topic]
        assert child.confirmation is not None
        confirmation, opening = ConfirmationCase.open(
            child.child_id, child.confirmation, cfg.lmc, officer, payer, cfg.policy("pathology_error"), opened_at
        )
        slug = topic.replace("_", "-")
        [email] = _emails(opening)
        emit(f"pathology-{slug}-1-request-to-{payer.code.lower()}", email, Scene(confirmation, opened_at))
        page(f"pathology-page-{slug}-payer", Scene(confirmation, opened_at), Role.PAYER, payer.contact_at(1).email)
        if topic == "year_end":
            refused_at = at(2027, 1, 12)
            _, refusal = confirmation.apply(
                _as(
                    Role.PAYER,
                    "refuse",
                    payer.contact_at(1).email,
                    reasons="Year-end reconciliation is fixed nationally",
                ),
                refused_at,
            )
            for email in _emails(refusal):
                emit("pathology-year-end-2-refused-to-officer", email, Scene(confirmation, refused_at))
            page(
                "pathology-page-year-end-officer-after-refusal",
                Scene(confirmation, refused_at),
                Role.OFFICER,
                officer.email,
            )
            disputed_at = at(2027, 1, 13)
            _, disputed = confirmation.apply(
                _as(Role.OFFICER, "dispute", officer.email, reasons="Other ICBs have recognised such errors"),
                disputed_at,
            )
            for email in _emails(disputed):
                emit("pathology-year-end-3-disputed-to-level-2", email, Scene(confirmation, disputed_at))
            page(
                "pathology-page-year-end-level-2",
                Scene(confirmation, disputed_at),
                Role.PAYER,
                payer.contact_at(2).email,
            )
            confirmation.apply(_as(Role.PAYER, "refuse", payer.contact_at(2).email, reasons="Still fixed"), disputed_at)
            _, replied = confirmation.apply(
                _as(Role.OFFICER, "supply_info", officer.email, text="NHS England's guidance allows a local mechanism"),
                disputed_at,
            )
            for email in _emails(replied):
                emit("pathology-year-end-5-reply-to-level-2", email, Scene(confirmation, disputed_at))

    # Returns close: the claim and its schedule go to the trust, the ICB copied.
    records = [
        ReturnRecord(
            ods="E87700",
            counts={"patients_reviewed": 10, "recall_appointments": 4, "repeat_tests": 2, "admin_hours": 1},
        ),
        ReturnRecord(
            ods="E87701", counts={"patients_reviewed": 5, "recall_appointments": 0, "repeat_tests": 0, "admin_hours": 2}
        ),
        ReturnRecord(
            ods="E87702", counts={"patients_reviewed": 7, "recall_appointments": 3, "repeat_tests": 3, "admin_hours": 1}
        ),
    ]
    closed_at = incident.returns_deadline
    incident.on_timer(closed_at)
    [claim_start] = [e for e in incident.on_returns_loaded(records, closed_at) if isinstance(e, StartChild)]
    claim, opening = CompensationClaimCase.open(
        claim_start.child_id,
        incident.title,
        claim_start.claimed_pence or 0,
        claim_start.claim_facts,
        cfg.lmc,
        officer,
        trust,
        icb,
        cfg.policy("pathology_error"),
        closed_at,
    )
    claim.schedule_items, claim.schedule = claim_start.schedule_items, claim_start.schedule
    [email] = _emails(opening)
    emit("pathology-claim-1-request-to-trust-level-1", email, Scene(claim, closed_at))
    page("pathology-page-claim-trust", Scene(claim, closed_at), Role.PAYER, trust.contact_at(1).email)
    for n, name in enumerate(["reminder-level-1", "escalated-level-2"], start=2):
        when = claim.next_timer()
        assert when is not None
        [email] = _emails(claim.on_timer(when))
        emit(f"pathology-claim-{n}-{name}", email, Scene(claim, when))

    share_at = at(2027, 2, 1)
    notice = ShareNotice(
        amount_pence=26_600,
        due=date(2027, 3, 31),
        explanation="Imperial College Healthcare NHS Trust has agreed £733.00 compensation for the uACR error; this "
        "is your practice's share, pro rata to its return.",
    )
    practice.apply(
        _as(Role.PRACTICE, "submit_return", practice.practice.contact.email, counts=records[0].counts), at(2026, 12, 10)
    )
    practice.close_returns()
    for email in _emails(practice.notify_share(notice, share_at)):
        emit("pathology-practice-3-share-notified", email, Scene(practice, share_at))
    page("pathology-page-practice-share", Scene(practice, share_at), Role.PRACTICE, practice.practice.contact.email)


def deregistration_examples(emit: Emit, page: Page) -> None:
    """The Pathfinder deregistrations: the ICB's message, practices' returns by group, the pot."""
    cfg = _config()
    request = DeregistrationRequest.model_validate(_example("deregistration_nwl_pathfinder.json"))
    officer = _officer(cfg, request.officer_email)
    icb = cfg.organisation(request.icb_code)
    opened_at = at(2026, 12, 1)
    incident, effects = DeregistrationCase.open(
        "PDR-2026-EXAMPLE",
        request,
        _practices([p.model_dump() for p in request.practices]),
        cfg.capitation_rate(request.rate_year),
        cfg.lmc,
        officer,
        icb,
        cfg.policy("deregistration"),
        opened_at,
    )
    [start] = [e for e in effects if isinstance(e, StartPractices)]
    practice, opening = _practice_case(incident, start, opened_at)
    [ask] = _emails(opening)
    emit("deregistration-practice-1-return-requested", ask, Scene(practice, opened_at))
    page(
        "deregistration-page-practice-return",
        Scene(practice, opened_at),
        Role.PRACTICE,
        practice.practice.contact.email,
    )
    returned = practice.model_copy(deep=True)  # once returned: the groups as recorded fill the form
    groups = [DeregisteredGroup(patients=12, days_off=30), DeregisteredGroup(patients=3, days_off=5)]
    returned.apply(_as(Role.PRACTICE, "submit_return", practice.practice.contact.email, groups=groups), opened_at)
    page(
        "deregistration-page-practice-correction",
        Scene(returned, opened_at),
        Role.PRACTICE,
        practice.practice.contact.email,
    )
    [child] = [e for e in effects if isinstance(e, StartChild) and e.topic == "icb_message"]
    assert child.confirmation is not None
    message, opening = ConfirmationCase.open(
        child.child_id, child.confirmation, cfg.lmc, officer, icb, cfg.policy("deregistration"), opened_at
    )
    [email] = _emails(opening)
    emit("deregistration-icb-message-1-request-to-icb", email, Scene(message, opened_at))
    page("deregistration-page-icb-message-icb", Scene(message, opened_at), Role.PAYER, icb.contact_at(1).email)

    groups = [DeregisteredGroup(patients=12, days_off=30), DeregisteredGroup(patients=3, days_off=61)]
    practice.apply(
        _as(Role.PRACTICE, "submit_return", practice.practice.contact.email, groups=groups), at(2026, 12, 10)
    )
    closed_at = incident.returns_deadline
    incident.on_timer(closed_at)
    records = [ReturnRecord(ods=practice.practice.ods, groups=groups)]
    pots = [e for e in incident.on_returns_loaded(records, closed_at) if isinstance(e, StartChild)]
    for pot_start in pots:
        assert pot_start.confirmation is not None
        pot, opening = ConfirmationCase.open(
            pot_start.child_id, pot_start.confirmation, cfg.lmc, officer, icb, cfg.policy("deregistration"), closed_at
        )
        for email in _emails(opening):
            emit("deregistration-pot-1-request-to-icb", email, Scene(pot, closed_at))
        page("deregistration-page-pot-icb", Scene(pot, closed_at), Role.PAYER, icb.contact_at(1).email)


def _practice_case(incident: IncidentCase, start: StartPractices, now: datetime) -> tuple[PracticeCase, list[Effect]]:
    """The first practice's case and its opening, as its cohort starts it and its workflow opens it."""
    cohort = StartCohort(
        cohort_id=f"{incident.escalation_id}-C01",
        common=PracticeCommon.of(incident, start),
        practices=start.practices[:1],
    )
    [first] = cohort.practice_starts()
    return open_practice(first, now)


def examples() -> Iterator[Example]:
    """Every example, in a stable order."""
    found: list[Example] = []
    steps: dict[str, int] = {}

    def emit(name: str, effect: EmailEffect, scene: Scene) -> None:
        reference = scene.case.escalation_id
        steps[reference] = steps.get(reference, 0) + 1
        found.append(email_example(f"email-{name}", render_email(effect, scene, steps[reference])))

    def page(name: str, scene: Scene, role: Role, recipient: str, **extra: Any) -> None:
        found.append(Example(name=f"page-{name}", text="", html=render_page(scene, role, recipient, **extra)))

    claim_examples(emit, page)
    pathology_examples(emit, page)
    deregistration_examples(emit, page)
    yield from found


def files() -> dict[str, str]:
    """File name -> content, as docs/messages/ holds them."""
    out: dict[str, str] = {}
    for example in examples():
        if example.text:
            out[f"{example.name}.txt"] = example.text
        if example.html is not None:
            out[f"{example.name}.html"] = example.html
    return out


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    wanted = files()
    for stale in OUT.glob("*"):
        if stale.suffix in (".txt", ".html") and stale.name not in wanted:
            stale.unlink()
    for name, content in wanted.items():
        (OUT / name).write_text(content, encoding="utf-8")
    print(f"{len(wanted)} files in {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
