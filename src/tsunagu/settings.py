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
    worker_threads: int = Field(
        default=8,
        ge=1,
        le=200,
        description=(
            "Threads per server process for handlers that query the database (FastAPI runs them "
            "in a thread pool; the database pool keeps as many connections). On a CPU-bound "
            "page, threads beyond a few per core add lock and database contention, not "
            "throughput (docs/portal-benchmark.md). The learner home and the OIDC token "
            "exchange run on the event loop and hold no thread."
        ),
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
    assets_dir: Path = Field(
        default=Path(__file__).resolve().parents[2] / "node_modules",
        description=(
            "Folder of the browser libraries the portal serves itself (htmx), installed from the "
            "npm registry by `make assets`; never fetched from a CDN at run time."
        ),
    )
    portal_timezone: str = Field(
        default="Asia/Tokyo",
        description="Time zone of the schools: what 'today' means on the timetable and notices.",
    )
    portal_home_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description=(
            "How long a server process reuses what a class's learners all see on their home "
            "(timetable with materials, tools, the school's notices); 0 turns the cache off. A "
            "change made through this process shows at once, and with Redis one made through "
            "any serving process too; otherwise (another process without Redis, a command-line "
            "import) it shows within this time."
        ),
    )
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
    lrs_profile_namespace: Literal["japan-xapi", "xapi-japan-profiles"] = Field(
        default="japan-xapi",
        description=(
            "Which IRI generation of the Japan xAPI profiles the portal writes in its own "
            "statements: 'japan-xapi' (Feb 2026 drafts, https://w3id.org/japan-xapi/...) or "
            "'xapi-japan-profiles' (May 2026 revision). Both are recognised when matching."
        ),
    )
    lrs_group_commit: bool = Field(
        default=True,
        description=(
            "xAPI statement writes of up to 10 statements that arrive together in one server "
            "process share one transaction and one COMMIT (each request is still answered "
            "only after its statements are committed, and stays all or nothing on its own). "
            "Off: one transaction per request."
        ),
    )
    lrs_max_body_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Largest xAPI request body accepted (larger ones get 413).",
    )

    redis_url: str = Field(
        default="",
        description=(
            "Redis URL (redis://host:6379/0). When set, sessions and sign-in rate limits live "
            "there, so several app processes share them; empty means the database and memory."
        ),
    )
    redis_key_prefix: str = Field(
        default="tsunagu", description="Prefix of every Redis key (several portals, one Redis)."
    )
    session_cookie_name: str = Field(default="tsunagu_session")
    session_idle_timeout_seconds: int = Field(
        default=60 * 60,
        ge=60,
        description="A session unused this long ends (one school period plus a break).",
    )
    session_absolute_timeout_seconds: int = Field(
        default=12 * 60 * 60,
        ge=300,
        description="A session ends this long after sign-in, however busy it is.",
    )
    session_purge_interval_seconds: int = Field(
        default=15 * 60,
        ge=0,
        description=(
            "Sessions kept in the database (no Redis): each server process deletes ended ones "
            "this often (0: never; 'tsunagu session purge' does it by hand)."
        ),
    )
    session_principal_refresh_seconds: int = Field(
        default=60,
        ge=0,
        description=(
            "How long a session trusts its cached roles before rebuilding them from the roster "
            "(so a withdrawn pupil or a moved teacher loses access within this time)."
        ),
    )
    signin_ip_rate_limit: str = Field(
        default="600/minute",
        description=(
            "Sign-in attempts per client address (limits notation). Generous on purpose: a "
            "whole school signs in from behind one address at the first bell."
        ),
    )
    signin_failure_limit: str = Field(
        default="10/15 minutes",
        description=(
            "Failed sign-ins per account (or per card) before it is locked for the rest of the "
            "window (limits notation)."
        ),
    )
    password_min_length: int = Field(default=10, ge=8)
    totp_required_for_admins: bool = Field(
        default=True,
        description="School, board and deployment administrators confirm sign-in with TOTP.",
    )
    oidc_jwks_cache_seconds: int = Field(default=3600, ge=0)
    oidc_http_timeout_seconds: float = Field(default=10.0, gt=0)
    lti_platform_name: str = Field(
        default="つなぐ学習eポータル",
        description="The portal name in the LTI tool_platform claim and xAPI context.platform.",
    )
    lti_id_token_lifetime_seconds: int = Field(
        default=300,
        ge=30,
        le=600,
        description="Lifetime of LTI id_tokens (tools reject tokens older than about 10 minutes).",
    )
    lti_access_token_lifetime_seconds: int = Field(
        default=600,
        ge=60,
        le=3600,
        description="Lifetime of the access tokens tools get for NRPS and AGS (short on purpose).",
    )
    lti_key_publish_lead_seconds: int = Field(
        default=3600,
        ge=0,
        description=(
            "How long a new platform key must have been published in the JWKS before rotation "
            "lets it sign (tools cache JWKS)."
        ),
    )
    lti_nrps_page_size: int = Field(
        default=100,
        ge=1,
        le=1000,
        description="Members per NRPS page when the tool gives no limit.",
    )

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'tsunagu.sqlite3').resolve()}"

    @property
    def is_https(self) -> bool:
        return self.base_url.lower().startswith("https://")

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
