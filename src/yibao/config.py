"""Settings read from the environment (prefix ``YIBAO_``)."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import ip_network
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Node configuration; every field can be set as ``YIBAO_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="YIBAO_", extra="ignore")

    data_dir: Path = Field(default=Path("var"))
    database_url: str = ""
    secret_key: str = "dev-insecure-change-me"
    agency: str = "500118"
    token_ttl_seconds: int = 8 * 3600
    # Login throttling: this many wrong passwords in a row lock the account.
    lockout_threshold: int = 5
    lockout_minutes: int = 15
    max_body_bytes: int = 256 * 1024
    # Public status lookup: requests per client address per minute.
    public_rate_per_minute: int = 30
    # Sign-in attempts per client address per minute (whatever the account: password spraying).
    login_rate_per_minute: int = 20
    # Reverse proxies whose X-Forwarded-For is believed (comma-separated addresses or CIDR
    # networks); from any other peer the header is ignored, so it cannot dodge the limits.
    trusted_proxies: str = ""
    # Browser sessions end after this long without a request, and after this long in all.
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    # The address citizens reach this node at (for the QR codes on printed receipts); empty:
    # the address of the request that printed it.
    public_url: str = ""
    # Cross-region transfers: the peers file (docs/federation.md); empty: no federation.
    peers_file: str = ""
    # Run the outbox relay in the server process (turn off to run it elsewhere, or in tests).
    relay: bool = True
    # Fixed "today" for demos (YYYY-MM-DD); empty means the real clock.
    today: str = ""
    # 好差评: working days a bad rating's rectification task is given (谁办理、谁负责).
    rating_rectify_days: int = 5

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                try:
                    ip_network(part.strip(), strict=False)
                except ValueError:
                    raise ValueError(f"not an address or CIDR network: {part.strip()!r}") from None
        return value

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to an SQLite file in the data directory."""
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.data_dir / 'yibao.sqlite3').resolve()}"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return Settings()
