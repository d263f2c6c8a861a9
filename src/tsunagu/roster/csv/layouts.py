"""File layouts of the OneRoster CSV binding per Japan profile.

One table says, for every file Tsunagu reads and writes, its columns in the exact order of each
profile and which are required. Importer, exporter, generator and REST API all read it, so a new
profile is one edit here.

Profiles (eportal-standard.md §4.1, lti-oneroster-notes.md §3.3):

* ``v3`` 学習eポータル標準モデル Ver.3.00 = OneRoster 1.2 + Japan Profile 第2版, manifest ``1.2``;
  ``users`` still carries ``resourceSourcedIds``.
* ``v4`` Ver.4.00 / 相互運用標準モデル Ver.5.00 = OneRoster 1.2.1 + Japan Profile v1.2.1, manifest
  ``1.2.1``; ``users`` drops ``resourceSourcedIds`` and adds the kana preferred names.
* ``v6`` 相互運用標準モデル Ver.6.00 = 1EdTech Japan K-12/Schools Profile v1, manifest ``1.2_JP``;
  enrollments spell ``metadata.jp.shussekiNo`` / ``metadata.jp.publicFlg`` in lower camel case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Profile(StrEnum):
    V3 = "v3"
    V4 = "v4"
    V6 = "v6"


#: ``oneroster.version`` in manifest.csv for each profile.
MANIFEST_VERSION: dict[Profile, str] = {
    Profile.V3: "1.2",
    Profile.V4: "1.2.1",
    Profile.V6: "1.2_JP",
}
PROFILE_BY_MANIFEST_VERSION = {v: k for k, v in MANIFEST_VERSION.items()}

#: Every ``file.<name>`` a manifest may declare (OneRoster 1.2 CSV binding).
ALL_MANIFEST_FILES = (
    "academicSessions",
    "categories",
    "classes",
    "classResources",
    "courses",
    "courseResources",
    "demographics",
    "enrollments",
    "lineItemLearningObjectiveIds",
    "lineItems",
    "lineItemScoreScales",
    "orgs",
    "resources",
    "resultLearningObjectiveIds",
    "results",
    "resultScoreScales",
    "roles",
    "scoreScales",
    "userProfiles",
    "userResources",
    "users",
)

#: Files the 学習eポータル profile requires as ``bulk`` or ``delta``.
REQUIRED_FILES = ("academicSessions", "classes", "courses", "enrollments", "orgs", "roles", "users")

#: Files outside rostering (gradebook, resources): a roster package must declare them ``absent``.
OUT_OF_SCOPE_FILES = tuple(
    f for f in ALL_MANIFEST_FILES if f not in (*REQUIRED_FILES, "demographics", "userProfiles")
)

_COMMON = ("sourcedId", "status", "dateLastModified")


@dataclass(frozen=True)
class FileLayout:
    """One OneRoster CSV file: its columns per profile and what the database keeps of it."""

    name: str
    #: Columns in spec order, per profile.
    columns: dict[Profile, tuple[str, ...]]
    #: Columns that must be present in the header and non-empty in every row.
    required: frozenset[str]
    #: CSV column -> model attribute. Columns not listed here are not stored (see ``not_stored``).
    attributes: dict[str, str] = field(default_factory=dict)
    #: Columns read and validated but deliberately never stored (privacy, eportal-standard §6.3).
    not_stored: frozenset[str] = frozenset()
    #: Whether rows of this file are stored at all (demographics are validated, then dropped).
    stored: bool = True

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"

    def known_columns(self) -> set[str]:
        known: set[str] = set()
        for cols in self.columns.values():
            known.update(cols)
        return known


def _camel_to_snake(name: str) -> str:
    out = []
    for ch in name:
        if ch.isupper():
            out.append("_")
            out.append(ch.lower())
        else:
            out.append(ch)
    return "".join(out)


def _attrs(columns: tuple[str, ...], **renames: str) -> dict[str, str]:
    mapping = {}
    for col in columns:
        if col in renames:
            mapping[col] = renames[col]
        elif col.startswith("metadata.jp."):
            mapping[col] = _camel_to_snake(col.removeprefix("metadata.jp."))
        else:
            mapping[col] = _camel_to_snake(col)
    return mapping


def _same(columns: tuple[str, ...]) -> dict[Profile, tuple[str, ...]]:
    return dict.fromkeys(Profile, columns)


_ACADEMIC_SESSIONS = (
    *_COMMON,
    "title",
    "type",
    "startDate",
    "endDate",
    "parentSourcedId",
    "schoolYear",
)
_ORGS = (*_COMMON, "name", "type", "identifier", "parentSourcedId")
_COURSES = (
    *_COMMON,
    "schoolYearSourcedId",
    "title",
    "courseCode",
    "grades",
    "orgSourcedId",
    "subjects",
    "subjectCodes",
)
_CLASSES = (
    *_COMMON,
    "title",
    "grades",
    "courseSourcedId",
    "classCode",
    "classType",
    "location",
    "schoolSourcedId",
    "termSourcedIds",
    "subjects",
    "subjectCodes",
    "periods",
    "metadata.jp.specialNeeds",
)
_USERS_HEAD = (
    *_COMMON,
    "enabledUser",
    "username",
    "userIds",
    "givenName",
    "familyName",
    "middleName",
    "identifier",
    "email",
    "sms",
    "phone",
    "agentSourcedIds",
    "grades",
    "password",
    "userMasterIdentifier",
)
_USERS_TAIL = (
    "preferredGivenName",
    "preferredMiddleName",
    "preferredFamilyName",
    "primaryOrgSourcedId",
    "pronouns",
    "metadata.jp.kanaGivenName",
    "metadata.jp.kanaFamilyName",
    "metadata.jp.kanaMiddleName",
    "metadata.jp.homeClass",
)
_USERS_V3 = (*_USERS_HEAD, "resourceSourcedIds", *_USERS_TAIL)
_USERS_V4 = (
    *_USERS_HEAD,
    *_USERS_TAIL,
    "metadata.jp.kanaPreferredFamilyName",
    "metadata.jp.kanaPreferredGivenName",
    "metadata.jp.kanaPreferredMiddleName",
)
_ROLES = (
    *_COMMON,
    "userSourcedId",
    "roleType",
    "role",
    "beginDate",
    "endDate",
    "orgSourcedId",
    "userProfileSourcedId",
)
_ENROLLMENTS_BASE = (
    *_COMMON,
    "classSourcedId",
    "schoolSourcedId",
    "userSourcedId",
    "role",
    "primary",
    "beginDate",
    "endDate",
)
_ENROLLMENTS_V3 = (*_ENROLLMENTS_BASE, "metadata.jp.ShussekiNo", "metadata.jp.PublicFlg")
_ENROLLMENTS_V6 = (*_ENROLLMENTS_BASE, "metadata.jp.shussekiNo", "metadata.jp.publicFlg")
_USER_PROFILES = (
    *_COMMON,
    "userSourcedId",
    "profileType",
    "vendorId",
    "applicationId",
    "description",
    "credentialType",
    "username",
    "password",
)
_DEMOGRAPHICS = (
    *_COMMON,
    "birthDate",
    "sex",
    "americanIndianOrAlaskaNative",
    "asian",
    "blackOrAfricanAmerican",
    "nativeHawaiianOrOtherPacificIslander",
    "white",
    "demographicRaceTwoOrMoreRaces",
    "hispanicOrLatinoEthnicity",
    "countryOfBirthCode",
    "stateOfBirthAbbreviation",
    "cityOfBirth",
    "publicSchoolResidenceStatus",
)

LAYOUTS: dict[str, FileLayout] = {
    layout.name: layout
    for layout in (
        FileLayout(
            name="orgs",
            columns=_same(_ORGS),
            required=frozenset({"sourcedId", "name", "type"}),
            attributes=_attrs(_ORGS),
        ),
        FileLayout(
            name="academicSessions",
            columns=_same(_ACADEMIC_SESSIONS),
            required=frozenset(
                {"sourcedId", "title", "type", "startDate", "endDate", "schoolYear"}
            ),
            attributes=_attrs(_ACADEMIC_SESSIONS),
        ),
        FileLayout(
            name="courses",
            columns=_same(_COURSES),
            required=frozenset({"sourcedId", "title", "orgSourcedId"}),
            attributes=_attrs(_COURSES),
        ),
        FileLayout(
            name="classes",
            columns=_same(_CLASSES),
            required=frozenset(
                {
                    "sourcedId",
                    "title",
                    "courseSourcedId",
                    "classType",
                    "schoolSourcedId",
                    "termSourcedIds",
                }
            ),
            attributes=_attrs(_CLASSES),
        ),
        FileLayout(
            name="users",
            columns={Profile.V3: _USERS_V3, Profile.V4: _USERS_V4, Profile.V6: _USERS_V4},
            required=frozenset(
                {
                    "sourcedId",
                    "enabledUser",
                    "username",
                    "givenName",
                    "familyName",
                    "userMasterIdentifier",
                    "preferredGivenName",
                    "preferredFamilyName",
                    "metadata.jp.kanaGivenName",
                    "metadata.jp.kanaFamilyName",
                }
            ),
            attributes=_attrs(
                (*_USERS_V3, *_USERS_V4), **{"metadata.jp.homeClass": "home_class_sourced_id"}
            ),
            # Passwords never enter the portal: sign-in goes through the IdP or a local account
            # whose hash the portal makes itself (identity issue).
            not_stored=frozenset({"password"}),
        ),
        FileLayout(
            name="userProfiles",
            columns=_same(_USER_PROFILES),
            required=frozenset(
                {
                    "sourcedId",
                    "userSourcedId",
                    "profileType",
                    "vendorId",
                    "credentialType",
                    "username",
                }
            ),
            attributes=_attrs(_USER_PROFILES),
            not_stored=frozenset({"password"}),
        ),
        FileLayout(
            name="roles",
            columns=_same(_ROLES),
            required=frozenset({"sourcedId", "userSourcedId", "roleType", "role", "orgSourcedId"}),
            attributes=_attrs(_ROLES),
        ),
        FileLayout(
            name="demographics",
            columns=_same(_DEMOGRAPHICS),
            required=frozenset({"sourcedId"}),
            # Birth dates and the like stay in the 校務 layer (eportal-standard.md §6.3).
            stored=False,
        ),
        FileLayout(
            name="enrollments",
            columns={
                Profile.V3: _ENROLLMENTS_V3,
                Profile.V4: _ENROLLMENTS_V3,
                Profile.V6: _ENROLLMENTS_V6,
            },
            required=frozenset(
                {
                    "sourcedId",
                    "classSourcedId",
                    "schoolSourcedId",
                    "userSourcedId",
                    "role",
                    "primary",
                }
            ),
            attributes=_attrs(
                (*_ENROLLMENTS_V3, *_ENROLLMENTS_V6),
                **{
                    # "primary" is an SQL reserved word.
                    "primary": "is_primary",
                    "metadata.jp.ShussekiNo": "shusseki_no",
                    "metadata.jp.PublicFlg": "public_flg",
                },
            ),
        ),
    )
}

#: The order in which files are read and applied: every reference points to an earlier file.
FILE_ORDER = (
    "orgs",
    "academicSessions",
    "courses",
    "classes",
    "users",
    "userProfiles",
    "roles",
    "demographics",
    "enrollments",
)
