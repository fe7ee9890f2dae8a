"""The one settings object of a fairgate deployment (``FAIRGATE_*`` environment variables)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, field_validator

from consent.settings import ConsentSettings


class Settings(ConsentSettings):
    """Catalog settings on top of the consent registry's own."""

    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the catalog store; default sqlite:///<data_dir>/catalog.db"
    )
    guid_prefix: str = Field(default="dg.TW01", description="GUID prefix of this deployment, like Gen3's dg.XXXX")
    base_url: str = Field(default="http://127.0.0.1:8000", description="public URL, used in IRIs we publish")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    search_backend: str = Field(
        default="embedded", description="'embedded' (tantivy), 'sqlite' (FTS5) or 'elasticsearch'"
    )
    search_index_path: str | None = Field(default=None, description="embedded index location")
    elasticsearch_url: str | None = None
    elasticsearch_index: str = "fairgate-datasets"
    session_idle_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="a signed-in browser is signed out after this much inactivity"
    )
    session_secret: str | None = Field(
        default=None, description="key that signs session cookies; default a file <data_dir>/keys/session.key"
    )
    session_key_file: str | None = Field(default=None, description="where the session key lives (0600)")
    allow_registration: bool = Field(default=True, description="researchers may create their own accounts")
    harvest_scheduler_seconds: int = Field(
        default=30, ge=0, description="how often each server process looks for scheduled harvests due (0: off)"
    )
    access_expiry_seconds: int = Field(
        default=3600, ge=0, description="how often each server process records expired access applications (0: off)"
    )
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, ge=1024, description="largest accepted upload")
    catalog_title_en: str = "fairgate health data catalog"
    catalog_title_zh: str = "fairgate 健康資料目錄"
    oai_admin_email: str = Field(default="catalog-admin@localhost", description="adminEmail of OAI-PMH Identify")

    @field_validator("guid_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        v = v.strip().strip("/")
        if not v or "/" in v or " " in v:
            raise ValueError("FAIRGATE_GUID_PREFIX must be one path segment such as 'dg.TW01'")
        return v

    @field_validator("base_url")
    @classmethod
    def _base(cls, v: str) -> str:
        return v.rstrip("/")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'catalog.db').as_posix()}"

    def resolved_session_key_file(self) -> str:
        return self.session_key_file or (self.data_dir / "keys" / "session.key").as_posix()

    def resolved_search_index_path(self) -> str:
        return self.search_index_path or (self.data_dir / "search").as_posix()


@lru_cache
def get_settings() -> Settings:
    return Settings()
