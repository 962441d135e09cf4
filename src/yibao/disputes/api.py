"""JSON adapters of disputes under /api/v1/disputes."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/disputes", tags=["disputes"])
