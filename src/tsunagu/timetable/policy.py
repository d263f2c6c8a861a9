"""Every permission decision the portal's pages and the timetable make, in one place.

The identity domain is building ``tsunagu.identity.policy`` (every permission decision of the
portal); these functions move there unchanged when it lands. Callers pass a principal and the
facts about the object (its school, its class), never a session: a decision is a pure function.
"""

from __future__ import annotations

from tsunagu.identity.principal import PortalRole, Principal


def is_board_admin(principal: Principal) -> bool:
    return principal.has(PortalRole.BOARD_ADMIN) or principal.has(PortalRole.OPERATOR)


def administers_school(principal: Principal, school_sourced_id: str) -> bool:
    if is_board_admin(principal):
        return True
    return (
        principal.has(PortalRole.SCHOOL_ADMIN) and school_sourced_id in principal.school_sourced_ids
    )


def can_view_class(principal: Principal, class_sourced_id: str, school_sourced_id: str) -> bool:
    """Roster, timetable and activity of a class: its teachers and its school's administrators."""
    return class_sourced_id in principal.classes_taught() or administers_school(
        principal, school_sourced_id
    )


def can_edit_timetable(principal: Principal, class_sourced_id: str, school_sourced_id: str) -> bool:
    """A teacher edits only the classes they teach; a school's administrators edit all of them."""
    return can_view_class(principal, class_sourced_id, school_sourced_id)


def can_post_notice(
    principal: Principal, audience: str, school_sourced_id: str, class_sourced_id: str | None
) -> bool:
    """To a class: its teachers. To a grade or the whole school: staff who hold a role there."""
    if administers_school(principal, school_sourced_id):
        return True
    if audience == "class":
        return class_sourced_id is not None and class_sourced_id in principal.classes_taught()
    return principal.has(PortalRole.TEACHER) and school_sourced_id in principal.school_sourced_ids


def is_staff(principal: Principal) -> bool:
    return any(
        principal.has(role)
        for role in (
            PortalRole.TEACHER,
            PortalRole.SCHOOL_ADMIN,
            PortalRole.BOARD_ADMIN,
            PortalRole.OPERATOR,
        )
    )


def can_import_roster(principal: Principal) -> bool:
    """A roster import replaces the whole board's roster: the board's administrators only."""
    return is_board_admin(principal)


def can_view_integrations(principal: Principal) -> bool:
    """LRS credentials and OAuth clients of the tenant (names and dates, never secrets)."""
    return is_board_admin(principal)


def can_open_admin(principal: Principal) -> bool:
    return is_board_admin(principal) or principal.has(PortalRole.SCHOOL_ADMIN)
