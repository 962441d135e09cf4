"""Stored rows of inspections (filled in by the inspections slice)."""

from __future__ import annotations
