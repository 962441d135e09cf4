"""JSON adapters of filings under /api/v1/filings."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/filings", tags=["filings"])
