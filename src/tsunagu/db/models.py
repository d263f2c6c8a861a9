"""Import every domain's models so the metadata is complete (Alembic, tests)."""

from tsunagu.audit import models as audit_models
from tsunagu.identity import models as identity_models
from tsunagu.lrs import models as lrs_models
from tsunagu.lti import models as lti_models
from tsunagu.oauth import models as oauth_models
from tsunagu.roster import models as roster_models
from tsunagu.tenancy import models as tenancy_models
from tsunagu.timetable import models as timetable_models

__all__ = [
    "audit_models",
    "identity_models",
    "lrs_models",
    "lti_models",
    "oauth_models",
    "roster_models",
    "tenancy_models",
    "timetable_models",
]
