"""Stored rows of ratings (filled in by the ratings slice)."""

from __future__ import annotations
