"""JSON adapters of leads under /api/v1/leads."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])
