"""Stored rows of attachments (filled in by the attachments slice)."""

from __future__ import annotations
