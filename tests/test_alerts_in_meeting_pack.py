"""Interface alerts in the liaison meeting pack (issue #17): the alerts of the ICB's practices since the last
meeting, as shares of items by category and by provider, on the page and in the Word document. (North West
London ICB: the other alert tests load Kent practices into the same database.)"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

import docx
import httpx
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from persistence.database import make_engine
from persistence.practices import AlertRow, Alerts, PracticeRow, Practices
from persistence.users import Users
from settings import Settings
from tests.helpers import sign_in
from web.app import create_app


async def test_the_pack_shows_the_icbs_practices_alerts(
    dev_env: WorkflowEnvironment, dev_worker: Worker, settings: Settings
) -> None:
    engine = make_engine(settings.database)
    now = datetime.now(UTC)
    ods = f"M{uuid.uuid4().int % 100000:05d}"
    Practices(engine).upsert(
        PracticeRow(ods=ods, name="Pack Surgery", icb="QRV", email="pm@pack.example", loaded_at=now)
    )
    for n, (provider, category, items) in enumerate(
        [("RWF", "onward_referral", 3), ("RWF", "fit_note", 1), ("RYJ", "onward_referral", 4)]
    ):
        Alerts(engine).add(
            AlertRow(
                reference=f"IFA-2026-P{uuid.uuid4().hex[:5].upper()}", ods=ods, provider=provider, category=category,
                service="Outpatients", occurred_on=now.date() - timedelta(days=3 + n), document_ref=f"DOC-{n}",
                items=items, staff_minutes=20, risk="routine", reported_at=now,
            )
        )  # fmt: skip
    Users(engine).add("alerts.pack@lmc.example", "officer", "a long pack password")
    app = create_app(settings, dev_env.client)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://t") as web:
        assert (await sign_in(web, "alerts.pack@lmc.example", "a long pack password")).status_code == 303
        query = {"icb": "QRV", "date": (now.date() + timedelta(days=7)).isoformat()}
        page = await web.get("/console/meeting", params=query)
        assert page.status_code == 200 and "Interface alerts from practices since" in page.text
        section = page.text.split('id="pack-alerts-category"')[1].split("</table>")[0]
        assert (
            "Onward referral left to the GP" in section and "87%" in section
        )  # 7 of 8 items (the tied half-point goes to the lower key)
        assert "Maidstone and Tunbridge Wells NHS Trust" in page.text.split('id="pack-alerts-provider"')[1]
        document = await web.get("/console/meeting/pack.docx", params=query)
        parsed = docx.Document(io.BytesIO(document.content))
        assert any("Interface alerts from practices since" in p.text for p in parsed.paragraphs)
        cells = [cell.text for table in parsed.tables for row in table.rows for cell in row.cells]
        assert "Onward referral left to the GP" in cells and "Imperial College Healthcare NHS Trust" in cells
