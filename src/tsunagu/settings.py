"""All of Tsunagu's settings, in one place.

Every setting can be given as an environment variable with the prefix ``TSUNAGU_``
(``TSUNAGU_DATABASE_URL``, ``TSUNAGU_BASE_URL`` …) or in a ``.env`` file.
"""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TSUNAGU_", env_file=".env", extra="ignore")

    var_dir: Path = Field(
        default=Path("var"),
        description="Folder for the embedded database, the generated secret key and other state.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL. Empty means an embedded SQLite file under var_dir.",
    )
    base_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Public URL of this portal: the LTI issuer and the xAPI account homePage.",
    )
    secret_key: str = Field(
        default="",
        description=(
            "Key for keyed hashes of machine credentials and for signed values. Empty means a key "
            "generated once and kept in var_dir/secret_key (fine for one machine, not for a "
            "cluster of app servers, which must share one key)."
        ),
    )
    oauth_token_lifetime_seconds: int = Field(default=3600, ge=60, le=86400)
    roster_max_problems_per_rule: int = Field(
        default=1000,
        ge=1,
        description="How many problems of one rule an import report lists before it only counts.",
    )
    roster_mass_deactivation_ratio: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description=(
            "A bulk import that would deactivate more than this share of a tenant's active users "
            "is refused unless the operator allows it: a half-exported file must not empty a city."
        ),
    )

    lrs_default_limit: int = Field(
        default=100, ge=1, description="Statements per page when an xAPI query gives no limit."
    )
    lrs_max_limit: int = Field(
        default=1000, ge=1, description="Most statements one xAPI query page returns."
    )
    lrs_unversioned_response_version: Literal["1.0.3", "2.0.0"] = Field(
        default="1.0.3",
        description=(
            "X-Experience-API-Version of answers to requests that sent no usable version header "
            "(the ADL 1.0.3 suite wants 1.0.3 here, the 2.0.0 suite 2.0.0)."
        ),
    )
    lrs_partition_months_ahead: int = Field(
        default=3,
        ge=0,
        le=24,
        description=(
            "PostgreSQL: monthly statement partitions made ahead at startup and by "
            "'tsunagu lrs partitions ensure' (the write path also makes a missing one)."
        ),
    )
    lrs_max_body_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Largest xAPI request body accepted (larger ones get 413).",
    )

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'tsunagu.sqlite3').resolve()}"

    @cached_property
    def resolved_secret_key(self) -> bytes:
        if self.secret_key:
            return self.secret_key.encode()
        key_file = self.var_dir / "secret_key"
        if not key_file.exists():
            self.var_dir.mkdir(parents=True, exist_ok=True)
            key_file.write_text(secrets.token_urlsafe(48))
            key_file.chmod(0o600)
        return key_file.read_text().strip().encode()
