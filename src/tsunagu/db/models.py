"""Import every domain's models so the metadata is complete (Alembic, tests)."""

from tsunagu.oauth import models as oauth_models
from tsunagu.roster import models as roster_models
from tsunagu.tenancy import models as tenancy_models

__all__ = ["oauth_models", "roster_models", "tenancy_models"]
