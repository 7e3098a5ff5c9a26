"""A matching run's results for a chunk of enterprises, column by column, as stored.

The batch engine's arrays become these columns without an object per answer; the
repository writes them as one ``COPY`` buffer on PostgreSQL (``copy_text``) and as
ordinary rows elsewhere (``mappings``). Missing facts travel as the engine's codes
(``app.db.missing_codes``) with the paths each policy's codes stand for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt

#: ``status`` codes, as the batch engine numbers them (0, ineligible, is never stored).
STATUSES = ("ineligible", "eligible", "undetermined")
#: ``fen`` of a result without an amount, and of one kept in ``big`` (beyond int64).
NO_AMOUNT, BIG_AMOUNT = -1, -2


@dataclass
class ResultRows:
    """Results in the order they are stored (by enterprise, then policy).

    ``enterprise`` indexes ``ids`` and ``policy`` indexes ``policy_ids``; ``code`` is
    meaningful where ``coded`` is set (undetermined answers of a policy with paths).
    ``big`` and ``names`` hold the rare values the arrays cannot: amounts beyond int64
    fen as exact text, and the names of answers no code reproduces, by position.
    """

    ids: Sequence[str]
    policy_ids: Sequence[str]
    enterprise: npt.NDArray[np.intp]
    policy: npt.NDArray[np.intp]
    status: npt.NDArray[np.int8]
    fen: npt.NDArray[np.int64]
    code: npt.NDArray[np.int64]
    coded: npt.NDArray[np.bool_]
    big: dict[int, str] = field(default_factory=dict)
    names: dict[int, dict[str, list[str]]] = field(default_factory=dict)
    #: Per policy, the paths its codes' bits stand for.
    paths: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.status)


def copy_text(run_number: int, rows: ResultRows) -> str:
    """The rows in ``COPY``'s text format for the columns of ``COPY_COLUMNS``."""
    null = "\\N"
    # Every (policy, status) pair's middle of the line, made once.
    middle = [f"\t{pid}\t{status}\t" for pid in rows.policy_ids for status in STATUSES]
    fens = rows.fen.tolist()
    amounts = [null if f < 0 else f"{f // 100}.{f % 100:02d}" for f in fens]
    for at, text in rows.big.items():
        amounts[at] = text
    codes = [
        str(c) if coded else null
        for c, coded in zip(rows.code.tolist(), rows.coded.tolist(), strict=True)
    ]
    tail = [null] * len(rows)
    for at, names in rows.names.items():
        tail[at] = _escaped(json.dumps(names))
    ids = rows.ids
    head = f"{run_number}\t"
    which = (rows.policy * 3 + rows.status).tolist()
    return "".join(
        [
            f"{head}{ids[e]}{middle[m]}{a}\t{c}\t{t}\n"
            for e, m, a, c, t in zip(
                rows.enterprise.tolist(), which, amounts, codes, tail, strict=True
            )
        ]
    )


COPY_COLUMNS = (
    "run_number",
    "enterprise_id",
    "policy_id",
    "status",
    "amount",
    "missing_code",
    "missing_facts",
)


def mappings(run_number: int, rows: ResultRows, after_id: int) -> list[dict[str, Any]]:
    """The rows as ``insert`` parameters (databases without ``COPY``), their ids
    following ``after_id``."""
    out = []
    for at, (e, p, s, f, c, coded) in enumerate(
        zip(
            rows.enterprise.tolist(),
            rows.policy.tolist(),
            rows.status.tolist(),
            rows.fen.tolist(),
            rows.code.tolist(),
            rows.coded.tolist(),
            strict=True,
        )
    ):
        if f == BIG_AMOUNT:
            amount: Decimal | None = Decimal(rows.big[at])
        else:
            amount = None if f == NO_AMOUNT else Decimal(f).scaleb(-2)
        out.append(
            {
                "run_number": run_number,
                "id": after_id + at + 1,
                "enterprise_id": rows.ids[e],
                "policy_id": rows.policy_ids[p],
                "status": STATUSES[s],
                "amount": amount,
                "missing_code": c if coded else None,
                "missing_facts": rows.names.get(at),
            }
        )
    return out


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
