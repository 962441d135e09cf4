"""Stored rows of questionnaires (filled in by the questionnaires slice)."""

from __future__ import annotations
