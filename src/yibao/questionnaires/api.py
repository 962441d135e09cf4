"""JSON adapters of questionnaires under /api/v1/questionnaires."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/questionnaires", tags=["questionnaires"])
