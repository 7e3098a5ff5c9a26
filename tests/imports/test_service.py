"""Importing into the database, on SQLite and PostgreSQL: report, upsert, all or none."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from app.api.schemas.profile import EnterpriseProfile
from app.catalog.loader import Catalog
from app.db import repositories as repo
from app.db.models import AuditLog, Enterprise
from app.db.repositories import enterprises as enterprise_repo
from app.services import audit, bulk_import
from app.services import enterprises as enterprise_service
from app.services.actors import Actor
from tests.helpers import random_uscc
from tests.imports.conftest import ADMIN
from tests.imports.support import (
    PERFORMANCE,
    csv_bytes,
    expected_profile,
    good_row,
    many_rows,
    table,
    xlsx_bytes,
)

Counts = Callable[[], dict[str, int]]


def run(
    sessions: sessionmaker[Session],
    catalog: Catalog,
    data: bytes,
    fmt: str = "csv",
    *,
    actor: Actor = ADMIN,
    dry_run: bool = False,
    **options: Any,
) -> bulk_import.ImportReport:
    source = bulk_import.ImportFile(f"file.{fmt}", fmt, io.BytesIO(data))  # type: ignore[arg-type]
    prepared = bulk_import.prepare(catalog, source, actor)
    with sessions.begin() as session:
        return bulk_import.apply(session, prepared, actor, dry_run=dry_run, **options)


def stored(sessions: sessionmaker[Session], uscc: str) -> tuple[Enterprise, list[Any]]:
    with sessions() as session:
        enterprise = repo.get_enterprise_by_uscc(session, uscc)
        assert enterprise is not None, uscc
        return enterprise, list(repo.list_profile_versions(session, enterprise.id))


def bad_rows() -> tuple[list[dict[str, Any]], str, str]:
    """Two good rows then the bad ones of the issue; (rows, first good uscc, second)."""
    first, second = random_uscc(), random_uscc()
    wrong_check = random_uscc()
    wrong_check = wrong_check[:17] + ("0" if wrong_check[17] != "0" else "1")
    rows = [
        good_row(first),  # row 2
        good_row(second, name="第二公司", recognitions="无"),  # row 3
        good_row(wrong_check),  # row 4: bad check character
        good_row(random_uscc(), revenue_2024="-100.00"),  # row 5: negative revenue
        good_row(random_uscc(), industry="software"),  # row 6: unknown word
        good_row(random_uscc(), name=""),  # row 7: no name
        good_row(first, name="重复"),  # row 8: duplicate USCC
        good_row("", name="无代码"),  # row 9: no USCC
        good_row(random_uscc(), employees="12.5", registered_on="15/03/2021"),  # row 10: two
    ]
    return rows, first, second


def expected_errors(wrong_check: str) -> list[tuple[int, str, str]]:
    known = ", ".join(
        sorted(
            [
                "accommodation_catering",
                "agriculture",
                "construction",
                "culture_sports",
                "education",
                "entertainment",
                "finance",
                "health_social_work",
                "information_transmission",
                "leasing_business_services",
                "manufacturing",
                "mining",
                "postal",
                "property_management",
                "public_administration",
                "real_estate",
                "real_estate_development",
                "real_estate_other",
                "resident_services",
                "retail",
                "scientific_research_technical",
                "software_information",
                "software_it_services",
                "tobacco",
                "transport",
                "transport_logistics",
                "utilities",
                "warehousing",
                "water_environment_public_facilities",
                "wholesale",
                "wholesale_retail",
            ]
        )
    )
    from app.api.schemas.types import uscc_check_character

    return [
        (
            4,
            "uscc",
            f"the check character is {wrong_check[17]} but the first 17 characters give "
            f"{uscc_check_character(wrong_check[:17])}: the code is mistyped",
        ),
        (5, "revenue_2024", "this amount cannot be negative"),
        (6, "industry", f"`software` is not a known industry; use one of: {known}"),
        (7, "name", "required: this column needs a value"),
        (8, "uscc", "the USCC is also in row 2; only that row is imported"),
        (9, "uscc", "required: the USCC identifies the enterprise"),
        (10, "registered_on", "`15/03/2021` is not a date: write it as YYYY-MM-DD"),
        (10, "employees", "`12.5` is not a whole number"),
    ]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_import_reports_each_bad_row_and_writes_the_good_ones(
    sessions: sessionmaker[Session], catalog: Catalog, counts: Counts, fmt: str
) -> None:
    rows, first, second = bad_rows()
    cells = table(rows)
    data = csv_bytes(cells) if fmt == "csv" else xlsx_bytes(cells)
    before = counts()

    report = run(sessions, catalog, data, fmt)

    assert (report.rows, report.accepted, report.rejected) == (9, 2, 7)
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    assert report.applied and not report.dry_run and report.import_id
    got = [(e.row, e.field, e.reason) for e in report.errors]
    assert got == expected_errors(rows[2]["uscc"])
    after = counts()
    assert after["enterprises"] - before["enterprises"] == 2
    assert after["profile_versions"] - before["profile_versions"] == 2
    assert after["audit_log"] - before["audit_log"] == 2  # one versions part + the summary
    enterprise, versions = stored(sessions, first)
    assert [v.version for v in versions] == [1]
    assert versions[0].profile == expected_profile(rows[0])
    assert versions[0].created_by == "admin:import-tests"
    assert (enterprise.name, enterprise.city, enterprise.district, enterprise.park) == (
        "南京示例科技有限公司",
        "nanjing",
        "jiangning",
        "jiangning-high-tech-zone",
    )
    _, versions = stored(sessions, second)
    assert versions[0].profile["recognitions"] == []


def test_chinese_headers_and_labels_give_the_same_profile(
    sessions: sessionmaker[Session], catalog: Catalog
) -> None:
    english = good_row()
    chinese = good_row(
        industry="信息传输、软件和信息技术服务业",
        district="江宁区",
        city="南京市",
        province="江苏省",
        park="江宁高新技术产业园",
        kind="企业",
        own_brand="是",
        national_market_share="12%",
        registered_on="2021年3月15日",
        revenue_2024="48,000,000.00",
        recognitions="高新技术企业:国家级:2023-11-30:2026-11-29；科技型中小企业::2024/5/1",
    )
    english_report = run(sessions, catalog, csv_bytes(table([english])))
    chinese_report = run(sessions, catalog, csv_bytes(table([chinese], chinese=True), "gb18030"))
    assert english_report.created == chinese_report.created == 1, chinese_report.errors
    _, one = stored(sessions, english["uscc"])
    _, other = stored(sessions, chinese["uscc"])
    assert {**other[0].profile, "uscc": english["uscc"]} == one[0].profile
    assert one[0].profile == expected_profile(english)


def test_typed_xlsx_cells(sessions: sessionmaker[Session], catalog: Catalog) -> None:
    row = good_row(
        employees=120,
        tech_staff=40.0,
        registered_on=date(2021, 3, 15),
        own_brand=True,
        compliance_serious_dishonesty=False,
        revenue_2024=48000000,
        rd_expense_2024=3600000.0,
        national_market_share=0.12,
        innovation_score=78.5,
        lease_area_m2=800,
    )
    report = run(sessions, catalog, xlsx_bytes(table([row])), "xlsx")
    assert report.created == 1, report.errors
    _, versions = stored(sessions, row["uscc"])
    assert versions[0].profile == expected_profile(good_row(row["uscc"]))


def test_reimport_changes_nothing(
    sessions: sessionmaker[Session], catalog: Catalog, counts: Counts
) -> None:
    rows, _first, _second = bad_rows()
    data = xlsx_bytes(table(rows))
    first = run(sessions, catalog, data, "xlsx")
    before = counts()
    with sessions() as session:
        head = repo.get_audit_head(session)
        head_hash = head.hash if head else None
    again = run(sessions, catalog, data, "xlsx")
    assert (again.rows, again.accepted, again.rejected) == (first.rows, 2, 7)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert again.applied and again.import_id is None
    assert [(e.row, e.field) for e in again.errors] == [(e.row, e.field) for e in first.errors]
    assert counts() == before
    with sessions() as session:
        head = repo.get_audit_head(session)
        assert (head.hash if head else None) == head_hash


def test_a_changed_row_adds_version_2_and_the_rest_stay(
    sessions: sessionmaker[Session], catalog: Catalog, counts: Counts
) -> None:
    rows = many_rows(3)
    run(sessions, catalog, csv_bytes(table(rows)))
    changed = dict(rows[1], name="改名后的公司", revenue_2024="50000000.00", district="jiangning")
    changed.pop("park")  # an empty cell: the fact is absent from the new version
    before = counts()

    report = run(sessions, catalog, csv_bytes(table([rows[0], changed, rows[2]])))

    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    enterprise, versions = stored(sessions, rows[1]["uscc"])
    assert [v.version for v in versions] == [1, 2] and enterprise.current_version == 2
    assert versions[0].profile == expected_profile(rows[1])
    assert versions[1].profile["name"] == "改名后的公司"
    assert versions[1].profile["years"]["2024"]["revenue"] == "50000000.00"
    assert "park" not in versions[1].profile["location"]
    assert (enterprise.name, enterprise.park) == ("改名后的公司", None)
    after = counts()
    assert after["profile_versions"] - before["profile_versions"] == 1
    assert after["enterprises"] == before["enterprises"]
    with sessions() as session:
        summary = repo.get_audit_head(session)
        assert summary is not None and summary.action == "import.applied"
        assert summary.payload["updated"] == 1 and summary.payload["unchanged"] == 2
        part = session.get(AuditLog, summary.seq - 1)
        assert part is not None and part.action == "import.profile_versions"
        assert part.payload["versions"] == [
            {
                "enterprise_id": enterprise.id,
                "uscc": rows[1]["uscc"],
                "version": 2,
                "profile_hash": versions[1].profile_hash,
            }
        ]
        assert audit.verify(session).ok


def test_import_and_the_enterprises_service_agree_on_unchanged(
    sessions: sessionmaker[Session], catalog: Catalog, counts: Counts
) -> None:
    row = good_row()
    profile = EnterpriseProfile.model_validate(expected_profile(row))
    with sessions.begin() as session:
        enterprise_service.create_enterprise(session, catalog, profile, ADMIN)
    before = counts()
    report = run(sessions, catalog, csv_bytes(table([row])))
    assert (report.unchanged, report.created, report.updated) == (1, 0, 0)
    assert counts() == before
    # ...and the other way round: PUT of the imported profile adds no version either.
    other = good_row()
    run(sessions, catalog, csv_bytes(table([other])))
    enterprise, _ = stored(sessions, other["uscc"])
    with sessions.begin() as session:
        _, version = enterprise_service.update_enterprise(
            session,
            catalog,
            enterprise.id,
            EnterpriseProfile.model_validate(expected_profile(other)),
            ADMIN,
        )
    assert version.version == 1


def test_dry_run_writes_nothing(
    sessions: sessionmaker[Session], catalog: Catalog, counts: Counts
) -> None:
    rows, _, _ = bad_rows()
    before = counts()
    report = run(sessions, catalog, csv_bytes(table(rows)), dry_run=True)
    assert (report.accepted, report.rejected, report.created) == (2, 7, 2)
    assert report.dry_run and not report.applied and report.import_id is None
    assert counts() == before


def test_all_or_none_when_the_database_fails_midway(
    sessions: sessionmaker[Session],
    catalog: Catalog,
    counts: Counts,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    existing = many_rows(5)
    run(sessions, catalog, csv_bytes(table(existing)))
    changed = [dict(r, employees="7") for r in existing]
    rows = changed + many_rows(40)
    before = counts()
    original = enterprise_repo.loading_profile_versions
    calls: list[int] = []

    @contextmanager
    def failing(session: Session) -> Iterator[Callable[[Sequence[Any]], None]]:
        with original(session) as write:

            def write_or_fail(rows: Sequence[Any]) -> None:
                calls.append(len(rows))
                if len(calls) == 3:
                    raise RuntimeError("the database went away")
                write(rows)

            yield write_or_fail

    monkeypatch.setattr(enterprise_repo, "loading_profile_versions", failing)
    with pytest.raises(RuntimeError, match="went away"):
        run(sessions, catalog, csv_bytes(table(rows)), chunk_size=10)
    assert calls == [10, 10, 10]  # two chunks were written in the transaction, then it failed
    assert counts() == before
    with sessions() as session:
        for row in rows[5:]:
            assert repo.get_enterprise_by_uscc(session, row["uscc"]) is None
        for row in existing:
            found = repo.get_enterprise_by_uscc(session, row["uscc"])
            assert found is not None and found.current_version == 1


def test_a_portal_imports_only_its_own_area(
    sessions: sessionmaker[Session], catalog: Catalog
) -> None:
    elsewhere = good_row(district="gulou", park="")
    outside_stored = good_row(district="xuanwu", park="xuzhuang-software-park")
    run(sessions, catalog, csv_bytes(table([outside_stored])))
    portal = Actor(name="jiangning", role="portal", jurisdiction="jiangning")
    mine = good_row()
    moved_in = dict(outside_stored)
    moved_in.update(district="jiangning", park="jiangning-high-tech-zone")
    report = run(sessions, catalog, csv_bytes(table([mine, elsewhere, moved_in])), actor=portal)
    assert report.created == 1 and report.accepted == 1
    assert [(e.row, e.field, e.reason) for e in report.errors] == [
        (
            3,
            "city",
            "this portal acts for jiangning; the row's location is outside it (give the city or district)",
        ),
        (
            4,
            "city",
            "an enterprise with this USCC is already registered, and this portal cannot change it",
        ),
    ]


def test_two_thousand_rows(
    sessions: sessionmaker[Session], catalog: Catalog, counts: Counts
) -> None:
    rows = many_rows(2_000)
    rows[500]["revenue_2024"] = "-1"
    rows[1500]["industry"] = "nope"
    data = xlsx_bytes(table(rows), write_only=True)
    before = counts()
    progress: list[tuple[str, int, int | None]] = []
    source = bulk_import.ImportFile("big.xlsx", "xlsx", io.BytesIO(data))
    prepared = bulk_import.prepare(catalog, source, ADMIN, lambda *a: progress.append(a))
    with sessions.begin() as session:
        report = bulk_import.apply(session, prepared, ADMIN, progress=lambda *a: progress.append(a))
    assert (report.rows, report.created, report.rejected) == (2_000, 1_998, 2)
    assert [(e.row, e.field) for e in report.errors] == [(502, "revenue_2024"), (1502, "industry")]
    after = counts()
    assert after["enterprises"] - before["enterprises"] == 1_998
    assert after["audit_log"] - before["audit_log"] == 3  # two parts of versions + summary
    assert ("read", 2_000, 2_000) in progress and ("write", 1_998, 1_998) in progress
    again = run(sessions, catalog, data, "xlsx")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1_998)
    assert counts() == after
    with sessions() as session:
        assert audit.verify(session).ok
        stored_ = session.scalars(
            select(Enterprise).where(Enterprise.uscc.in_([r["uscc"] for r in rows[:5]]))
        ).all()
        assert len(stored_) == 5


@contextmanager
def _statements(sessions: sessionmaker[Session]) -> Iterator[list[str]]:
    """The SQL statements sent on the sessions' engine while the block runs."""
    engine = sessions.kw["bind"]
    sent: list[str] = []

    def record(*args: Any) -> None:
        sent.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_statistics_refreshed_for_the_tables_a_large_import_changed(
    sessions: sessionmaker[Session], catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_import, "ANALYZE_AFTER", 3)
    rows = [dict(row, recognitions="无") for row in many_rows(4)]
    for row in rows:
        row.pop(PERFORMANCE, None)  # no scores: their table is left as it is
    with _statements(sessions) as sent:
        report = run(sessions, catalog, csv_bytes(table(rows)))
    assert report.created == 4
    analyzed = [s for s in sent if s.startswith("ANALYZE")]
    if sessions.kw["bind"].dialect.name != "postgresql":
        assert analyzed == []
        return
    assert analyzed == [
        "ANALYZE enterprises",
        # Not the profile documents: no query looks into one.
        "ANALYZE profile_versions (id, enterprise_id, version, profile_hash, created_at, "
        "created_by)",
        # Of the projection, the columns its queries use.
        "ANALYZE enterprise_facts (enterprise_id, exact)",
        "ANALYZE enterprise_fact_years (enterprise_id, year)",
    ]
    with _statements(sessions) as sent:  # fewer rows than that: no statistics
        run(sessions, catalog, csv_bytes(table(many_rows(2))))
    assert not [s for s in sent if s.startswith("ANALYZE")]
