"""The real catalog, loaded once for the catalog tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.catalog.loader import Catalog, load_catalog

CATALOG_DIR = Path(__file__).resolve().parents[2] / "policy_catalog"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(CATALOG_DIR)
