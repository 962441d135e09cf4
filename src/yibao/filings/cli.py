"""`yibao filings …`: the daily expiry job and exports of the registry."""

from __future__ import annotations

import typer

app = typer.Typer(help="异地就医备案: the filing registry.", no_args_is_help=True)
