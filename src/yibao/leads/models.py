"""Stored rows of leads (filled in by the leads slice)."""

from __future__ import annotations
