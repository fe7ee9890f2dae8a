"""Settings the consent registry owns (``FAIRGATE_*`` environment variables).

The catalog's :class:`catalog.settings.Settings` extends this class, so a deployment has
one settings object while ``consent`` never imports ``catalog``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FAIRGATE_", env_file=None, extra="ignore")

    data_dir: Path = Field(default=Path("var"), description="where the embedded databases and keys live")
    consent_database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the consent registry; default sqlite:///<data_dir>/consent.db",
    )
    pseudonym_key_file: Path | None = Field(
        default=None, description="HMAC key for pseudonyms; default <data_dir>/keys/pseudonym.key (0600)"
    )
    checkpoint_key_file: Path | None = Field(
        default=None,
        description="Ed25519 key that signs ledger checkpoints; default <data_dir>/keys/checkpoint.key (0600)",
    )
    checkpoint_every_events: int = Field(
        default=10_000, ge=0, description="make a checkpoint once this many events are uncovered (0: off)"
    )
    checkpoint_every_minutes: float = Field(
        default=10.0, ge=0, description="make a checkpoint when uncovered events are this old (0: off)"
    )
    steward_token: str | None = Field(
        default=None, description="bearer token for steward routes; with none set those routes are off (503)"
    )
    notice_period_days: int = Field(default=30, ge=0, description="days a category C notice must age")
    undelivered_notice_denies: bool = Field(default=True, description="an undelivered C notice excludes")
    deceased_permits: bool = Field(default=True, description="deceased subjects stay included")
    release_memory_limit: str = Field(
        default="2GB",
        pattern=r"^[0-9]+(\.[0-9]+)?\s*(KB|MB|GB|KiB|MiB|GiB)$",
        description="DuckDB's memory budget while a release is decided (it spills to disk beyond it), e.g. 2GB",
    )

    portal_code_valid_days: int = Field(default=90, ge=1, description="days a letter's access code can sign in")
    portal_max_failures: int = Field(
        default=20, ge=1, description="failed portal sign-ins that lock the national id typed (known or not)"
    )
    portal_max_failures_per_client: int = Field(
        default=200, ge=1, description="failed portal sign-ins that lock a client address"
    )
    portal_lock_minutes: int = Field(default=1440, ge=1, description="how long a portal lock lasts")
    portal_idle_minutes: int = Field(default=15, ge=1, description="portal sessions end after this much inactivity")

    guid_prefix: str = Field(
        default="dg.TW01", description="GUID prefix for releases (the catalog's Settings uses the same)"
    )
    consent_controller: str = Field(
        default="fairgate data programme coordinating office",
        description="the controller named on consent receipts",
    )
    consent_controller_contact: str = Field(
        default="steward@example.org", description="controller contact on consent receipts"
    )
    consent_jurisdiction: str = Field(default="TW", description="jurisdiction on consent receipts")
    withdrawal_method: str = Field(
        default="portal, or a signed form mailed to the institution's data steward",
        description="how a subject withdraws, printed on consent receipts",
    )

    def resolved_consent_database_url(self) -> str:
        if self.consent_database_url:
            return self.consent_database_url
        return f"sqlite:///{(self.data_dir / 'consent.db').as_posix()}"

    def resolved_pseudonym_key_file(self) -> Path:
        return self.pseudonym_key_file or self.data_dir / "keys" / "pseudonym.key"

    def resolved_checkpoint_key_file(self) -> Path:
        return self.checkpoint_key_file or self.data_dir / "keys" / "checkpoint.key"
