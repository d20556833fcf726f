"""Walks the kind registry: every kind has what each layer builds from it (a start form, a CLI
subcommand, link pages for each party, console actions, a report mapping, workflows on the worker),
and its example file starts through the same builder the form and the CLI use."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from temporalio import workflow
from temporalio.testing import WorkflowEnvironment

import starter
from domain.contacts import Role
from domain.escalation import EscalationCase
from kinds import KINDS, all_workflows, case_kinds
from kinds.spec import KindSpec
from persistence.database import make_engine
from persistence.users import Users
from service import starting
from service.refusals import Refused, Why
from settings import ROOT, Settings
from tests.helpers import sign_in
from web.app import create_app
from worker import WORKFLOWS

LINK_ROLES = {Role.PAYER, Role.OFFICER, Role.PRACTICE}


@pytest.fixture
async def signed_in_officer(dev_env: WorkflowEnvironment, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The console, signed in as one of the LMC's officers (who may start escalations)."""
    Users(make_engine(settings.database)).add("ceo@lmc.example", "officer", "registry test password")
    app = create_app(settings, dev_env.client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert (await sign_in(http, "ceo@lmc.example", "registry test password")).status_code == 303
        yield http


def test_kinds_are_named_once() -> None:
    for attribute in ("name", "id_prefix", "cli_command", "label"):
        values = [getattr(spec, attribute) for spec in KINDS]
        assert len(values) == len(set(values)), attribute


@pytest.mark.parametrize("spec", KINDS, ids=lambda s: s.name)
async def test_every_kind_has_a_start_form(spec: KindSpec, signed_in_officer: httpx.AsyncClient) -> None:
    assert (ROOT / "web" / "templates" / spec.form.template).is_file()
    page = await signed_in_officer.get(f"/console/start/{spec.name}")
    assert page.status_code == 200 and spec.label in page.text and 'name="title"' in page.text
    for _ in range(3):  # a session server busy with earlier tests' workflows may answer 503 ("try again"): as asked
        board = await signed_in_officer.get("/console")
        if board.status_code != 503:
            break
        await asyncio.sleep(1)
    assert f'href="/console/start/{spec.name}"' in board.text


@pytest.mark.parametrize("spec", KINDS, ids=lambda s: s.name)
def test_an_empty_start_form_is_refused_naming_fields_not_crashing(spec: KindSpec, settings: Settings) -> None:
    data = spec.form.to_data({}, "ceo@lmc.example")
    with pytest.raises(Refused) as refused:
        starting.prepare(spec, settings.escalation_config(), data)
    assert refused.value.why is Why.INVALID and "title" in refused.value.fields


@pytest.mark.parametrize("spec", KINDS, ids=lambda s: s.name)
def test_a_misspelt_field_in_a_start_file_is_refused_by_its_path_not_dropped(
    spec: KindSpec, settings: Settings
) -> None:
    data = starting.read_json(ROOT / spec.example)
    data["titel"] = data.pop("title")
    expected = {"titel"}
    for key, value in data.items():  # and inside its lines, practices or tariff, where it has them
        if isinstance(value, list) and value and isinstance(value[-1], dict):
            value[-1]["evidnce"] = "a reference typed under a misspelt key"
            expected.add(f"{key}.{len(value) - 1}.evidnce")
    with pytest.raises(Refused) as refused:
        starting.prepare(spec, settings.escalation_config(), data)
    assert refused.value.why is Why.INVALID and expected <= set(refused.value.fields), refused.value.fields
    assert "check its spelling" in refused.value.fields["titel"]
    data = starting.read_json(ROOT / spec.example)
    with pytest.raises(Refused) as blank:  # a title of spaces would be an empty subject and heading
        starting.prepare(spec, settings.escalation_config(), {**data, "title": "   "})
    assert "title" in blank.value.fields


@pytest.mark.parametrize("spec", KINDS, ids=lambda s: s.name)
def test_every_kind_has_a_cli_subcommand_that_starts_it_from_its_example(spec: KindSpec, settings: Settings) -> None:
    args = starter._parser().parse_args([spec.cli_command, spec.example])
    assert args.kind is spec
    prepared = starting.prepare(spec, settings.escalation_config(), starting.read_json(ROOT / spec.example))
    assert str(getattr(prepared, "escalation_id")).startswith(f"{spec.id_prefix}-")  # noqa: B009
    assert spec.payer_code(prepared) and spec.announce(prepared)
    assert isinstance(prepared, spec.request_model) or any(
        isinstance(value, spec.request_model) for value in vars(prepared).values()
    ), "the start model carries the request as submitted"


@pytest.mark.parametrize("spec", KINDS, ids=lambda s: s.name)
def test_every_party_has_a_link_page_and_every_action_a_name_in_words(spec: KindSpec) -> None:
    assert Role.OFFICER in spec.parties, "the officer always acts from the console"
    assert Role.PAYER in spec.parties, "every kind pursues someone"
    for role, actions in spec.parties.items():
        assert role in LINK_ROLES and actions
        for action in actions:
            label = spec.labels.get(action)
            assert label and "_" not in label and label[0].isupper(), (role, action, label)


@pytest.mark.parametrize("spec", KINDS, ids=lambda s: s.name)
def test_every_kind_has_a_report_mapping(spec: KindSpec) -> None:
    assert issubclass(spec.case_model, EscalationCase)
    assert spec.case_model.report_lines is not EscalationCase.report_lines


@pytest.mark.parametrize("spec", KINDS, ids=lambda s: s.name)
def test_every_kind_runs_on_the_worker(spec: KindSpec) -> None:
    for workflow_class in spec.workflows:
        assert workflow_class in WORKFLOWS
        assert workflow._Definition.from_class(workflow_class) is not None
    assert spec.run.__qualname__.split(".")[0] == spec.workflows[0].__qualname__


def test_the_worker_registers_each_workflow_once_and_lists_search_every_case_kind() -> None:
    names = [workflow._Definition.must_from_class(c).name for c in all_workflows()]
    assert len(names) == len(set(names))
    assert {spec.name for spec in KINDS} <= case_kinds()
    for case_kind in case_kinds():  # `list --kind` accepts every kind of case, parts included
        assert starter._parser().parse_args(["list", "--kind", case_kind]).list_kind == case_kind


def test_a_claim_line_of_work_the_tariff_does_not_price_takes_its_rate_in_pounds_from_the_form(
    settings: Settings,
) -> None:
    from kinds.unfunded_claim import SPEC

    form = {
        "title": "Chasing clinic letters",
        "payer_code": "QKS",
        "provider": "Maidstone and Tunbridge Wells NHS Trust",
        "practices": "G82001",
        "period_start": "2026-07-01",
        "period_end": "2026-09-30",
        "lines.1.category": "other",
        "lines.1.count": "4",
        "lines.1.unit_rate": "£15.50",
        "lines.1.description": "Chasing clinic letters",
    }
    data = SPEC.form.to_data(form, "ceo@lmc.example")
    assert data["lines"] == [
        {
            "category": "other",
            "count": 4,
            "description": "Chasing clinic letters",
            "evidence_refs": [],
            "unit_rate_pence": 1550,
        }
    ]
    assert SPEC.form.rows(form) == {"lines": [1]}
    start = starting.prepare(SPEC, settings.escalation_config(), data)
    assert start.claim.lines[0].unit_rate_pence == 1550  # type: ignore[attr-defined]


def test_a_practice_line_with_more_values_than_it_takes_is_refused_on_its_line_not_cut_short() -> None:
    from kinds.pathology import SPEC

    form = {
        "practices": "\nE87700, Paddington MC, PM, pm@nhs.example, extra\n\nE87701, Smith, Jones & Co, PM, pm@x.example"
    }
    with pytest.raises(Refused) as refused:
        SPEC.form.to_data(form, "ceo@lmc.example")
    assert set(refused.value.fields) == {"practices.1", "practices.3"}  # the lines as the box shows them
    assert "leave out any comma inside a name" in refused.value.fields["practices.3"]


def test_practice_lines_pasted_from_a_spreadsheet_split_on_tabs_so_a_name_may_hold_a_comma() -> None:
    from kinds.pathology import SPEC

    form = {"practices": "E87701\tSmith, Jones & Co\tPM\tpm@x.example\t\nE87700, Paddington MC, PM, pm@nhs.example"}
    data = SPEC.form.to_data(form, "ceo@lmc.example")
    names = [(p["ods"], p["name"], p["contact_email"]) for p in data["practices"]]
    assert names == [("E87701", "Smith, Jones & Co", "pm@x.example"), ("E87700", "Paddington MC", "pm@nhs.example")]


@pytest.mark.parametrize("name", ["pathology_error", "deregistration"])
def test_a_spreadsheet_line_is_read_as_its_columns_and_refused_where_it_cannot_be(name: str) -> None:
    """A row pasted with an empty first column (or an extra one before the code) is refused on its line, not read
    one column over (a contact's email taken for the weighting); a comma line with a stray tab at its end is still
    a comma line; a row with too many columns is told to remove them."""
    from kinds import kind

    spec = kind(name)
    assert spec is not None
    box = "\tE87704\tName\tPM\tpm4@x.example\nE87700, Paddington MC, PM, pm@x.example\t\n"
    box += "E87701\tA\tB\tc@x.example\t1.0\textra\tmore"
    with pytest.raises(Refused) as refused:
        spec.form.to_data({"practices": box}, "ceo@lmc.example")
    fields = refused.value.fields
    assert set(fields) == {"practices.0", "practices.2"}, fields
    assert "first column is empty" in fields["practices.0"] and "remove the extra columns" in fields["practices.2"]
    read = spec.form.to_data({"practices": "E87700, Paddington MC, PM, pm@x.example\t"}, "ceo@lmc.example")
    assert read["practices"][0]["contact_email"] == "pm@x.example"


@pytest.mark.parametrize("name", ["unfunded_claim", "pathology_error", "deregistration"])
def test_an_officer_with_an_interest_in_a_party_may_not_start_an_escalation_naming_it(
    name: str, settings: Settings
) -> None:
    """medsec@lmc.example has declared an interest in E85013 (config/escalations.toml): it could view the
    escalation but not act on it, so it may not start one naming that practice; refused beside the practice."""
    from kinds import kind

    spec = kind(name)
    assert spec is not None
    data = starting.read_json(ROOT / spec.example)
    data["officer_email"] = "medsec@lmc.example"
    codes = [p if isinstance(p, str) else p["ods"] for p in data["practices"]]
    if "E85013" not in codes:
        added = "E85013" if name == "unfunded_claim" else {**data["practices"][0], "ods": "E85013"}
        data["practices"] = [*data["practices"], added]
        codes.append("E85013")
    where = f"practices.{codes.index('E85013')}" + ("" if name == "unfunded_claim" else ".ods")
    with pytest.raises(Refused) as refused:
        starting.prepare(spec, settings.escalation_config(), data)
    assert "has declared an interest in E85013" in refused.value.fields.get(where, ""), refused.value.fields


def test_an_officer_with_an_interest_in_the_payer_may_not_start_a_claim_against_it(settings: Settings) -> None:
    from domain.contacts import Interest
    from kinds.unfunded_claim import SPEC

    config = settings.escalation_config()
    data = starting.read_json(ROOT / SPEC.example)
    interest = Interest(officer="ceo@lmc.example", party=data["payer_code"], nature="Board member")
    barred = config.model_copy(update={"lmc": config.lmc.model_copy(update={"interests": [interest]})})
    with pytest.raises(Refused) as refused:
        starting.prepare(SPEC, barred, {**data, "officer_email": "ceo@lmc.example"})
    assert "has declared an interest in" in refused.value.fields.get("payer_code", ""), refused.value.fields
    assert "(Board member)" in refused.value.fields["payer_code"]


async def test_a_practice_line_refused_on_the_form_comes_with_the_forms_other_refusals(
    signed_in_officer: httpx.AsyncClient,
) -> None:
    """A careless officer's form: a practice line that cannot be read, and a blank title and description. All
    three refusals come back at once, each beside its box, rather than the line's and then, sent again, the rest."""
    from tests.helpers import csrf_of

    http = signed_in_officer
    form = {
        "csrf": await csrf_of(http, "/console/start/pathology_error"),
        "title": "",
        "description": "",
        "practices": "E87700, Paddington MC, PM, pm@nhs.example\n\tE87701\tA\tPM\tpm2@nhs.example",
    }
    answer = await http.post("/console/start/pathology_error", data=form)
    assert answer.status_code == 422, answer.text
    for box in ("practices-1", "title", "description"):
        assert f'id="{box}-error"' in answer.text, box
    assert "first column is empty" in answer.text


async def test_a_start_form_sent_again_with_other_values_leaves_the_first_start_as_it_was(
    signed_in_officer: httpx.AsyncClient, dev_env: WorkflowEnvironment, settings: Settings
) -> None:
    """A start form changed after the Back button and sent again under its one-time id: refused (409), naming the
    escalation the first values started; the incident's stored practice list stays the first's (it had been
    replaced by the second's, and the practices written to were the second's); the changed values come back as
    typed, under a new id, to start another. The same values sent again lead to the same escalation."""
    from persistence.incident_practices import IncidentPractices
    from tests.helpers import csrf_of

    http = signed_in_officer
    form = {
        "csrf": await csrf_of(http, "/console/start/deregistration"),
        "submission": "sent-twice-0001",
        "title": "Pathfinder deregistrations (sent twice)",
        "icb_code": "QRV",
        "rate_year": "2024/25",
        "still_off_until": "2025-03-31",
        "practices": "E85011, Brentford Health Centre, Practice Manager, pm.e85011@nhs.example",
    }
    first = await http.post("/console/start/deregistration", data=form)
    assert first.status_code == 303, first.text
    again = await http.post("/console/start/deregistration", data=form)
    assert again.status_code == 303 and again.headers["location"] == first.headers["location"]
    eid = first.headers["location"].rsplit("/", 1)[-1]
    changed = {**form, "practices": "E85012, Hounslow Health, Practice Manager, pm.e85012@nhs.example"}
    refused = await http.post("/console/start/deregistration", data=changed)
    assert refused.status_code == 409 and f"started {eid} with those" in refused.text, refused.text
    assert "E85012, Hounslow Health" in refused.text and 'value="sent-twice-0001"' not in refused.text
    stored = IncidentPractices(make_engine(settings.database)).chunk(eid, 0, 10)
    assert [p["ods"] for p in stored] == ["E85011"]
    await dev_env.client.get_workflow_handle(eid).terminate(reason="registry test over")


@pytest.mark.parametrize("spec", KINDS, ids=lambda s: s.name)
def test_a_misspelt_field_is_said_with_the_files_other_refusals(spec: KindSpec, settings: Settings) -> None:
    """A start file with a misspelt key and a blank title: both are refused at once, so one edit mends the file,
    where the misspelling had hidden every other refusal."""
    data = starting.read_json(ROOT / spec.example)
    data["titel"] = "A misspelt key"
    data["title"] = "   "
    with pytest.raises(Refused) as refused:
        starting.prepare(spec, settings.escalation_config(), data)
    assert {"titel", "title"} <= set(refused.value.fields), refused.value.fields


def test_a_claim_period_before_2000_is_refused_as_a_slip_not_emailed(settings: Settings) -> None:
    """'0001-01-01' typed for the period's start had been emailed to the ICB as 'Period: 1 January 1 to ...'; it is
    refused, as any date before 2000 is (`before_any_record`)."""
    from kinds import BY_NAME

    spec = BY_NAME["unfunded_claim"]
    data = starting.read_json(ROOT / spec.example)
    data["period_start"] = "0001-01-01"
    with pytest.raises(Refused) as refused:
        starting.prepare(spec, settings.escalation_config(), data)
    assert refused.value.fields["period_start"] == "1 January 1 is before 2000: check the year"


@pytest.mark.parametrize(("kind", "field"), [("pathology_error", "error_start"), ("deregistration", "incident_start")])
def test_a_past_start_date_before_2000_is_refused_for_every_kind(kind: str, field: str, settings: Settings) -> None:
    """'0' reads as 1 January 1970 to pydantic and '0001-01-01' as the year 1: the date the work or the incident
    began is refused before 2000, as a claim's period is, by the one rule."""
    from kinds import BY_NAME

    spec = BY_NAME[kind]
    data = starting.read_json(ROOT / spec.example)
    data[field] = "0001-01-01"
    with pytest.raises(Refused) as refused:
        starting.prepare(spec, settings.escalation_config(), data)
    assert refused.value.fields[field] == "1 January 1 is before 2000: check the year", refused.value.fields
