"""The workflow half every escalation kind shares: run the case's deadline loop, take
responses as validated updates, and carry out the effects the domain returns through the
audit and email activities, in order, each exactly once per step.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, Field, model_validator

    from activities.audit import AuditActivities, AuditEntry
    from activities.email import EmailActivities, EmailRequest, EmailSent, SettleHeldEmail
    from activities.steps import EmailStep, StepActivities, StepRun, email_audit
    from domain import wording
    from domain.calendar import CalendarChange, WorkingCalendar, legacy_calendar
    from domain.contacts import Contact, Lmc, Role
    from domain.escalation import (
        COMMON_FIELDS,
        COMMON_LABELS,
        DECLARE_INTEREST,
        LEGACY_RULES,
        AuditEffect,
        CaseHeader,
        Command,
        DeadlinePolicy,
        Effect,
        EmailEffect,
        EscalationCase,
        ResponseRefused,
        check_within_reason,
    )
    from domain.form_response import (
        EARLIER_GROUP_ROWS,
        GROUP_ROWS,
        TWENTY_GROUP_ROWS,
        FormResponse,
        form_digest,
        read_new_response,
        read_response,
    )
    from domain.mail_delay import allow_for_mail_delay, working_days_waited
    from domain.report import ReportLine
    from domain.responses import FieldSpec, ResponseInput, ResponseOutcome, digest_of
    from domain.tables import Table
    from domain.validation import FieldsRefused
    from domain.working_days import london_date
    from workflows import search_attributes as sa
    from workflows import upward_signals

CaseT = TypeVar("CaseT", bound=EscalationCase)

HELD_EMAIL_EVENTS = {
    "sent": "held_email_sent",
    "held": "held_email_held_again",
    "confirmed": "held_email_confirmed_arrived",
}
MAIL_DELAY_PATCH = "deadline-moved-for-mail-delay"
MORE_GROUP_ROWS_PATCH = "more-group-rows"
"""A form with groups is read, as recorded, over twenty rows; forms recorded before, over the eight the page
offered then (a crafted ninth was not read, and must not be on replay)."""
ALL_GROUP_ROWS_PATCH = "group-rows-as-many-as-a-return-may-give"
"""From this patch on, `GROUP_ROWS` (as many as a return may give); forms recorded after `MORE_GROUP_ROWS_PATCH` and
before this one, over the twenty rows the page offered then. A patch keeps its first answer for the rest of a run,
so a run that read a form before this one reads every later form over those rows too, and its validator refuses
a form with more (`_group_rows`), rather than the handler leaving them unread."""
STEP_TIMEOUT = timedelta(seconds=30)
ACTIVITY_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_interval=timedelta(minutes=10))


class WaitView(BaseModel):
    purpose: str
    holder: str
    deadline: str | None
    misses: int
    paused_days_left: int | None


class CaseView(BaseModel):
    """What `summary` answers: enough for a link page, `starter.py show`, the report and ops.

    `case` is the kind's whole state as JSON (the wire shape results were recorded with); read it
    typed, as the kind's own model, with `case_as`."""

    escalation_id: str
    kind: str
    title: str
    header: CaseHeader
    status: str
    outcome: str | None
    ladder_level: int
    stalled: bool
    on_liaison_agenda: bool
    wait: WaitView | None
    facts: list[tuple[str, str]]
    tables: list[Table] = []
    payer_actions: list[str]
    officer_actions: list[str]
    practice_actions: list[str] = []
    action_labels: dict[str, str]
    action_fields: dict[str, list[FieldSpec]]
    report_lines: list[ReportLine] = []
    payment_gap_pence: int | None = None
    """Money received less money due, once a payment is recorded: negative is an underpayment, positive
    an overpayment, 0 paid in full; None before any payment (and for kinds that take none)."""
    case: dict[str, Any]

    def stopped(self) -> CaseView:
        """This view of a case ops stopped: its own state stops where it was, so nothing is waited for or offered,
        and its facts say stopped where they said how it stood ('Status', a request still 'open')."""
        stopped = wording.outcome(wording.STOPPED)
        facts = [
            (label, stopped if label == "Status" or value == "open" else value)
            for label, value in wording.without_awaited(self.facts)  # no date anything is waiting for
        ]
        return self.model_copy(
            update={
                "facts": facts,
                "status": wording.STOPPED,
                "outcome": wording.STOPPED,
                "wait": None,
                "stalled": False,
                "payer_actions": [],
                "officer_actions": [],
                "practice_actions": [],
            }
        )

    @model_validator(mode="before")
    @classmethod
    def _header_from_case(cls, data: Any) -> Any:
        """Results recorded before the header existed carry it inside their case."""
        if isinstance(data, dict) and "header" not in data and isinstance(data.get("case"), dict):
            case = data["case"]
            lmc = case.get("lmc") or {}
            data = {
                **data,
                "header": {
                    "reference": case.get("escalation_id"),
                    "kind": case.get("kind"),
                    "title": case.get("title"),
                    "lmc": lmc.get("name") if isinstance(lmc, dict) else lmc,
                    "officer": case.get("officer"),
                    "payer": case.get("payer"),
                },
            }
        return data

    @classmethod
    def of(cls, case: EscalationCase, case_json: dict[str, Any] | None = None) -> CaseView:
        """What `summary` answers for `case` (rendered examples build it the same way); `case_json` bounds a
        large case's state (`EscalationWorkflow.case_json`)."""
        wait = case.wait
        return cls(
            escalation_id=case.escalation_id,
            kind=case.kind,
            title=case.title,
            header=case.header,
            status=case.status,
            outcome=case.outcome,
            ladder_level=case.ladder.level,
            stalled=case.ladder.stalled,
            on_liaison_agenda=case.ladder.on_liaison_agenda,
            wait=None
            if wait is None
            else WaitView(
                purpose=wait.purpose,
                holder=wait.holder.value,
                deadline=wait.deadline.isoformat() if wait.deadline else None,
                misses=wait.misses,
                paused_days_left=wait.paused_days_left,
            ),
            facts=case.shown_facts(),
            tables=case.tables(),
            payer_actions=case.actions_offered(Role.PAYER),
            officer_actions=case.actions_offered(Role.OFFICER),
            practice_actions=case.actions_offered(Role.PRACTICE),
            action_labels={**case.action_labels(), **COMMON_LABELS},
            action_fields={**case.action_fields(), **COMMON_FIELDS},
            report_lines=case.report_lines(),
            payment_gap_pence=case.payment_gap(),
            case=case.model_dump(mode="json") if case_json is None else case_json,
        )

    def read_by(self, reader: Role) -> CaseView:
        """This view as `reader` reads it: "your" only to the practice whose case it is (`wording.for_reader`);
        `facts` as recorded are the practice's."""
        return self.model_copy(update={"facts": wording.for_reader(self.facts, reader)})

    def case_as(self, model: type[CaseT]) -> CaseT:
        """The case as its kind's own model (`ClaimCase`, `PathologyCase`, ...)."""
        if self.kind != self.case.get("kind"):
            raise ValueError(f"{self.escalation_id} is a {self.kind}, not a {model.__name__}")
        return model.model_validate(self.case)


class Responded(BaseModel):
    """What `respond_to_form` answers: the outcome and the case as it stands after it, so a link page's POST
    is answered from one round trip. `view` is None only where an update recorded as `respond` (before
    this existed) is answered again for the same submission id (`service/acting.py`)."""

    outcome: ResponseOutcome
    view: CaseView | None = None
    form_digest: str | None = None
    """What the recorded form said (`domain.form_response.form_digest`): the same submission id sent again with
    other values (a page edited after Back) is answered with the first outcome, and this tells the page so."""


RESUMING = "resuming after continuing as new; ask again in a moment"
"""A query's failure while a run reads back what its previous run stored (`EscalationWorkflow.on_resume`), never
answering with a partial case: `service.reading.summary` asks again."""


class ChildClosed(BaseModel):
    """What a child that reports by signal (`EscalationWorkflow._tell_parent`) tells its parent."""

    child_id: str
    view: CaseView


class Progress(BaseModel):
    """Bookkeeping carried across continue-as-new alongside the case."""

    audit_seq: int = 0
    email_step: int = 0
    thread_root: str | None = None
    last_email: EmailEffect | None = None  # what ops can ask to send again
    resend_submissions: list[str] = []  # the latest ops' resend forms seen, so one sent twice resends once
    held_emails: int = 0  # emails held for ops' decision and not yet settled (the EmailsHeld search attribute)


class Carried(BaseModel, Generic[CaseT]):
    """What a run hands the next across continue-as-new: the case and its bookkeeping."""

    case: CaseT
    progress: Progress


class EscalationStart(BaseModel):
    """What every kind's start model carries: its reference, the LMC, the officer and the deadlines,
    resolved from configuration at the start so a later change never alters a running escalation."""

    escalation_id: str
    lmc: Lmc
    officer: Contact
    policy: DeadlinePolicy
    rules: int = LEGACY_RULES
    """The rules the case opens under (`EscalationCase.rules`): the kinds' builders set the current ones, an
    incident passes its own to its parts, and a start recorded before the field existed reads as the old."""
    calendar: WorkingCalendar = Field(default_factory=legacy_calendar)
    """The bank holidays the case counts over: the installed calendar when it starts (set by the service), its
    incident's for a part; a start recorded before calendars travelled reads as the frozen legacy calendar."""


class CloseRequest(BaseModel):
    reason: str


class ResendRequest(BaseModel):
    """Ops ask for the latest email to go again (lost in a mailbox, say): a new message in the thread."""

    by: str
    reason: str
    submission: str | None = None  # the ops form's one-time id: the same form sent twice resends once


class ReplaceContact(BaseModel):
    """An officer replaces one of the payer's contacts; the latest request is sent again to the new one."""

    old_email: str
    new: Contact
    by: str
    reason: str
    keep_old_links: bool = False


class CalendarAdopted(BaseModel):
    """What an escalation says when told of a new calendar: whether its deadline moved, and in words."""

    moved: bool
    message: str


class SettleHeld(Command):
    """Ops' decision on a held email, queued with the case's effects so it is audited in order."""

    decision: SettleHeldEmail


class EscalationWorkflow:
    """Base for the kinds' workflows; subclasses call `begin` in their `@workflow.init`.

    A kind's start model has a `carried` field of a model with `case` and `progress`,
    named by `carried_model`, so continue-as-new works the same for every kind."""

    case: EscalationCase
    progress: Progress
    outbox: list[Effect]
    carried_model: type[BaseModel]
    may_continue_as_new = True  # False where the workflow holds child handles a new run would lose (`may_continue`)

    def begin(self, start: BaseModel, case: EscalationCase, progress: Progress | None, effects: list[Effect]) -> None:
        self.start = start
        self.case = case
        self.progress = progress or Progress()
        self.outbox = list(effects)
        self._published: tuple[Any, ...] | None = None
        self._static_published = False  # title, practices, contacts: once a run, with the first upsert
        self._answered = False  # a person's response is waiting on the steps in the outbox
        self._local_now = False  # the steps being carried out run as local activities
        self._said_long_history = False  # told ops once that this run's history is long and it cannot continue
        # Group rows this run reads a form over: fewer in a run that read one before they grew (`_read_form`).
        self._group_rows = GROUP_ROWS

    def begin_or_resume(self, start: Any, open_case: Callable[[], tuple[EscalationCase, list[Effect]]]) -> None:
        """Resume from what a previous run carried over, or open the case afresh."""
        if start.carried is not None:
            self.begin(start, start.carried.case, start.carried.progress, [])
        else:
            case, effects = open_case()
            self.begin(start, case, None, effects)

    def may_continue(self) -> bool:
        """This run may continue as new now (kinds holding child handles say when they do not)."""
        return self.may_continue_as_new

    async def before_continuing(self) -> None:
        """Kinds whose state is too large to carry store it outside the history here, before `carry_over`."""

    async def on_resume(self) -> None:
        """Kinds that stored state in `before_continuing` read it back here, before the run's first step."""

    async def resumed(self) -> None:
        """Returns once `on_resume` has read back what it needs: handlers that act on the case wait for it. (Kinds
        that store nothing return at once, without yielding, so recorded runs replay as they ran.)"""

    def carry_over(self) -> BaseModel:
        """The input that continues this escalation in a fresh run."""
        carried = self.carried_model(case=self.case, progress=self.progress)
        return self.start.model_copy(update={"carried": carried})

    @property
    def steps_local(self) -> bool:
        """The start asks for local steps (`StartPractice.local_steps`)."""
        return bool(getattr(self.start, "local_steps", False))

    async def step(self, method: Callable[[Any, Any], Any], arg: Any, timeout: timedelta = STEP_TIMEOUT) -> Any:
        """Run one of the case's steps (an audit write, an email, a stored return) as an activity or, where the
        start says `local_steps`, as a local activity: one marker event inside the workflow task that asked for
        it rather than a task round trip apiece. Each step is idempotent (audit rows by sequence, emails
        claimed in the ledger before sending), so a workflow task retried after a crash repeats none.

        Steps that follow a person's response run as ordinary activities even so: an update is answered when
        its workflow task completes, and local activities would hold that task (and the person's page) open."""
        if self._local_now:
            return await workflow.execute_local_activity_method(
                method, arg, start_to_close_timeout=timeout, retry_policy=ACTIVITY_RETRY
            )
        return await workflow.execute_activity_method(
            method, arg, start_to_close_timeout=timeout, retry_policy=ACTIVITY_RETRY
        )

    async def carry_out_command(self, command: Command) -> None:
        """Kinds with commands (children, returns) carry them out here."""
        raise NotImplementedError(type(command).__name__)

    @workflow.signal
    def close_by_parent(self, request: CloseRequest) -> None:
        self.outbox.extend(self.case.close_by_parent(request.reason))

    @workflow.signal
    def resend(self, request: ResendRequest) -> None:
        if request.submission is not None:
            if request.submission in self.progress.resend_submissions:  # that form was sent before
                return
            self.progress.resend_submissions = [*self.progress.resend_submissions[-19:], request.submission]
        last = self.progress.last_email
        self.outbox.append(
            AuditEffect(
                event="resend_requested",
                actor=request.by,
                detail={"reason": request.reason, "purpose": last.purpose if last else None},
            )
        )
        if last is not None:
            self.outbox.append(last.model_copy())

    @workflow.update
    def replace_contact(self, request: ReplaceContact) -> str:
        """Future emails go to the new contact; if the latest email went to the old one, it goes again
        to the new one, with a link of their own."""
        effects = self.case.replace_contact(
            request.old_email, request.new, request.by, request.reason, request.keep_old_links
        )
        self.outbox.extend(effects)
        self._answered = True
        self._static_published = False  # the contacts the console searches by have changed
        last = self.progress.last_email
        if last is not None and last.to.email == request.old_email.lower():
            resent = last.model_copy(update={"to": request.new.model_copy(update={"title": last.to.title})})
            self.outbox.append(resent)
            return f"{request.new.name} takes over, and has been sent the latest request with a link of their own."
        return f"{request.new.name} takes over; the next email will go to them."

    @replace_contact.validator
    def _check_replacement(self, request: ReplaceContact) -> None:
        try:
            if self.case.is_closed:
                raise ResponseRefused(
                    f"This escalation is closed ({self.case.outcome}); its contacts stay as they were."
                )
            if not self.case.payer.knows(request.old_email):
                raise ResponseRefused(
                    f"recipient: {request.old_email} is not on {self.case.payer.name}'s contact ladder here."
                )
            if self.case.payer.knows(request.new.email):
                raise ResponseRefused(
                    f"email: {request.new.email} is already on {self.case.payer.name}'s contact ladder here."
                )
        except ResponseRefused as refused:
            raise ApplicationError(str(refused), type="ResponseRefused", non_retryable=True) from refused

    @workflow.update
    def change_calendar(self, change: CalendarChange) -> CalendarAdopted:
        """Ops installed a bank-holiday calendar: count over it from now on; a pending deadline it moves is
        recomputed, audited and, where someone was given the old date, sent to them again."""
        message, effects = self.case.adopt_calendar(change, workflow.now(), self.progress.last_email)
        self.outbox.extend(effects)
        if effects:
            self._answered = True
        moved = any(isinstance(e, AuditEffect) and e.event == "deadline_moved" for e in effects)
        return CalendarAdopted(moved=moved, message=message)

    @change_calendar.validator
    def _check_calendar(self, change: CalendarChange) -> None:
        today = workflow.now().date()
        if self.case.is_closed:
            raise ApplicationError(
                f"{self.case.escalation_id} is closed ({self.case.outcome}); its deadlines stay as they were.",
                type="ResponseRefused",
                non_retryable=True,
            )
        wait = self.case.wait
        due = wait.deadline.date() if wait is not None and wait.deadline is not None else today
        if not (change.calendar.covers(today) and change.calendar.covers(due)):
            raise ApplicationError(
                f"calendar: {change.calendar.version} does not cover {today.year} to {due.year}.",
                type="ResponseRefused",
                non_retryable=True,
            )

    @workflow.signal
    def settle_held_email(self, decision: SettleHeldEmail) -> None:
        """Ops decide about an email held because a send was cut off: send it, or record that it arrived."""
        self.outbox.append(SettleHeld(decision=decision))

    # --- responses ----------------------------------------------------------------------
    @workflow.update
    async def respond(self, response: ResponseInput) -> ResponseOutcome:
        outcome = await self._take_response(response)
        return outcome.model_copy(update={"response_digest": digest_of(response)})

    async def _take_response(self, response: ResponseInput) -> ResponseOutcome:
        await self.resumed()
        interest = self.case.conflict(response)
        if interest is not None:  # refused, and the refusal audited: hence here, not in the validator
            message, audit = self.case.refuse_for_conflict(response, interest)
            self.outbox.append(audit)
            self._answered = True
            raise ApplicationError(message, type="ConflictOfInterest", non_retryable=True)
        try:
            if response.action == DECLARE_INTEREST:
                await self.before_declaring(response)
                outcome, effects = self.case.declare_interest(response)
            else:
                outcome, effects = self.case.apply(response, workflow.now())
        except ResponseRefused as refused:  # state moved between validation and handling
            raise ApplicationError(str(refused), type="ResponseRefused", non_retryable=True) from refused
        self.outbox.extend(effects)
        self._answered = True
        workflow.logger.info(
            "response recorded",
            extra={"escalation_id": self.case.escalation_id, "action": response.action, "status": outcome.status},
        )
        return outcome

    async def before_declaring(self, response: ResponseInput) -> None:
        """Kinds whose parties are not all in the case (an incident's stored practice list) look the party up."""

    @respond.validator
    def _check_response(self, response: ResponseInput) -> None:
        """Refuse before anything reaches history. Validators do not run on replay, so refusing more here
        never changes a recorded run; the handler's own re-check (inside `apply`) refuses more only for
        cases under the rules that introduced it."""
        try:
            if response.action == DECLARE_INTEREST:
                self.case.check_actor(response)
                self.case.check_interest(response)
            else:
                self.case.check(response, workflow.now())
                self.case.check_as_sent(response)
            # after the case's own rules, which say it better; today as the case counts days (London)
            check_within_reason(response, self.case.calendar, london_date(workflow.now()))
        except ResponseRefused as refused:
            raise ApplicationError(str(refused), type="ResponseRefused", non_retryable=True) from refused

    @workflow.update
    async def respond_to_form(self, submitted: FormResponse) -> Responded:
        """A link page's form as posted, read by this case's field specs (the gate's rules, in the domain),
        taken as `respond` takes a response, and answered with the case as it now stands."""
        outcome = await self._take_response(self._read_form(submitted))
        return Responded(outcome=outcome, view=self.summary(), form_digest=form_digest(submitted.form))

    @respond_to_form.validator
    def _check_form(self, submitted: FormResponse) -> None:
        self._check_response(self._read_form(submitted, as_sent=True))

    def _read_form(self, submitted: FormResponse, as_sent: bool = False) -> ResponseInput:
        """The form as a response. The validator reads it `as_sent`, refusing what the handler, which reads recorded
        forms again on replay, must still read as it read them when they were recorded."""
        fields = {**self.case.action_fields(), **COMMON_FIELDS}.get(submitted.form.get("action", ""), [])
        try:
            if as_sent:
                return read_new_response(
                    submitted.form,
                    fields,
                    submitted.actor_email,
                    submitted.actor_role,
                    self._group_rows,
                    only_offered=True,
                )
            if any(f.kind == "groups" for f in fields):
                if not workflow.patched(MORE_GROUP_ROWS_PATCH):
                    self._group_rows = EARLIER_GROUP_ROWS
                elif not workflow.patched(ALL_GROUP_ROWS_PATCH):
                    self._group_rows = TWENTY_GROUP_ROWS
            return read_response(submitted.form, fields, submitted.actor_email, submitted.actor_role, self._group_rows)
        except FieldsRefused as refused:  # each field named, to show beside it on the page
            raise ApplicationError(str(refused), refused.fields, type="FieldsRefused", non_retryable=True) from None

    @workflow.query
    def summary(self) -> CaseView:
        return CaseView.of(self.case, self.case_json())

    def case_json(self) -> dict[str, Any]:
        """The case as `summary` shows it; kinds whose state can grow large bound it here."""
        return self.case.model_dump(mode="json")

    # --- the loop -----------------------------------------------------------------------
    async def run_until_closed(self) -> CaseView:
        await self.on_resume()
        while True:
            await self._carry_out_effects()
            if self.case.is_closed:
                break
            if self.may_continue() and workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                if not self.outbox:
                    await self.before_continuing()
                    await workflow.wait_condition(workflow.all_handlers_finished)
                if not self.outbox:
                    workflow.continue_as_new(self.carry_over())
            elif workflow.info().is_continue_as_new_suggested() and not self._said_long_history:
                self._say_long_history()
            await self._wait_for_change_or_deadline()
        await workflow.wait_condition(workflow.all_handlers_finished)
        await self._carry_out_effects()
        await self.before_completing()
        await self._carry_out_effects()
        view = self.summary()
        if getattr(self.start, "report_to_parent", False):
            await self._tell_parent(view)
        return view

    async def _tell_parent(self, view: CaseView) -> None:
        """A child whose parent may continue as new (and so holds no handle to await it on) tells it, by ID, how
        it closed: the parent's current run hears it (`upward_signals.CHILD_CLOSED`)."""
        parent = workflow.info().parent
        if parent is None:
            return
        try:
            await workflow.get_external_workflow_handle(parent.workflow_id).signal(
                upward_signals.CHILD_CLOSED, ChildClosed(child_id=self.case.escalation_id, view=view)
            )
        except ApplicationError as err:  # the parent has closed (ops stopped it): nobody is waiting to hear
            if err.type != "ExternalWorkflowExecutionNotFound":
                raise

    def _say_long_history(self) -> None:
        """A workflow that cannot continue as new (an incident recorded before incidents could, holding its
        children's handles) says so once a run when Temporal suggests it: a log line and `lmc_long_histories`, for ops to look at long before
        Temporal's hard limits. Neither is a command, so histories replay as they ran."""
        self._said_long_history = True
        info = workflow.info()
        workflow.logger.warning(
            "history long; this workflow does not continue as new",
            extra={"escalation_id": self.case.escalation_id, "events": info.get_current_history_length()},
        )
        workflow.metric_meter().create_counter(
            "lmc_long_histories", "runs told to continue as new that cannot, by kind"
        ).add(1, {"kind": self.case.kind})

    async def before_completing(self) -> None:
        """Kinds with children let them finish first, rather than cancel them mid-step."""

    async def _wait_for_change_or_deadline(self) -> None:
        revision = self.case.revision
        wait = self.case.wait
        changed = lambda: bool(self.outbox) or self.case.revision != revision  # noqa: E731
        deadline = self.case.next_timer()
        if deadline is None:
            await workflow.wait_condition(changed)
            return
        remaining = deadline - workflow.now()
        if remaining > timedelta(0):
            try:
                await workflow.wait_condition(
                    changed, timeout=remaining, timeout_summary=f"deadline:{wait.purpose}" if wait else None
                )
                return
            except TimeoutError:
                pass
        workflow.logger.info(
            "timer fired",
            extra={"escalation_id": self.case.escalation_id, "wait": wait.purpose if wait else None},
        )
        effects = self.case.on_timer(workflow.now())
        if not effects and self.case.revision == revision and self.case.next_timer() == deadline:
            # A rule that ignores its own timer would spin here; wait for a response instead.
            workflow.logger.warning("timer changed nothing", extra={"escalation_id": self.case.escalation_id})
            await workflow.wait_condition(changed)
            return
        missed = sum(1 for e in effects if isinstance(e, AuditEffect) and e.event == "deadline_missed")
        if missed:
            workflow.metric_meter().create_counter("lmc_deadlines_missed", "deadlines missed, by kind").add(
                missed, {"kind": self.case.kind}
            )
        self.outbox.extend(effects)

    async def _carry_out_effects(self) -> None:
        while self.outbox:
            # Decided before each step: an answer that lands mid-way sends what follows it the ordinary way.
            self._local_now = self.steps_local and not self._answered
            if self._local_now and isinstance(self.outbox[0], AuditEffect | EmailEffect):
                await self._carry_out_run()
                continue
            if self._answered and self._answer_steps_in_one(self.outbox[0]):
                await self._carry_out_run(answered=True)
                continue
            effect = self.outbox.pop(0)
            if isinstance(effect, EmailEffect):
                await self._send(effect)
            elif isinstance(effect, AuditEffect):
                await self._audit(effect.event, effect.actor, effect.detail)
            elif isinstance(effect, SettleHeld):
                await self._settle(effect.decision)
            else:
                await self.carry_out_command(effect)
        self._answered = False  # the outbox is empty: whatever a person asked for is done
        self._publish_search_attributes()

    def _audit_entry(self, event: str, actor: str, detail: dict[str, Any]) -> AuditEntry:
        return audit_entry(self.case, self.progress, workflow.now(), event, actor, detail)

    async def _audit(self, event: str, actor: str, detail: dict[str, Any]) -> None:
        await self.step(AuditActivities.record_audit, self._audit_entry(event, actor, detail))

    def _email_request(self, effect: EmailEffect) -> EmailRequest:
        return email_request(self.case, self.progress, workflow.now(), effect)

    def _note_sent(self, effect: EmailEffect, sent: EmailSent) -> None:
        note_sent(self.progress, effect, sent)

    async def _send(self, effect: EmailEffect) -> None:
        requested_at = workflow.now()
        sent: EmailSent = await self.step(EmailActivities.send_email, self._email_request(effect))
        self._note_sent(effect, sent)
        event, detail = email_audit(effect, sent)
        await self._audit(event, "engine", detail)
        await self.move_for_mail_delay(effect, sent, requested_at)

    async def move_for_mail_delay(self, effect: EmailEffect, sent: EmailSent, requested_at: datetime) -> None:
        """The mail server was down past the end of a day: the deadline this request carries moves on by
        the working days it waited, audited at once (`mail_delay_moves`)."""
        for moved in self.mail_delay_moves(effect, sent.held, requested_at):
            await self._audit(moved.event, moved.actor, moved.detail)

    def mail_delay_moves(self, effect: EmailEffect, held: bool, requested_at: datetime) -> list[AuditEffect]:
        """The one rule for an email that went late (domain/mail_delay.py): a request not held, sent a working day
        or more after it was asked for, moves the deadline it carries on by the days it waited; the audit rows
        that say so. Runs recorded before the rule keep theirs."""
        if (
            effect.actions
            and not held
            and working_days_waited(self.case.calendar, requested_at, workflow.now())
            and workflow.patched(MAIL_DELAY_PATCH)
        ):
            return allow_for_mail_delay(self.case, effect.to_role, requested_at, workflow.now())
        return []

    async def after_run(self, emails: list[EmailEffect], sent_all: list[EmailSent], requested_at: datetime) -> None:
        """What follows a run of steps carried out together: each email noted as sent (or held), then any deadline
        it carries moved for the mail server's delay."""
        for effect, sent in zip(emails, sent_all, strict=True):
            self._note_sent(effect, sent)
        for effect, sent in zip(emails, sent_all, strict=True):
            await self.move_for_mail_delay(effect, sent, requested_at)

    def answer_step(self, effect: Effect) -> BaseModel | None:
        """A command of this kind that the steps after an answer carry out in their one activity (as the
        `StepRun` step it becomes), or None for one carried out on its own. Kinds with such commands say so."""
        return None

    def _answer_steps_in_one(self, head: Effect) -> bool:
        """After an answer, where the start asks for it (`StartPractice.answer_steps_in_one`): what the answer
        asked for goes as one ordinary activity (not local: an update is answered when its workflow task
        completes, and a local activity would hold the person's page). Runs started before take a task apiece."""
        runs = isinstance(head, AuditEffect | EmailEffect) or self.answer_step(head) is not None
        return runs and bool(getattr(self.start, "answer_steps_in_one", False))

    async def _carry_out_run(self, answered: bool = False) -> None:
        """The outbox's leading audit writes and emails as one local activity (`StepActivities`): one marker
        event for the lot, where each on its own would record one. After an answer, as one ordinary activity, with
        the commands `answer_step` makes steps of (a practice's return)."""
        steps: list[Any] = []
        emails: list[EmailEffect] = []
        requested_at = workflow.now()
        while self.outbox:
            effect = self.outbox[0]
            if not isinstance(effect, AuditEffect | EmailEffect):
                made = self.answer_step(effect) if answered else None
                if made is None:
                    break
                self.outbox.pop(0)
                steps.append(made)
                continue
            self.outbox.pop(0)
            steps.append(step_of(self.case, self.progress, requested_at, effect))
            if isinstance(effect, EmailEffect):
                emails.append(effect)
        sent_all: list[EmailSent] = await self.step(
            StepActivities.carry_out_steps, StepRun(steps=steps), STEP_TIMEOUT * len(steps)
        )
        await self.after_run(emails, sent_all, requested_at)

    async def _settle(self, decision: SettleHeldEmail) -> None:
        settled = await workflow.execute_activity_method(
            EmailActivities.settle_held_email,
            decision,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=ACTIVITY_RETRY,
        )
        event = HELD_EMAIL_EVENTS.get(settled)  # a decision carried out already changes nothing: not audited
        if settled != "held":
            self.progress.held_emails = max(self.progress.held_emails - 1, 0)
        if event is not None:
            await self._audit(event, decision.by, {"message_id": decision.message_id})

    def _publish_search_attributes(self) -> None:
        case = self.case
        pairs, static = case_search_attributes(case, self.progress.held_emails)
        console = bool(static)
        deadline = case.wait.deadline if case.wait is not None else None
        signature = (tuple(p.value for p in pairs), deadline)
        if signature == self._published and (self._static_published or not console):
            return  # unchanged: no command, no history event
        status = case.outcome or case.status
        if self._published is None or self._published[0][1] != status:
            workflow.metric_meter().create_counter(
                "lmc_escalation_status_entered", "escalations entering a status, by kind"
            ).add(1, {"kind": case.kind, "status": status})
        if self._published is None and self.steps_local and _started_with([*pairs, *static], deadline):
            self._published, self._static_published = signature, True  # set when its cohort started it
            return
        self._published = signature
        updates = [pair.key.value_set(pair.value) for pair in pairs]
        if console and not self._static_published:
            self._static_published = True
            updates += [pair.key.value_set(pair.value) for pair in static]
        updates.append(sa.NEXT_DEADLINE.value_set(deadline) if deadline else sa.NEXT_DEADLINE.value_unset())
        workflow.upsert_search_attributes(updates)


def audit_entry(
    case: EscalationCase, progress: Progress, now: datetime, event: str, actor: str, detail: dict[str, Any]
) -> AuditEntry:
    """The case's next audit row (its sequence number taken from `progress`)."""
    progress.audit_seq += 1
    return AuditEntry(
        escalation_id=case.escalation_id,
        seq=progress.audit_seq,
        occurred_at=now,
        event=event,
        actor=actor,
        detail=detail,
    )


def email_request(case: EscalationCase, progress: Progress, now: datetime, effect: EmailEffect) -> EmailRequest:
    """The next email of the case's thread, with what its recipient needs to decide."""
    progress.email_step += 1
    return EmailRequest(
        escalation_id=case.escalation_id,
        step=progress.email_step,
        sent_at=now,
        thread_root=progress.thread_root,
        effect=effect,
        facts=case.shown_facts(effect.to_role),
        action_labels={**case.action_labels(), **COMMON_LABELS},
        tables=case.tables(),
        reply_to=case.officer,
    )


def step_of(case: EscalationCase, progress: Progress, now: datetime, effect: AuditEffect | EmailEffect) -> BaseModel:
    """An audit write or an email as a step of a run (`StepActivities`): an email takes the audit sequence number
    its `email_sent` (or `email_held`) row will have."""
    if isinstance(effect, AuditEffect):
        return audit_entry(case, progress, now, effect.event, effect.actor, effect.detail)
    request = email_request(case, progress, now, effect)
    progress.audit_seq += 1
    return EmailStep(request=request, audit_seq=progress.audit_seq)


def note_sent(progress: Progress, effect: EmailEffect, sent: EmailSent) -> None:
    """What the case keeps of an email once sent (or held): its thread, what ops may resend, what is held."""
    if progress.thread_root is None:  # the thread it joined, or the one it began
        progress.thread_root = sent.thread_root or sent.message_id
    progress.last_email = effect
    if sent.held:
        progress.held_emails += 1


def case_search_attributes(
    case: EscalationCase, held_emails: int = 0
) -> tuple[list[SearchAttributePair[Any]], list[SearchAttributePair[Any]]]:
    """What a case publishes for ops to filter on: the attributes that change as it runs, and those the console
    searches by that are set once a run (title, practices, contacts; none for cases opened before the console
    listed them). NEXT_DEADLINE is the case's wait deadline, beside these."""
    wait = case.wait
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(sa.KIND, case.kind),
        SearchAttributePair(sa.STATUS, case.outcome or case.status),
        SearchAttributePair(sa.PAYER, case.payer.code),
        SearchAttributePair(sa.LADDER_LEVEL, case.ladder.level),
        SearchAttributePair(sa.STALLED, case.ladder.stalled),
        SearchAttributePair(sa.OVERDUE, bool(wait and wait.overdue)),
        SearchAttributePair(sa.BALL_HOLDER, wait.holder.value if wait else "none"),
    ]
    if case.money_and_dates:  # older runs upsert the keys they were recorded with, no more
        pairs.append(SearchAttributePair(sa.UNDERPAID, case.underpaid))
    if not case.console_listing:  # cases opened under these rules publish what the console lists
        return pairs, []
    claimed, agreed, paid = case.amounts()
    pairs += [
        SearchAttributePair(sa.CLAIMED, sa.pence_keyword(claimed)),
        SearchAttributePair(sa.AGREED, sa.pence_keyword(agreed)),
        SearchAttributePair(sa.PAID, sa.pence_keyword(paid)),
        SearchAttributePair(sa.EMAILS_HELD, "yes" if held_emails else "no"),
    ]
    static: list[SearchAttributePair[Any]] = [
        SearchAttributePair(sa.TITLE, case.title),
        SearchAttributePair(sa.PRACTICES, case.practice_codes()),
        SearchAttributePair(sa.CONTACTS, sorted(set(case.contact_emails()))),
        SearchAttributePair(sa.PRACTICE_COUNT, case.number_of_practices),
    ]
    return pairs, static


def starting_search_attributes(case: EscalationCase) -> TypedSearchAttributes:
    """What a parent sets when it starts a child whose opened case is `case`, so the child need not upsert them
    (one history event fewer per practice); the child checks them against its own before relying on them."""
    pairs, static = case_search_attributes(case)
    deadline = case.wait.deadline if case.wait is not None else None
    extra = [SearchAttributePair(sa.NEXT_DEADLINE, deadline)] if deadline is not None else []
    return TypedSearchAttributes([*pairs, *static, *extra])


def _started_with(pairs: list[SearchAttributePair[Any]], deadline: datetime | None) -> bool:
    """The run was started with exactly these search attributes (and this deadline), so publishing them again
    would change nothing."""
    held = workflow.info().typed_search_attributes
    if any(held.get(pair.key) != pair.value for pair in pairs):
        return False
    return held.get(sa.NEXT_DEADLINE) == deadline
