"""The policy module's rules on hand-made principals (the HTTP tests cross the same lines)."""

from __future__ import annotations

from tsunagu.identity import policy
from tsunagu.identity.policy import ClassRef, UserRef
from tsunagu.identity.principal import ClassMembership, PortalRole, Principal


def person(
    roles: set[PortalRole],
    *,
    tenant_id: int = 1,
    schools: frozenset[str] = frozenset(),
    memberships: tuple[ClassMembership, ...] = (),
    sourced_id: str = "me",
) -> Principal:
    return Principal(
        tenant_id=tenant_id,
        tenant_code=f"13101{tenant_id}",
        user_sourced_id=sourced_id,
        user_master_identifier="0b0b0b0b-0000-4000-8000-000000000000",
        display_name="",
        kana_name="",
        grades=(),
        roles=frozenset(roles),
        school_sourced_ids=schools,
        memberships=memberships,
    )


CLASS_A = ClassRef(1, "class-a", "school-1")
CLASS_B = ClassRef(1, "class-b", "school-2")
OTHER_TENANT_CLASS = ClassRef(2, "class-a", "school-1")


def test_teacher_and_student() -> None:
    teacher = person(
        {PortalRole.TEACHER},
        schools=frozenset({"school-1"}),
        memberships=(ClassMembership("class-a", "school-1", "teacher"),),
    )
    pupil = person(
        {PortalRole.STUDENT}, memberships=(ClassMembership("class-a", "school-1", "student"),)
    )
    assert policy.can_view_class_roster(teacher, CLASS_A)
    assert not policy.can_view_class_roster(teacher, CLASS_B)
    assert not policy.can_view_class_roster(teacher, OTHER_TENANT_CLASS)
    assert policy.can_view_class(pupil, CLASS_A)
    assert not policy.can_view_class_roster(pupil, CLASS_A)
    classmate = UserRef(1, "classmate", frozenset({"school-1"}), frozenset({"class-a"}))
    assert policy.can_view_user(teacher, classmate)
    assert not policy.can_view_user(pupil, classmate)
    assert policy.can_view_user(pupil, UserRef(1, "me"))
    # The same sourcedId in another tenant is somebody else.
    assert not policy.can_view_user(pupil, UserRef(2, "me"))


def test_administrators() -> None:
    school_admin = person({PortalRole.SCHOOL_ADMIN}, schools=frozenset({"school-1"}))
    board = person({PortalRole.BOARD_ADMIN})
    operator = person({PortalRole.OPERATOR})
    assert policy.can_administer_school(school_admin, 1, "school-1")
    assert not policy.can_administer_school(school_admin, 1, "school-2")
    assert not policy.can_administer_school(school_admin, 2, "school-1")
    assert not policy.can_administer_tenant(school_admin, 1)
    assert not policy.can_read_audit_log(school_admin, 1)
    for admin in (board, operator):
        assert policy.can_administer_tenant(admin, 1)
        assert policy.can_view_class_roster(admin, CLASS_B)
        assert not policy.can_administer_tenant(admin, 2)
        assert not policy.can_view_class(admin, OTHER_TENANT_CLASS)
