"""How much each bounded column holds: the one place both the models and the API read.

The models declare their columns with these sizes (``String(POLICY_ID)``), and the
request schemas refuse what a column could not hold (``app.profile.bounded``), so
an over-long name, a number past its column or a NUL byte is a 422 naming the field,
never a database error after part of the work is done. ``tests/api/test_bounds.py``
walks every column and every API field mapped to it and holds the two equal.

The migrations keep their own literal sizes (history does not change when this file
does); the migration drift test holds the models, and so these sizes, equal to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

# ---------------------------------------------------------------- text (characters)

ID = 36  # a UUID as text (version 7, time first): every primary key but the integer ones
USCC = 18  # Unified Social Credit Code (GB 32100-2015)
ENTERPRISE_NAME = 300
ENTERPRISE_KIND = 32
PLACE = 64  # a province, city or district slug; a payer's or a portal's jurisdiction
PARK = 128
POLICY_ID = 100
POLICY_VERSION = 32
STATUS = 32  # an award's status, and the other lifecycle words of the ledger
RESULT_STATUS = 16  # a matching result: eligible or undetermined
PAYER_LEVEL = 32  # national, provincial, municipal, district
AMOUNT_BASIS = 32
TENANT = 120  # whose runs count together: `all`, or a level and a place slug
ACTOR = 200  # who did something: an API key's label, a command, "service start-up"
AUDIT_ACTION = 100
AUDIT_OBJECT_TYPE = 64
AUDIT_OBJECT_ID = 64
HASH = 64  # a SHA-256 in hex
RECOGNITION_KEY = 200
EXCLUSIVITY_GROUP = 100
KEY_PREFIX = 32  # the lookup part of an API key, `pik_<prefix>_<secret>`
KEY_ROLE = 16
IDEMPOTENCY_KEY = 255
HTTP_METHOD = 10
REQUEST_PATH = 2048
FINDING_KEY = 64  # a key of facts.yaml `findings` (a lower-case word)
FINDING_NOTE = 2000  # what a reviewer writes with a finding
FILE_NAME = 255  # an uploaded import file's name
FILE_FORMAT = 8  # csv or xlsx

# ---------------------------------------------------------------- integers


@dataclass(frozen=True)
class IntRange:
    """The values an integer column holds, both ends included."""

    low: int
    high: int

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and self.low <= value <= self.high


INTEGER = IntRange(-(2**31), 2**31 - 1)  # SQL INTEGER (and SQLite's, which is wider)
BIGINT = IntRange(-(2**63), 2**63 - 1)

# ---------------------------------------------------------------- money: NUMERIC(18,2)

MONEY_PRECISION = 18
MONEY_SCALE = 2
# The column holds 16 digits before the point. A request carries at most 14: two
# fewer, so that sums of stored amounts (a budget's committed plus disbursed, a year's
# awards, a run's totals) stay inside the column and inside the batch engine's 64-bit
# fen however many of them are added up.
MONEY_INPUT_DIGITS = MONEY_PRECISION - MONEY_SCALE - 2
MONEY_INPUT_MAX = Decimal(10**MONEY_INPUT_DIGITS) - Decimal(1).scaleb(-MONEY_SCALE)
# The first amount the column cannot hold.
MONEY_COLUMN_LIMIT = Decimal(10) ** (MONEY_PRECISION - MONEY_SCALE)

# ---------------------------------------------------------------- timestamps

# What a timestamp column holds once converted to UTC: PostgreSQL's TIMESTAMP WITH
# TIME ZONE goes further, but a Python datetime stops at year 9999, so an instant
# whose UTC conversion leaves these years cannot even be bound to a query.
TIMESTAMP_MIN = datetime(1, 1, 1, tzinfo=UTC)
TIMESTAMP_MAX = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
