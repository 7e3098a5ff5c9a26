"""The baseline for bench/api.py: a bare FastAPI endpoint answering with a body of the
same size as the calculator's answer, doing no work of its own."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

app = FastAPI()
BODY = Path(os.environ["BARE_BODY_FILE"]).read_bytes()


@app.post("/v1/eligibility")
async def bare(request: Request) -> Any:
    await request.body()
    return Response(BODY, media_type="application/json")
