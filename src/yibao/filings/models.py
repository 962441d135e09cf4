"""Stored rows of filings (filled in by the filings slice)."""

from __future__ import annotations
