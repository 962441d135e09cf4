"""HTML pages of questionnaires."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
