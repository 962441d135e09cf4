"""Settings read from the environment (prefix ``YIBAO_``)."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import ip_network
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The key a fresh checkout runs with; `yibao serve` refuses it (and any short key).
DEFAULT_SECRET_KEY = "dev-insecure-change-me"
MIN_SECRET_LENGTH = 32


def weak_secret(key: str) -> bool:
    """Whether ``key`` is the built-in default or too short to sign sessions and tokens."""
    return key == DEFAULT_SECRET_KEY or len(key) < MIN_SECRET_LENGTH


class Settings(BaseSettings):
    """Node configuration; every field can be set as ``YIBAO_<NAME>``."""

    # Errors name the variable, never echo its value (keys and secrets).
    model_config = SettingsConfigDict(
        env_prefix="YIBAO_", extra="ignore", hide_input_in_errors=True
    )

    data_dir: Path = Field(default=Path("var"))
    database_url: str = ""
    secret_key: str = DEFAULT_SECRET_KEY
    agency: str = "500118"
    token_ttl_seconds: int = 8 * 3600
    # Roles that must sign in with a second factor (TOTP) until an admin chooses otherwise on
    # the sign-in policy page (comma-separated role names; empty: none).
    mfa_required_roles: str = "bureau_officer,supervisor,auditor,admin"
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
    # Audit chain: a signed checkpoint of the head this often when it moved (0: never), and
    # the days records are kept at least (the database refuses to remove younger ones).
    audit_checkpoint_minutes: float = 60
    audit_retention_days: int = Field(default=184, ge=1)
    # Data keys sealing ID and phone numbers at rest (docs/sealing.md): "kid:base64,...,
    # index:base64" (the first data key is current), or a key file; neither: a key file made
    # in the data directory on first use.
    data_key: str = Field(default="", repr=False)
    data_key_file: str = ""

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

    @field_validator("data_key")
    @classmethod
    def _data_key(cls, value: str) -> str:
        if value.strip():
            from yibao.sealing.keys import parse_env

            parse_env(value)  # KeyConfigError (a ValueError) names YIBAO_DATA_KEY
        return value.strip()

    @field_validator("data_key_file")
    @classmethod
    def _data_key_file(cls, value: str) -> str:
        if value.strip():
            from yibao.sealing.keys import read_file

            read_file(Path(value.strip()).expanduser(), f"YIBAO_DATA_KEY_FILE ({value.strip()})")
        return value.strip()

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        value = value.strip()
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"not an http:// or https:// address: {value!r}")
        return value.rstrip("/")

    @property
    def https(self) -> bool:
        """Whether citizens and staff reach this node over TLS (YIBAO_PUBLIC_URL is https)."""
        return self.public_url.lower().startswith("https://")

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
