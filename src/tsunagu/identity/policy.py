"""Every permission decision, in one place. Handlers ask; they never look at roles themselves.

The rules (issue 4 §3): nobody crosses tenants; a student sees only themself; a teacher sees the
classes they teach and the people in them; a school administrator (``principal`` /
``siteAdministrator``) sees and administers their schools; a board administrator
(``districtAdministrator``) and the deployment operator administer their tenant. Functions are
pure: they take the principal and small descriptions of the thing asked about.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tsunagu.identity.principal import PortalRole, Principal


@dataclass(frozen=True)
class ClassRef:
    tenant_id: int
    sourced_id: str
    school_sourced_id: str


@dataclass(frozen=True)
class UserRef:
    tenant_id: int
    sourced_id: str
    #: Schools where the person has a role or an enrollment.
    school_sourced_ids: frozenset[str] = field(default_factory=frozenset)
    #: Classes the person attends (as a student).
    class_sourced_ids: frozenset[str] = field(default_factory=frozenset)


def _same_tenant(principal: Principal, tenant_id: int) -> bool:
    return principal.tenant_id == tenant_id


def is_tenant_admin(principal: Principal) -> bool:
    return principal.has(PortalRole.BOARD_ADMIN) or principal.has(PortalRole.OPERATOR)


def can_administer_tenant(principal: Principal, tenant_id: int) -> bool:
    return _same_tenant(principal, tenant_id) and is_tenant_admin(principal)


def can_administer_school(principal: Principal, tenant_id: int, school_sourced_id: str) -> bool:
    if not _same_tenant(principal, tenant_id):
        return False
    if is_tenant_admin(principal):
        return True
    return (
        principal.has(PortalRole.SCHOOL_ADMIN) and school_sourced_id in principal.school_sourced_ids
    )


def can_view_class(principal: Principal, klass: ClassRef) -> bool:
    """See a class exists and its page (members see their own class)."""
    if not _same_tenant(principal, klass.tenant_id):
        return False
    if can_administer_school(principal, klass.tenant_id, klass.school_sourced_id):
        return True
    return klass.sourced_id in principal.classes_taught() | principal.classes_attended()


def can_view_class_roster(principal: Principal, klass: ClassRef) -> bool:
    """See who is in a class: its teachers and the administrators above it, not its pupils."""
    if not _same_tenant(principal, klass.tenant_id):
        return False
    if can_administer_school(principal, klass.tenant_id, klass.school_sourced_id):
        return True
    return klass.sourced_id in principal.classes_taught()


def can_issue_sign_in_cards(principal: Principal, klass: ClassRef) -> bool:
    return can_view_class_roster(principal, klass)


def can_view_user(principal: Principal, user: UserRef) -> bool:
    if not _same_tenant(principal, user.tenant_id):
        return False
    if user.sourced_id == principal.user_sourced_id:
        return True
    if is_tenant_admin(principal):
        return True
    if principal.has(PortalRole.SCHOOL_ADMIN) and (
        user.school_sourced_ids & principal.school_sourced_ids
    ):
        return True
    return bool(principal.classes_taught() & user.class_sourced_ids)


def can_read_audit_log(principal: Principal, tenant_id: int) -> bool:
    return can_administer_tenant(principal, tenant_id)


# --- the administrators' console (tools, sign-in settings, cards, users) ---------------------
#
# Decisions (issue 6, "Administrators"):
# - The console opens for school and board administrators and operators.
# - Approving or rejecting a Dynamic Registration, and deploying a tool to the whole tenant
#   (``B_`` deployment), is the board's decision: approval grants a vendor the data scopes it
#   asked for across every school, so only tenant administrators make it.
# - A school administrator may deploy an *already approved* tool to their own schools (``S_``
#   deployment) and undeploy it there: a school choosing from the board's catalogue changes no
#   vendor's access beyond that school. They see deployments and launch figures of their schools
#   only.
# - Sign-in settings (identity providers) apply to the whole tenant: tenant administrators only.
# - Credentials (password, TOTP, QR cards) of a person: tenant administrators for anyone in the
#   tenant; a school administrator for people of their schools who hold no administrator role
#   (resetting a fellow administrator's second factor is the board's call, never a peer's).


def can_review_tool_registrations(principal: Principal, tenant_id: int) -> bool:
    """Approve or reject a pending LTI Dynamic Registration aimed at this tenant."""
    return can_administer_tenant(principal, tenant_id)


def can_deploy_tool(principal: Principal, tenant_id: int, school_sourced_id: str | None) -> bool:
    """Deploy or undeploy a tool: to the tenant (``None``) or to one school of it."""
    if school_sourced_id is None:
        return can_administer_tenant(principal, tenant_id)
    return can_administer_school(principal, tenant_id, school_sourced_id)


def can_view_launch_statistics(
    principal: Principal, tenant_id: int, school_sourced_id: str
) -> bool:
    return can_administer_school(principal, tenant_id, school_sourced_id)


def can_manage_sign_in_settings(principal: Principal, tenant_id: int) -> bool:
    return can_administer_tenant(principal, tenant_id)


def can_manage_credentials(principal: Principal, user: UserRef, *, target_is_admin: bool) -> bool:
    """Reset a password or TOTP, revoke or reissue a QR card of ``user``."""
    if not _same_tenant(principal, user.tenant_id):
        return False
    if is_tenant_admin(principal):
        return True
    if target_is_admin or not principal.has(PortalRole.SCHOOL_ADMIN):
        return False
    return any(
        can_administer_school(principal, user.tenant_id, school)
        for school in user.school_sourced_ids
    )


# --- the portal window: timetables, notices, the console ----------------------------------------


def is_staff(principal: Principal) -> bool:
    """Teachers and administrators: the teachers' pages (classes, notices)."""
    return any(
        principal.has(role)
        for role in (
            PortalRole.TEACHER,
            PortalRole.SCHOOL_ADMIN,
            PortalRole.BOARD_ADMIN,
            PortalRole.OPERATOR,
        )
    )


def can_open_admin(principal: Principal) -> bool:
    """The administrators' console (each page then asks its own question)."""
    return is_tenant_admin(principal) or principal.has(PortalRole.SCHOOL_ADMIN)


def can_edit_timetable(principal: Principal, klass: ClassRef) -> bool:
    """A teacher edits only the classes they teach (periods, the materials placed on them); a
    school's administrators edit all of its classes."""
    return can_view_class_roster(principal, klass)


def can_post_notice(
    principal: Principal,
    tenant_id: int,
    audience: str,
    school_sourced_id: str,
    class_sourced_id: str | None,
) -> bool:
    """To a class: its teachers. To a grade or the whole school: staff who hold a role there."""
    if not _same_tenant(principal, tenant_id):
        return False
    if can_administer_school(principal, tenant_id, school_sourced_id):
        return True
    if audience == "class":
        return class_sourced_id is not None and class_sourced_id in principal.classes_taught()
    return principal.has(PortalRole.TEACHER) and school_sourced_id in principal.school_sourced_ids


def can_withdraw_notice(
    principal: Principal, tenant_id: int, author_sourced_id: str, school_sourced_id: str
) -> bool:
    """Its author, or an administrator of its school."""
    if not _same_tenant(principal, tenant_id):
        return False
    return author_sourced_id == principal.user_sourced_id or can_administer_school(
        principal, tenant_id, school_sourced_id
    )


def can_import_roster(principal: Principal, tenant_id: int) -> bool:
    """A roster import replaces the whole board's roster: the board's administrators only."""
    return can_administer_tenant(principal, tenant_id)


def can_view_integrations(principal: Principal, tenant_id: int) -> bool:
    """LRS credentials and OAuth clients of the tenant (names and dates, never secrets)."""
    return can_administer_tenant(principal, tenant_id)
