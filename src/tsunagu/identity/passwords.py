"""Local passwords: argon2id hashes and the password policy.

The policy follows NIST SP 800-63B §5.1.1.2: a minimum length, no composition rules, and a check
against values that are known to be guessed first (a small list here, plus the person's own
username). Hashes are argon2id with the OWASP Password Storage Cheat Sheet's parameters
(19 MiB, 2 iterations, 1 lane): RFC 9106's 64 MiB / 4 lanes default cost about three times as
much CPU, and at the first bell a school's sign-ins share two cores. A stored hash made with
other parameters is re-hashed at the next successful sign-in.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)

#: Hash of a throwaway password: unknown usernames are verified against it, so that an
#: attacker cannot tell them from wrong passwords by the answer's timing.
_DUMMY_HASH = _HASHER.hash("tsunagu-no-such-user-placeholder")

_COMMON = frozenset(
    {
        "password",
        "password1",
        "password123",
        "12345678",
        "123456789",
        "1234567890",
        "qwertyuiop",
        "iloveyou",
        "abc12345",
        "11111111",
        "00000000",
        "passw0rd",
        "tsunagu123",
        "sensei1234",
        "gakkou1234",
    }
)


class PasswordPolicyError(ValueError):
    """The password was refused; the message says why (Japanese, then English)."""


def check_policy(password: str, *, username: str, min_length: int) -> None:
    if len(password) < min_length:
        raise PasswordPolicyError(
            f"パスワードは{min_length}文字以上にしてください。"
            f" / The password needs at least {min_length} characters."
        )
    if len(password) > 256:
        raise PasswordPolicyError(
            "パスワードが長すぎます。 / The password is too long (256 at most)."
        )
    lowered = password.lower()
    if lowered in _COMMON or len(set(password)) <= 2:
        raise PasswordPolicyError(
            "推測されやすいパスワードは使えません。 / This password is too easy to guess."
        )
    local_part = username.split("@", 1)[0].lower()
    if local_part and len(local_part) >= 4 and local_part in lowered:
        raise PasswordPolicyError(
            "ユーザー名を含むパスワードは使えません。 / The password must not contain the username."
        )


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify(password_hash: str | None, password: str) -> tuple[bool, str | None]:
    """Whether ``password`` matches; and a fresh hash when the stored one should be upgraded.

    With no stored hash the dummy hash is verified, so the cost is the same either way.
    """
    try:
        _HASHER.verify(password_hash or _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, None
    if password_hash is None:
        return False, None
    if _HASHER.check_needs_rehash(password_hash):
        return True, _HASHER.hash(password)
    return True, None
