"""The console's "done when", in a real Chromium: an enterprise checks itself from an
empty form to an explained answer; a portal officer takes an award from computed to
disbursed; an auditor verifies the chain and replays the award; another city's
officer is refused. Forms are filled and sent from the keyboard where a person would.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.db.session import make_engine, make_sessionmaker
from app.services.actors import SYSTEM
from app.services.keys import revoke_key
from tests.console.conftest import PHONE, Console, copy_to_docs, shoot
from tests.helpers import random_uscc

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("console-browser")]

YEAR = 2024
NANJING = {"province": "jiangsu", "city": "nanjing", "district": "jiangning"}


def _green_factory(name: str) -> dict[str, Any]:
    return {
        "uscc": random_uscc(),
        "name": name,
        "kind": "enterprise",
        "location": NANJING,
        "recognitions": [
            {"kind": "green_factory", "level": "national", "granted_on": "2024-03-01"}
        ],
        "compliance": {"serious_dishonesty": False},
    }


def _sign_in(page: Any, key: str, target: str) -> None:
    page.goto(target)
    page.wait_for_url("**/console/sign-in**")
    page.fill("#api_key", key)
    page.press("#api_key", "Enter")
    page.wait_for_selector("[data-testid=actor]")


def _fill_self_check(page: Any) -> None:
    page.fill("#f-name", "南京示例科技有限公司")
    page.select_option("#f-kind", "enterprise")
    page.select_option("#f-location\\.province", "jiangsu")
    page.select_option("#f-location\\.city", "nanjing")
    page.select_option("#f-location\\.district", "jiangning")
    page.select_option("#f-compliance\\.serious_dishonesty", "false")
    page.fill("#f-employees", "120")
    page.fill(f"#f-years\\.{YEAR}\\.revenue", "20000000")
    page.fill(f"#f-years\\.{YEAR}\\.rd_expense", "400000")
    page.select_option("#f-recognitions\\.0\\.kind", "green_factory")
    page.select_option("#f-recognitions\\.0\\.level", "national")
    page.fill("#f-recognitions\\.0\\.granted_on", "2024-03-01")


def test_self_check_from_an_empty_form_to_an_explained_answer(page: Any, tmp_path: Any) -> None:
    page.goto(f"/console/self-check?fiscal_year={YEAR}")
    assert page.inner_text("h1") == "企业自测"  # Chinese by default
    assert page.locator("#answer").count() == 0
    _fill_self_check(page)
    page.focus("#check")
    page.keyboard.press("Enter")  # htmx swaps the answer in; no full page load
    page.wait_for_selector("#answer")

    green = page.locator("article[data-policy=nj-green-manufacturing]")
    assert "符合" in green.locator(".badge").inner_text()
    assert "金额" in green.inner_text()
    assert green.locator(".reasons li").count() >= 2  # clause by clause
    assert green.locator(".reasons li.met").count() >= 1
    # A missing fact links back to its field in the form.
    link = page.locator(".missing a[href^='#f-']").first
    target = link.get_attribute("href")
    # named as the vocabulary names it, the path kept in the title
    assert link.get_attribute("title") == (target or "")[len("#f-") :]
    assert link.inner_text() != link.get_attribute("title")
    link.click()
    assert page.evaluate("location.hash") == target
    # The two ladders, each rung with what is unmet and how far.
    assert page.locator("section.ladder").count() == 2
    assert page.locator(".rungs").first.inner_text()
    assert "差距" in (page.locator("section.ladder").first.text_content() or "")
    page.evaluate("document.getElementById('answer').scrollIntoView()")
    copy_to_docs(shoot(page, "self-check-answer"), "console-self-check.png")

    # Save the profile as a file, then load it back into an empty form.
    with page.expect_download() as download:
        page.click("#save-profile")
    saved = tmp_path / "profile.json"
    download.value.save_as(saved)
    document = json.loads(saved.read_text(encoding="utf-8"))
    assert document["fiscal_year"] == YEAR
    assert document["profile"]["location"] == NANJING
    page.goto("/console/self-check?lang=en")
    assert page.inner_text("h1") == "Enterprise self-check"
    page.set_input_files("#f-profile_file", str(saved))
    page.click("form.load button")
    page.wait_for_selector("#answer")
    assert page.input_value("#f-location\\.city") == "nanjing"
    assert page.input_value(f"#f-years\\.{YEAR}\\.revenue") == "20000000.00"
    green = page.locator("article[data-policy=nj-green-manufacturing]")
    assert "eligible" in green.locator(".badge").inner_text()


def test_the_self_check_names_the_field_to_correct(page: Any) -> None:
    page.goto(f"/console/self-check?fiscal_year={YEAR}")
    page.fill("#f-name", "示例")
    page.fill(f"#f-years\\.{YEAR}\\.revenue", "many")
    page.click("#check")
    page.wait_for_selector("#form-errors")
    errors = page.locator("#form-errors")
    assert f"years.{YEAR}.revenue" in errors.inner_text()
    assert page.get_attribute(f"#f-years\\.{YEAR}\\.revenue", "aria-invalid") == "true"


def test_the_self_check_fits_a_phone(browser: Any, console: Console) -> None:
    context = browser.new_context(viewport=PHONE, base_url=console.base_url)
    phone = context.new_page()
    try:
        phone.goto(f"/console/self-check?fiscal_year={YEAR}")
        _fill_self_check(phone)
        phone.click("#check")
        phone.wait_for_selector("#answer")
        # Wide tables scroll inside their own box; the page itself never scrolls sideways.
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        phone.evaluate("document.getElementById('answer').scrollIntoView()")
        shoot(phone, "self-check-phone")
    finally:
        context.close()


def test_a_portal_officer_takes_an_award_from_computed_to_disbursed(
    page: Any, console: Console
) -> None:
    key = console.key("portal", jurisdiction="nanjing")
    with console.api(key) as api:
        answer = api.post("/v1/enterprises", json=_green_factory("南京绿色工厂示例有限公司"))
        assert answer.status_code == 201, answer.text
        enterprise = answer.json()

    _sign_in(page, key, "/console/enterprises")
    page.fill("#q", "绿色工厂示例")
    page.press("#q", "Enter")
    page.click(f"a[href^='/console/enterprises/{enterprise['id']}']")
    page.wait_for_selector("#entitlements-title")
    page.fill("#fiscal_year", str(YEAR))
    page.press("#fiscal_year", "Enter")
    page.wait_for_url(f"**fiscal_year={YEAR}**")
    page.locator("article[data-policy=nj-green-manufacturing] button").click()

    page.wait_for_selector("[data-testid=award-status]")
    assert page.get_attribute("[data-testid=award-status]", "data-status") == "computed"
    assert page.inner_text("[data-testid=award-status]") == "已核算"  # the state in words
    assert page.locator(".reasons li.met").count() >= 1  # the reason clauses
    page.fill("#notice_start", "2024-06-03")
    page.fill("#notice_end", "2024-06-14")
    page.click("#start-notice")
    page.wait_for_selector("[data-testid=award-status][data-status=public_notice]")
    page.fill("#objection-text", "该企业绿色工厂称号已被撤销?")
    page.fill("#objection-by", "匿名来信")
    page.click("text=记录异议")
    page.wait_for_selector("text=匿名来信")
    page.click("#approve")
    page.wait_for_selector("[data-testid=award-status][data-status=approved]")
    page.click("#disburse")
    page.wait_for_selector("[data-testid=award-status][data-status=disbursed]")
    history = page.locator(".events").inner_text()
    for status in ("已核算", "公示中", "已批准", "已拨付"):
        assert status in history
    copy_to_docs(shoot(page, "award-disbursed"), "console-award.png")

    page.click("nav >> text=预算")
    page.wait_for_selector("figure.chart svg")
    assert page.locator("rect.disbursed").count() >= 1
    shoot(page, "budgets")


def test_a_matching_run_shows_its_progress_and_becomes_awards(page: Any, console: Console) -> None:
    key = console.key("portal", jurisdiction="nanjing")
    with console.api(key) as api:
        enterprise = api.post("/v1/enterprises", json=_green_factory("南京免申即享示例有限公司"))
        assert enterprise.status_code == 201, enterprise.text
    _sign_in(page, key, "/console/runs")
    page.fill("#run-year", str(YEAR))
    page.press("#run-year", "Enter")
    # htmx asks for the run again each second until it is done.
    page.wait_for_selector("[data-testid=run-status][data-status=done]")
    row = page.locator("table.run-summary tr[data-policy=nj-green-manufacturing]")
    assert int(row.locator("td").first.inner_text()) >= 1
    row.locator("button").click()
    report = page.locator("[data-testid=awards-report]")
    assert int(report.locator("strong").inner_text()) >= 1
    assert enterprise.json()["name"] in page.locator("table.run-results").inner_text()
    shoot(page, "matching-run")


def _disbursed_award(console: Console, name: str) -> dict[str, Any]:
    """An award taken through its whole life over the API."""
    with console.api(console.key("portal", jurisdiction="nanjing")) as api:
        enterprise = api.post("/v1/enterprises", json=_green_factory(name)).json()
        award = api.post(
            "/v1/awards",
            json={
                "enterprise_id": enterprise["id"],
                "policy_id": "nj-green-manufacturing",
                "fiscal_year": YEAR,
            },
        ).json()
        notice = {"notice_start": "2024-06-03", "notice_end": "2024-06-14"}
        for step, body in (("notice", notice), ("approve", {}), ("disburse", {})):
            answer = api.post(f"/v1/awards/{award['id']}/{step}", json=body)
            assert answer.status_code == 200, answer.text
        return {"enterprise": enterprise, "award": award}


def test_an_auditor_verifies_the_chain_and_replays_the_award(page: Any, console: Console) -> None:
    award = _disbursed_award(console, "南京审计示例有限公司")["award"]
    _sign_in(page, console.key("auditor"), "/console/audit")

    page.click("#verify")  # htmx puts the verdict into the page
    verdict = page.locator("[data-testid=chain-verdict]")
    verdict.wait_for()
    assert "哈希链完整" in verdict.inner_text()
    assert "good" in (verdict.get_attribute("class") or "")
    # A checkpoint the log has not reached: records were cut from its end.
    head = int(page.locator(".verify code").first.inner_text())
    page.fill("#checkpoint_seq", str(head + 1000))
    page.click("#verify")
    page.wait_for_selector("[data-testid=chain-verdict].bad")
    assert "哈希链断裂" in page.locator("[data-testid=chain-verdict]").inner_text()
    copy_to_docs(shoot(page, "audit-verify"), "console-audit.png")
    with page.expect_download() as download:
        page.click("text=审计日志 CSV")
    assert download.value.suggested_filename == "audit-events.csv"

    page.fill("#filter-object_id", award["id"])
    page.press("#filter-object_id", "Enter")
    page.wait_for_url("**object_id=**")
    assert page.locator("table.audit tbody tr").count() == 4  # computed, notice, approved, paid
    page.locator(f"table.audit a[href^='/console/awards/{award['id']}']").first.click()
    page.click("#replay-link")
    replay = page.locator("[data-testid=replay-verdict]")
    assert "一致" in replay.inner_text()
    assert page.locator("table.replay tr.changed").count() == 0
    shoot(page, "replay")


def test_another_citys_officer_is_refused(page: Any, console: Console) -> None:
    nanjing = _disbursed_award(console, "南京跨区示例有限公司")
    wuhan_key = console.key("portal", jurisdiction="wuhan")
    _sign_in(page, wuhan_key, "/console/enterprises")
    assert nanjing["enterprise"]["name"] not in page.inner_text("main")

    for path in (
        f"/console/awards/{nanjing['award']['id']}",
        f"/console/awards/{nanjing['award']['id']}/replay",
        f"/console/enterprises/{nanjing['enterprise']['id']}",
    ):
        answer = page.goto(path)
        assert answer.status == 404, path
        assert "404" in page.inner_text("h1")
    shoot(page, "cross-tenant-refused")

    # Revoking the key ends its console sessions at once.
    engine = make_engine(console.database_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            revoke_key(session, wuhan_key.split("_")[1], SYSTEM)
    finally:
        engine.dispose()
    page.goto("/console/enterprises")
    page.wait_for_url("**/console/sign-in**")
