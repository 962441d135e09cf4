"""JSON adapters of ratings under /api/v1/ratings."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/ratings", tags=["ratings"])
