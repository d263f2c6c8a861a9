"""The administrators' console rules of the policy module, on hand-made principals."""

from __future__ import annotations

from tests.identity.test_policy import person
from tsunagu.identity import policy
from tsunagu.identity.policy import UserRef
from tsunagu.identity.principal import PortalRole

PUPIL_1 = UserRef(1, "pupil", frozenset({"school-1"}), frozenset({"class-a"}))
PUPIL_2 = UserRef(1, "pupil-2", frozenset({"school-2"}))
ELSEWHERE = UserRef(2, "pupil", frozenset({"school-1"}))


def test_board_admin_and_operator_decide_for_the_tenant() -> None:
    for role in (PortalRole.BOARD_ADMIN, PortalRole.OPERATOR):
        admin = person({role})
        assert policy.can_open_admin(admin)
        assert policy.can_review_tool_registrations(admin, 1)
        assert policy.can_deploy_tool(admin, 1, None)
        assert policy.can_deploy_tool(admin, 1, "school-2")
        assert policy.can_manage_sign_in_settings(admin, 1)
        assert policy.can_manage_credentials(admin, PUPIL_2, target_is_admin=True)
        assert not policy.can_review_tool_registrations(admin, 2)
        assert not policy.can_deploy_tool(admin, 2, None)
        assert not policy.can_manage_sign_in_settings(admin, 2)
        assert not policy.can_manage_credentials(admin, ELSEWHERE, target_is_admin=False)


def test_school_admin_acts_for_their_school_only() -> None:
    head = person({PortalRole.SCHOOL_ADMIN, PortalRole.TEACHER}, schools=frozenset({"school-1"}))
    assert policy.can_open_admin(head)
    assert not policy.can_review_tool_registrations(head, 1)
    assert not policy.can_deploy_tool(head, 1, None)
    assert policy.can_deploy_tool(head, 1, "school-1")
    assert not policy.can_deploy_tool(head, 1, "school-2")
    assert policy.can_view_launch_statistics(head, 1, "school-1")
    assert not policy.can_view_launch_statistics(head, 1, "school-2")
    assert not policy.can_manage_sign_in_settings(head, 1)
    assert policy.can_manage_credentials(head, PUPIL_1, target_is_admin=False)
    assert not policy.can_manage_credentials(head, PUPIL_1, target_is_admin=True)
    assert not policy.can_manage_credentials(head, PUPIL_2, target_is_admin=False)
    assert not policy.can_manage_credentials(head, ELSEWHERE, target_is_admin=False)


def test_teachers_and_pupils_have_no_console() -> None:
    teacher = person({PortalRole.TEACHER}, schools=frozenset({"school-1"}), sourced_id="teacher")
    pupil = person({PortalRole.STUDENT}, sourced_id="pupil")
    for who in (teacher, pupil):
        assert not policy.can_open_admin(who)
        assert not policy.can_deploy_tool(who, 1, "school-1")
        assert not policy.can_manage_credentials(who, PUPIL_1, target_is_admin=False)
    # Not even their own credentials: a pupil resets nothing through the console.
    assert not policy.can_manage_credentials(pupil, PUPIL_1, target_is_admin=False)
