"""Stored rows of disputes (filled in by the disputes slice)."""

from __future__ import annotations
