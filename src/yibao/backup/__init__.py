"""Backups of a node's database and their restore: SQLite's online backup API, pg_dump/pg_restore.

``service.py`` picks the backend from the URL and says what was written or restored;
``sqlite.py`` and ``postgres.py`` do the work; ``cli.py`` is ``yibao backup`` and
``yibao restore``. The data keys and the audit signing key are never in a backup
(docs/reliability.md).
"""
