"""Data flows one way: the layers below the API never import it.

Read from the source (every import statement, wherever it stands in a module, lazy
imports in functions included), so an import added anywhere is caught without
running it:

- the services and ``app.profile`` import nothing from ``app.api``: the enterprise
  profile and the value types they need live in ``app.profile``, and the API's
  schemas re-export them;
- the domain imports nothing from ``app`` but itself and the catalog's models (which
  are its policy objects; see README, "Architecture");
- ``app.profile`` reaches no further than the domain and the columns' sizes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"


def _modules(package: str) -> list[Path]:
    return sorted((APP / package).rglob("*.py"))


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from app.db import bounds` names the module app.db.bounds.
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def _offending(package: str, allowed: tuple[str, ...]) -> list[str]:
    return [
        f"{path.relative_to(APP.parent)}: {name}"
        for path in _modules(package)
        for name in _imports(path)
        if (name == "app" or name.startswith("app."))
        and not any(name == a or name.startswith(a + ".") for a in allowed)
    ]


@pytest.mark.parametrize("package", ["services", "profile"])
def test_the_layers_below_the_api_do_not_import_it(package: str) -> None:
    assert _modules(package)
    offending = [line for line in _offending(package, ("app",)) if ": app.api" in line]
    assert offending == [], "import these from app.profile (or the services) instead"


def test_the_domain_imports_only_itself_and_the_catalog() -> None:
    # (and the loader of its native build, which its packages call before anything else)
    assert _offending("domain", ("app.domain", "app.catalog", "app.native.loader")) == []


def test_the_profile_needs_only_the_domain_and_the_column_sizes() -> None:
    assert _offending("profile", ("app.profile", "app.domain", "app.db.bounds")) == []


def test_the_api_schemas_and_the_services_share_one_profile() -> None:
    from app.api.schemas import bounded, eligibility, types
    from app.profile import EnterpriseProfile
    from app.profile import bounded as profile_bounded
    from app.profile import types as profile_types

    assert eligibility.EnterpriseProfile is EnterpriseProfile
    assert bounded.MapsTo is profile_bounded.MapsTo
    assert types.MoneyIn is profile_types.MoneyIn
