"""The console over HTTP, on both databases: its session cookie and CSRF tokens, the
role scope of its pages, its answers beside the API's, and nothing from other sites.
(The browser tests walk the same pages in Chromium; the tenant matrix tries every
page with an id for every tenant.)"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import URL

from app.console.session import SESSION_COOKIE, session_token
from app.db.session import migrate
from app.main import create_app
from app.services.actors import SYSTEM
from app.services.keys import revoke_key
from tests.api.conftest import issue_token, make_settings
from tests.helpers import random_uscc

YEAR = 2024
NANJING = {"province": "jiangsu", "city": "nanjing", "district": "jiangning"}
TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "console" / "templates"


@pytest.fixture(scope="module")
def app(db_url: URL) -> Iterator[Any]:
    application = create_app(make_settings(db_url))
    with TestClient(application):
        yield application


def _browser(app: Any, base_url: str = "http://testserver") -> TestClient:
    return TestClient(app, base_url=base_url, follow_redirects=False)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html[:400]
    return found[1]


def _sign_in(browser: TestClient, token: str) -> str:
    """Sign in; the CSRF token of the signed-in pages."""
    form = browser.get("/console/sign-in")
    answer = browser.post("/console/sign-in", data={"api_key": token, "csrf": _csrf(form.text)})
    assert answer.status_code == 303, answer.text
    return _csrf(browser.get("/console/").text)


def _enterprise(app: Any, name: str = "南京控制台示例有限公司") -> dict[str, Any]:
    # Not as a context manager: that would run the app's start-up and shut-down again.
    answer = TestClient(app).post(
        "/v1/enterprises",
        headers={"Authorization": f"Bearer {issue_token(app)}"},
        json={
            "uscc": random_uscc(),
            "name": name,
            "kind": "enterprise",
            "location": NANJING,
            "recognitions": [
                {"kind": "green_factory", "level": "national", "granted_on": "2024-03-01"}
            ],
            "compliance": {"serious_dishonesty": False},
        },
    )
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


# ---------------------------------------------------------------- the session


def test_the_session_cookie_is_httponly_strict_and_never_the_key(app: Any) -> None:
    token = issue_token(app, "portal", jurisdiction="nanjing")
    browser = _browser(app)
    form = browser.get("/console/sign-in")
    answer = browser.post("/console/sign-in", data={"api_key": token, "csrf": _csrf(form.text)})
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back
    # pik_<prefix>_<secret>: the secret is URL-safe base64 and may hold "_" itself.
    secret = token.removeprefix("pik_").split("_", 1)[1]
    assert len(secret) >= 32
    assert token not in cookie and secret not in cookie

    over_https = _browser(app, "https://testserver")
    form = over_https.get("/console/sign-in")
    answer = over_https.post("/console/sign-in", data={"api_key": token, "csrf": _csrf(form.text)})
    assert "Secure" in answer.headers["set-cookie"]
    assert "Secure" in form.headers["set-cookie"]  # the CSRF nonce's cookie too


def test_an_unknown_key_signs_no_one_in(app: Any) -> None:
    browser = _browser(app)
    form = browser.get("/console/sign-in")
    answer = browser.post(
        "/console/sign-in", data={"api_key": "pik_000000000000_nope", "csrf": _csrf(form.text)}
    )
    assert answer.status_code == 401
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    assert browser.get("/console/budgets").status_code == 303


def test_every_form_needs_this_browsers_token(app: Any) -> None:
    token = issue_token(app, "portal", jurisdiction="nanjing")
    browser = _browser(app)
    form = browser.get("/console/sign-in")
    # No token, and the token another browser was given: both refused, nobody signed in.
    assert browser.post("/console/sign-in", data={"api_key": token}).status_code == 403
    other = _browser(app)
    theirs = _csrf(other.get("/console/sign-in").text)
    assert (
        browser.post("/console/sign-in", data={"api_key": token, "csrf": theirs}).status_code == 403
    )
    assert browser.get("/console/budgets").status_code == 303
    # The sign-in form's own token, then the signed-in pages' tokens for every form.
    signed = browser.post("/console/sign-in", data={"api_key": token, "csrf": _csrf(form.text)})
    assert signed.status_code == 303
    enterprise = _enterprise(app)
    compute = f"/console/enterprises/{enterprise['id']}/awards"
    fields = {"policy_id": "nj-green-manufacturing", "fiscal_year": str(YEAR)}
    for refused in ({}, {"csrf": _csrf(form.text)}, {"csrf": theirs}):
        assert browser.post(compute, data={**fields, **refused}).status_code == 403
    assert browser.post("/console/sign-out", data={}).status_code == 403
    csrf = _csrf(browser.get("/console/").text)
    assert browser.post(compute, data={**fields, "csrf": csrf}).status_code == 303


def test_sign_out_and_revocation_end_the_session(app: Any) -> None:
    token = issue_token(app, "auditor")
    browser = _browser(app)
    csrf = _sign_in(browser, token)
    assert browser.get("/console/audit").status_code == 200
    out = browser.post("/console/sign-out", data={"csrf": csrf})
    assert out.status_code == 303
    assert f'{SESSION_COOKIE}=""' in out.headers["set-cookie"]
    assert browser.get("/console/audit").status_code == 303

    _sign_in(browser, token)
    assert browser.get("/console/audit").status_code == 200
    with app.state.sessionmaker.begin() as session:
        revoke_key(session, token.split("_")[1], SYSTEM)
    gone = browser.get("/console/audit")
    assert gone.status_code == 303
    assert gone.headers["location"] == "/console/sign-in?next=/console/audit"


def test_a_forged_or_expired_cookie_is_no_session(app: Any) -> None:
    token = issue_token(app, "auditor")
    browser = _browser(app)
    _sign_in(browser, token)
    real = browser.cookies[SESSION_COOKIE]
    key_id, expires, signature = real.split(".")
    signer = SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(console_secret="x" * 43)))
    for forged in (
        f"{key_id}.{int(expires) + 10}.{signature}",  # a longer life, same signature
        session_token(signer, key_id),  # signed with another secret
        session_token(SimpleNamespace(app=app), key_id, now=1_000_000.0),  # long expired
    ):
        other = _browser(app)
        other.cookies.set(SESSION_COOKIE, forged, path="/console")
        assert other.get("/console/audit").status_code == 303, forged


# ---------------------------------------------------------------- roles and pages


def test_each_page_keeps_the_apis_role_rules(app: Any) -> None:
    enterprise = _enterprise(app)
    auditor, portal = _browser(app), _browser(app)
    auditor_csrf = _sign_in(auditor, issue_token(app, "auditor"))
    portal_csrf = _sign_in(portal, issue_token(app, "portal", jurisdiction="nanjing"))
    owner = _browser(app)
    _sign_in(owner, issue_token(app, "enterprise", enterprise_id=enterprise["id"]))

    compute = f"/console/enterprises/{enterprise['id']}/awards"
    fields = {"policy_id": "nj-green-manufacturing", "fiscal_year": str(YEAR)}
    assert auditor.post(compute, data={**fields, "csrf": auditor_csrf}).status_code == 403
    made = portal.post(compute, data={**fields, "csrf": portal_csrf})
    assert made.status_code == 303
    award = made.headers["location"]
    assert portal.get(award).status_code == 200
    # Computing it twice is the API's 409, shown as a page; no second award.
    again = portal.post(compute, data={**fields, "csrf": portal_csrf})
    assert again.status_code == 409 and "already exists" in again.text
    assert auditor.post(f"{award}/approve", data={"csrf": auditor_csrf}).status_code == 403
    assert portal.post(f"{award}/pay", data={"csrf": portal_csrf}).status_code == 422
    # The notice's dates go through the API's request schema.
    short = portal.post(
        f"{award}/notice",
        data={"csrf": portal_csrf, "notice_start": "2024-06-03", "notice_end": "2024-06-04"},
    )
    assert short.status_code == 422 and "7 working days" in short.text
    assert owner.get(award).status_code == 200  # its own award: no step offered
    assert 'action="' + award not in owner.get(award).text
    assert owner.get("/console/budgets").status_code == 403
    assert portal.get("/console/audit").status_code == 403
    assert auditor.get("/console/audit?object_type=award").status_code == 200
    bad = auditor.get("/console/audit/verify?checkpoint_seq=1&checkpoint_hash=zz")
    assert bad.status_code == 422 and "checkpoint_hash" in bad.text
    assert portal.get("/console/budgets?fiscal_year=next").status_code == 422
    assert auditor.get("/console/awards/not-an-award").status_code in (404, 422)


def test_search_takes_text_as_a_value_not_a_pattern(app: Any) -> None:
    percent = _enterprise(app, "百分之百_控制台检索")
    plain = _enterprise(app, "普通控制台检索公司")
    portal = _browser(app)
    _sign_in(portal, issue_token(app, "portal", jurisdiction="nanjing"))
    found = portal.get("/console/enterprises", params={"q": "百_控"}).text
    assert percent["id"] in found and plain["id"] not in found
    found = portal.get("/console/enterprises", params={"q": "%"}).text
    assert percent["id"] not in found and plain["id"] not in found
    found = portal.get("/console/enterprises", params={"q": plain["uscc"].lower()}).text
    assert plain["id"] in found


def test_the_self_check_answers_as_the_open_calculator(app: Any) -> None:
    browser = _browser(app)
    csrf = _csrf(browser.get("/console/self-check").text)
    fields = {
        "csrf": csrf,
        "fiscal_year": str(YEAR),
        "name": "南京示例科技有限公司",
        "kind": "enterprise",
        "location.province": "jiangsu",
        "location.city": "nanjing",
        "location.district": "jiangning",
        "compliance.serious_dishonesty": "false",
        "recognitions.0.kind": "green_factory",
        "recognitions.0.level": "national",
        "recognitions.0.granted_on": "2024-03-01",
        f"years.{YEAR}.revenue": "20,000,000",
    }
    saved = browser.post("/console/self-check/profile.json", data=fields)
    assert saved.status_code == 200
    assert saved.headers["content-disposition"] == 'attachment; filename="profile.json"'
    document = saved.json()
    assert document["profile"]["years"] == {str(YEAR): {"revenue": "20000000.00"}}
    # The saved file is the calculator's request body, as it is.
    api = TestClient(app).post("/v1/eligibility", json=document).json()
    page = browser.post("/console/self-check", data=fields)
    assert page.status_code == 200
    for result in api["results"]:
        article = re.search(
            rf'<article class="policy (\w+)" data-policy="{result["policy_id"]}">', page.text
        )
        assert article is not None and article[1] == result["status"], result["policy_id"]
    # Loading the file fills the form again and answers the same.
    loaded = browser.post(
        "/console/self-check/load",
        data={"csrf": csrf},
        files={"profile_file": ("profile.json", saved.content, "application/json")},
    )
    assert loaded.status_code == 200
    assert 'value="nanjing" selected' in loaded.text
    assert 'value="20000000.00"' in loaded.text


def test_the_self_check_names_what_to_correct(app: Any) -> None:
    browser = _browser(app)
    csrf = _csrf(browser.get("/console/self-check").text)
    wrong = browser.post(
        "/console/self-check",
        data={"csrf": csrf, "name": "示例", "location.city": "atlantis", "employees": "-3"},
    )
    assert wrong.status_code == 422
    assert 'href="#f-employees"' in wrong.text
    assert 'id="f-employees" name="employees" type="number"' in wrong.text
    no_name = browser.post("/console/self-check", data={"csrf": csrf})
    assert no_name.status_code == 422 and 'href="#f-name"' in no_name.text
    place = browser.post(
        "/console/self-check", data={"csrf": csrf, "name": "示例", "location.city": "atlantis"}
    )
    assert place.status_code == 422 and 'href="#f-location.city"' in place.text
    for content in (b"not json", json.dumps({"fiscal_year": YEAR}).encode(), b"\xff\xfe"):
        refused = browser.post(
            "/console/self-check/load",
            data={"csrf": csrf},
            files={"profile_file": ("profile.json", content, "application/json")},
        )
        assert refused.status_code == 422 and "f-profile_file" in refused.text


def test_the_self_check_counts_against_the_calculators_limit(db_url: URL) -> None:
    limited = create_app(make_settings(db_url, public_rate_limit_per_minute=2))
    with TestClient(limited):
        browser = _browser(limited)
        csrf = _csrf(browser.get("/console/self-check").text)
        answers = [
            browser.post("/console/self-check", data={"csrf": csrf, "name": "示例"})
            for _ in range(3)
        ]
    refused = answers[-1]
    assert refused.status_code == 429 and "retry-after" in refused.headers
    assert refused.headers["content-type"].startswith("text/html")


def test_chinese_by_default_english_on_request(app: Any) -> None:
    browser = _browser(app)
    assert "<h1>企业自测</h1>" in browser.get("/console/self-check").text
    english = browser.get("/console/self-check?lang=en").text
    assert "<h1>Enterprise self-check</h1>" in english and 'lang="en"' in english


def test_missing_facts_and_states_are_named_in_words(app: Any) -> None:
    """An officer reads what an answer waits for, and an award's state, in words: the
    vocabulary's names (the path kept in the title) and the states in either language."""
    enterprise = _enterprise(app)
    portal = _browser(app)
    csrf = _sign_in(portal, issue_token(app, "portal", jurisdiction="nanjing"))
    page = portal.get(f"/console/enterprises/{enterprise['id']}?fiscal_year={YEAR}").text
    # The profile gives no revenue: a policy that reads it waits for the year's figure.
    assert f'<span title="years.{YEAR}.revenue">{YEAR}年 年度营业收入</span>' in page
    english = portal.get(f"/console/enterprises/{enterprise['id']}?fiscal_year={YEAR}&lang=en")
    assert f'<span title="years.{YEAR}.revenue">revenue of the fiscal year ({YEAR})</span>' in (
        english.text
    )
    made = portal.post(
        f"/console/enterprises/{enterprise['id']}/awards",
        data={"policy_id": "nj-green-manufacturing", "fiscal_year": str(YEAR), "csrf": csrf},
    )
    award = portal.get(made.headers["location"]).text
    assert 'data-status="computed">已核算</span>' in award
    assert (
        'data-status="computed">computed</span>'
        in portal.get(made.headers["location"] + "?lang=en").text
    )


def test_what_if_compares_baseline_and_scenario(app: Any) -> None:
    _enterprise(app, "南京模拟示例有限公司")
    portal = _browser(app)
    csrf = _sign_in(portal, issue_token(app, "portal", jurisdiction="nanjing"))
    scenario = {"csrf": csrf, "fiscal_year": str(YEAR), "policy_id": "nj-green-manufacturing"}
    bad = portal.post("/console/what-if", data={**scenario, "budget": "lots"})
    assert bad.status_code == 422 and "budget" in bad.text
    started = portal.post("/console/what-if", data={**scenario, "switch_off": "true"})
    assert started.status_code == 303, started.text
    for _ in range(600):  # bounded: a few enterprises take well under a second
        page = portal.get(started.headers["location"])
        if 'data-testid="run-status" data-status="done"' in page.text:
            break
        time.sleep(0.05)
    assert 'data-testid="run-status" data-status="done"' in page.text
    row = re.search(r'<tr data-policy="nj-green-manufacturing" class="changed">', page.text)
    assert row is not None
    assert '<rect class="baseline"' in page.text and "hx-trigger" not in page.text
    auditor = _browser(app)
    _sign_in(auditor, issue_token(app, "auditor"))
    assert 'action="/console/what-if"' not in auditor.get("/console/what-if").text


def _queue_import(portal: TestClient, csrf: str, file_name: str, *rows: str) -> str:
    """Upload a CSV of ``rows`` (under the usual header) that the console queues as a
    job; the path of the import's page it sends the officer to."""
    content = ("uscc,name,kind,province,city,district\n" + "".join(r + "\n" for r in rows)).encode()
    queued = portal.post(
        "/console/imports", data={"csrf": csrf}, files={"file": (file_name, content, "text/csv")}
    )
    assert queued.status_code == 303, queued.text
    page_path: str = queued.headers["location"]
    assert re.fullmatch(r"/console/imports/[0-9a-f-]{36}", page_path), page_path
    return page_path


def test_a_large_import_is_a_job_whose_page_shows_its_report(db_url: URL) -> None:
    """Past IMPORT_JOB_BYTES the console queues the file as the API does and sends the
    officer to the import's page, which follows the job to its report."""
    application = create_app(make_settings(db_url, import_job_bytes=64))
    with TestClient(application):  # (its own worker thread executes the job)
        portal = _browser(application)
        csrf = _sign_in(portal, issue_token(application, "portal", jurisdiction="nanjing"))
        good, other = random_uscc(), random_uscc()
        page_path = _queue_import(
            portal,
            csrf,
            "large.csv",
            f"{good},南京排队导入有限公司,enterprise,jiangsu,nanjing,jiangning",
            f"{other},南京排队导入二有限公司,enterprise,jiangsu,nanjing,atlantis",
        )
        for _ in range(300):  # the job's thread takes it at once; wait for its report
            page = portal.get(page_path)
            assert page.status_code == 200
            if 'data-testid="import-verdict"' in page.text:
                break
            assert 'hx-trigger="every 1s"' in page.text  # an unfinished job's page follows it
            time.sleep(0.1)
        assert (
            'data-testid="import-status" data-status="done"' in page.text
            and "hx-trigger" not in page.text
        )
        assert re.search(r'<td class="num">3</td><td>district</td>', page.text)
        assert "南京排队导入有限公司" in portal.get("/console/enterprises", params={"q": good}).text
        wuhan = _browser(application)
        _sign_in(wuhan, issue_token(application, "portal", jurisdiction="wuhan"))
        assert wuhan.get(page_path).status_code == 404
        assert portal.get("/console/imports/not-an-id").status_code in (404, 422)


def test_a_queued_import_is_cancelled_from_its_page(fresh_db_url: URL) -> None:
    """No worker takes the job here (a database of its own: the other apps' job threads
    would): the officer cancels it from its page, and nothing of the file is written; a
    finished import has no cancel button and is a 409."""
    migrate(fresh_db_url)
    settings = make_settings(fresh_db_url, import_job_bytes=0, jobs_in_process=False)
    application = create_app(settings)
    with TestClient(application):
        portal = _browser(application)
        csrf = _sign_in(portal, issue_token(application, "portal", jurisdiction="nanjing"))
        uscc = random_uscc()
        page_path = _queue_import(
            portal,
            csrf,
            "cancel.csv",
            f"{uscc},南京取消导入有限公司,enterprise,jiangsu,nanjing,jiangning",
        )
        page = portal.get(page_path)
        assert 'data-testid="import-status" data-status="queued"' in page.text
        assert 'id="cancel-import"' in page.text
        auditor = _browser(application)
        auditor_csrf = _sign_in(auditor, issue_token(application, "auditor"))
        assert 'id="cancel-import"' not in auditor.get(page_path).text
        assert auditor.post(page_path + "/cancel", data={"csrf": auditor_csrf}).status_code == 403
        assert portal.post(page_path + "/cancel", data={}).status_code == 403  # no CSRF token
        cancelled = portal.post(page_path + "/cancel", data={"csrf": csrf})
        assert cancelled.status_code == 303 and cancelled.headers["location"] == page_path
        page = portal.get(page_path)
        assert 'data-testid="import-status" data-status="cancelled"' in page.text
        assert 'id="cancel-import"' not in page.text and "hx-trigger" not in page.text
        assert portal.post(page_path + "/cancel", data={"csrf": csrf}).status_code == 409
        assert (
            "南京取消导入有限公司"
            not in portal.get("/console/enterprises", params={"q": uscc}).text
        )


def test_a_bulk_import_reports_each_rejected_row(app: Any) -> None:
    portal = _browser(app)
    csrf = _sign_in(portal, issue_token(app, "portal", jurisdiction="nanjing"))
    good, other = random_uscc(), random_uscc()
    content = (
        "uscc,name,kind,province,city,district\n"
        f"{good},南京导入示例有限公司,enterprise,jiangsu,nanjing,jiangning\n"
        f"{other},南京导入示例二有限公司,enterprise,jiangsu,nanjing,atlantis\n"
    ).encode()

    def upload(**fields: str) -> Any:
        return portal.post(
            "/console/imports",
            data={"csrf": csrf, **fields},
            files={"file": ("enterprises.csv", content, "text/csv")},
        )

    checked = upload(dry_run="true")
    assert checked.status_code == 200
    assert re.search(r'<td class="num">3</td><td>district</td>', checked.text)
    assert "atlantis" in checked.text
    assert "南京导入示例有限公司" not in portal.get("/console/enterprises", params={"q": good}).text
    # The accepted rows are written together; the rejected one is reported, not written.
    done = upload()
    assert done.status_code == 200 and re.search(r'<td class="num">3</td>', done.text)
    assert "南京导入示例有限公司" in portal.get("/console/enterprises", params={"q": good}).text
    assert "南京导入示例二" not in portal.get("/console/enterprises", params={"q": other}).text
    auditor = _browser(app)
    auditor_csrf = _sign_in(auditor, issue_token(app, "auditor"))
    assert auditor.get("/console/imports").status_code == 403
    files = {"file": ("enterprises.csv", content, "text/csv")}
    assert (
        auditor.post("/console/imports", data={"csrf": auditor_csrf}, files=files).status_code
        == 403
    )


# ---------------------------------------------------------------- served, not fetched


def test_every_script_style_and_font_is_served_by_the_service(app: Any) -> None:
    browser = _browser(app)
    for page in ("/console/", "/console/sign-in", "/console/self-check"):
        html = browser.get(page).text
        assert not re.search(r'(src|href)="(https?:)?//', html), page
        for asset in re.findall(r'(?:src|href)="(/console/static/[^"]+)"', html):
            assert browser.get(asset).status_code == 200, asset
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//[a-z]", text.replace("://", "")), template.name
    css = browser.get("/console/static/console.css").text
    assert "url(" not in css and "@import" not in css and "@font-face" not in css
    licence = browser.get("/console/static/htmx.LICENSE.txt")
    assert licence.status_code == 200 and "Zero-Clause BSD" in licence.text
