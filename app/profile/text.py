"""The request types of text a person writes, checked by ``app.domain.human_text``.

``HumanText`` is one line (names, who raised an objection, labels); ``HumanProse`` may
hold line breaks (reasons, objections), which it stores as ``\n``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from app.domain.human_text import paragraphs, paragraphs_problem, text_problem


def _human_text(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def _human_prose(value: str) -> str:
    problem = paragraphs_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return paragraphs(value)


HumanText = Annotated[str, AfterValidator(_human_text)]
HumanProse = Annotated[str, AfterValidator(_human_prose)]
