"""Sign-in by local password and by QR card, TOTP for administrators, and their administration.

Every path answers failures the same way (:class:`SignInError` with one generic message), counts
them against the account or card (:mod:`tsunagu.identity.protection`) and writes the audit log.
Routes turn a successful :class:`SignInResult` into a session.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from tsunagu.audit import service as audit_service
from tsunagu.container import Container
from tsunagu.identity import passwords
from tsunagu.identity.models import LocalPassword, QrCard, TotpSecret
from tsunagu.identity.operators import principal_for
from tsunagu.identity.principal import PortalRole, Principal
from tsunagu.identity.protection import signin_guard
from tsunagu.identity.sealing import seal, unseal
from tsunagu.machine_credentials import keyed_hash, utcnow
from tsunagu.roster.models import ACTIVE, Enrollment, User
from tsunagu.tenancy.models import Tenant
from tsunagu.tenancy.service import get_tenant

ADMIN_ROLES = frozenset({PortalRole.SCHOOL_ADMIN, PortalRole.BOARD_ADMIN, PortalRole.OPERATOR})


class SignInError(Exception):
    """A sign-in was refused. ``reason`` is for logs and tests; users see one message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class IdentityAdminError(ValueError):
    """An administrative identity operation was refused; the message says why."""


@dataclass(frozen=True)
class SignInResult:
    principal: Principal
    method: str
    #: Administrators confirm with a TOTP code before the session is established.
    needs_totp: bool
    #: Seconds spent waiting for an external identity provider (0 for local methods).
    provider_seconds: float = 0.0


def needs_totp(container: Container, principal: Principal) -> bool:
    return container.settings.totp_required_for_admins and bool(principal.roles & ADMIN_ROLES)


def _audit_failure(
    container: Container,
    tenant_id: int | None,
    actor: str,
    method: str,
    ip: str,
    reason: str,
) -> None:
    with container.database.transaction() as session:
        audit_service.record(
            session,
            tenant_id,
            actor,
            "signin.failure",
            "",
            ip,
            {"method": method, "reason": reason},
        )


def record_success(container: Container, principal: Principal, method: str, ip: str) -> None:
    with container.database.transaction() as session:
        audit_service.record(
            session,
            principal.tenant_id,
            principal.user_sourced_id,
            "signin.success",
            principal.user_sourced_id,
            ip,
            {"method": method},
        )


def record_signout(container: Container, principal: Principal, ip: str) -> None:
    with container.database.transaction() as session:
        audit_service.record(
            session, principal.tenant_id, principal.user_sourced_id, "signout", "", ip, {}
        )


# --- users -----------------------------------------------------------------------------------


def find_user(session: Session, tenant_id: int, reference: str) -> User | None:
    """A tenant's user by sourcedId or by username (exactly one)."""
    reference = reference.strip()
    found = session.get(User, (tenant_id, reference))
    if found is not None:
        return found
    rows = list(
        session.scalars(select(User).where(User.tenant_id == tenant_id, User.username == reference))
    )
    return rows[0] if len(rows) == 1 else None


def _candidates(session: Session, username: str, tenant_code: str | None) -> list[User]:
    query = select(User).where(User.username == username, User.status == ACTIVE)
    if tenant_code:
        query = query.join(Tenant, Tenant.id == User.tenant_id).where(Tenant.code == tenant_code)
    return list(session.scalars(query.limit(2)))


# --- local passwords -------------------------------------------------------------------------


def set_password(
    session: Session, container: Container, tenant_code: str, reference: str, password: str
) -> User:
    """Set (or replace) a user's local password, checked against the policy."""
    tenant = get_tenant(session, tenant_code)
    user = find_user(session, tenant.id, reference)
    if user is None:
        raise IdentityAdminError(
            f"No user '{reference}' (sourcedId or username) in tenant {tenant.code}."
        )
    passwords.check_policy(
        password, username=user.username, min_length=container.settings.password_min_length
    )
    row = session.get(LocalPassword, (tenant.id, user.sourced_id))
    hashed = passwords.hash_password(password)
    if row is None:
        session.add(
            LocalPassword(
                tenant_id=tenant.id,
                user_sourced_id=user.sourced_id,
                password_hash=hashed,
                updated_at=utcnow(),
            )
        )
    else:
        row.password_hash = hashed
        row.updated_at = utcnow()
    session.flush()
    return user


def sign_in_with_password(
    container: Container, username: str, password: str, tenant_code: str | None, ip: str
) -> SignInResult:
    """Check a username and password; the same answer and cost for every kind of failure."""
    guard = signin_guard(container)
    username = username.strip()[:256]
    if not guard.address_allows("password", ip):
        _audit_failure(container, None, username, "password", ip, "rate_limited")
        raise SignInError("rate_limited")
    with container.database.session() as session:
        users = _candidates(session, username, tenant_code)
        user = users[0] if len(users) == 1 else None
        # Failures count against the person when the name finds one (whatever tenant was
        # chosen in the form), else against the name as typed.
        account = (
            f"user:{user.tenant_id}:{user.sourced_id}"
            if user is not None
            else f"name:{username.lower()}"
        )
        if guard.account_locked("password", account):
            # Still pay for one hash so a locked account answers as slowly as any other.
            passwords.verify(None, password)
            _audit_failure(
                container, user.tenant_id if user else None, username, "password", ip, "locked"
            )
            raise SignInError("locked")
        stored = (
            session.get(LocalPassword, (user.tenant_id, user.sourced_id))
            if user is not None
            else None
        )
        ok, upgraded = passwords.verify(stored.password_hash if stored else None, password)
        principal = (
            principal_for(session, user.tenant_id, user.sourced_id)
            if ok and user is not None
            else None
        )
    if principal is None or user is None:
        guard.failed("password", account)
        _audit_failure(
            container, user.tenant_id if user else None, username, "password", ip, "invalid"
        )
        raise SignInError("invalid")
    if upgraded:
        with container.database.transaction() as session:
            row = session.get(LocalPassword, (user.tenant_id, user.sourced_id))
            if row is not None:
                row.password_hash = upgraded
    guard.succeeded("password", account)
    return SignInResult(principal, "password", needs_totp(container, principal))


# --- QR sign-in cards ------------------------------------------------------------------------


@dataclass(frozen=True)
class IssuedCard:
    user_sourced_id: str
    kana_name: str
    display_name: str
    class_title: str
    #: ``card_id.secret``: what the QR code carries (shown only now).
    token: str


def _new_card(session: Session, key: bytes, tenant_id: int, user_sourced_id: str) -> str:
    now = utcnow()
    for old in session.scalars(
        select(QrCard).where(
            QrCard.tenant_id == tenant_id,
            QrCard.user_sourced_id == user_sourced_id,
            QrCard.revoked_at.is_(None),
        )
    ):
        old.revoked_at = now  # reissuing makes the lost card useless
    card_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    session.add(
        QrCard(
            card_id=card_id,
            tenant_id=tenant_id,
            user_sourced_id=user_sourced_id,
            secret_hash=keyed_hash(key, secret),
            created_at=now,
        )
    )
    return f"{card_id}.{secret}"


def issue_class_cards(
    session: Session, container: Container, tenant_code: str, class_sourced_id: str
) -> list[IssuedCard]:
    """New cards for every pupil of a class (their older cards stop working)."""
    from tsunagu.roster.models import Class

    tenant = get_tenant(session, tenant_code)
    klass = session.get(Class, (tenant.id, class_sourced_id.strip()))
    if klass is None or klass.status != ACTIVE:
        raise IdentityAdminError(f"No active class '{class_sourced_id}' in tenant {tenant.code}.")
    pupils = list(
        session.execute(
            select(User, Enrollment.shusseki_no)
            .join(
                Enrollment,
                (Enrollment.tenant_id == User.tenant_id)
                & (Enrollment.user_sourced_id == User.sourced_id),
            )
            .where(
                Enrollment.tenant_id == tenant.id,
                Enrollment.class_sourced_id == klass.sourced_id,
                Enrollment.role == "student",
                Enrollment.status == ACTIVE,
                User.status == ACTIVE,
            )
        ).all()
    )
    pupils.sort(key=lambda row: (_seat(row[1]), row[0].sourced_id))
    key = container.settings.resolved_secret_key
    cards = []
    for user, _seat_no in pupils:
        token = _new_card(session, key, tenant.id, user.sourced_id)
        kana = " ".join(
            p
            for p in (
                user.kana_preferred_family_name or user.kana_family_name,
                user.kana_preferred_given_name or user.kana_given_name,
            )
            if p
        )
        cards.append(
            IssuedCard(
                user_sourced_id=user.sourced_id,
                kana_name=kana,
                display_name=f"{user.family_name} {user.given_name}",
                class_title=klass.title,
                token=token,
            )
        )
    session.flush()
    return cards


def _seat(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        return 10**6


def reissue_card(
    session: Session, container: Container, tenant_code: str, reference: str
) -> tuple[User, str]:
    tenant = get_tenant(session, tenant_code)
    user = find_user(session, tenant.id, reference)
    if user is None:
        raise IdentityAdminError(f"No user '{reference}' in tenant {tenant.code}.")
    token = _new_card(session, container.settings.resolved_secret_key, tenant.id, user.sourced_id)
    session.flush()
    return user, token


def revoke_cards(session: Session, tenant_code: str, reference: str) -> int:
    """Revoke every card of a user; returns how many were active."""
    tenant = get_tenant(session, tenant_code)
    user = find_user(session, tenant.id, reference)
    if user is None:
        raise IdentityAdminError(f"No user '{reference}' in tenant {tenant.code}.")
    now = utcnow()
    count = 0
    for card in session.scalars(
        select(QrCard).where(
            QrCard.tenant_id == tenant.id,
            QrCard.user_sourced_id == user.sourced_id,
            QrCard.revoked_at.is_(None),
        )
    ):
        card.revoked_at = now
        count += 1
    return count


def sign_in_with_card(container: Container, token: str, ip: str) -> SignInResult:
    guard = signin_guard(container)
    token = token.strip()
    card_id, _, secret = token.partition(".")
    card_id = card_id[:32]
    if not guard.address_allows("qr", ip):
        _audit_failure(container, None, f"card:{card_id}", "qr", ip, "rate_limited")
        raise SignInError("rate_limited")
    if guard.account_locked("qr", card_id):
        _audit_failure(container, None, f"card:{card_id}", "qr", ip, "locked")
        raise SignInError("locked")
    given = keyed_hash(container.settings.resolved_secret_key, secret)
    with container.database.session() as session:
        card = session.get(QrCard, card_id) if card_id else None
        valid = (
            card is not None
            and card.revoked_at is None
            and hmac.compare_digest(card.secret_hash, given)
        )
        principal = (
            principal_for(session, card.tenant_id, card.user_sourced_id)
            if valid and card is not None
            else None
        )
    if principal is None:
        guard.failed("qr", card_id)
        _audit_failure(
            container, card.tenant_id if card else None, f"card:{card_id}", "qr", ip, "invalid"
        )
        raise SignInError("invalid")
    return SignInResult(principal, "qr", needs_totp(container, principal))


# --- TOTP for administrators -----------------------------------------------------------------


def totp_secret(container: Container, row: TotpSecret) -> str:
    """The base32 secret of an enrollment (decrypted)."""
    return unseal(container, "totp", row.secret)


@dataclass(frozen=True)
class TotpState:
    enrolled: bool
    secret: str | None
    provisioning_uri: str | None


def totp_state(container: Container, principal: Principal) -> TotpState:
    """Whether the administrator has a confirmed TOTP; if not, a secret to enroll with."""
    with container.database.transaction() as session:
        row = session.get(TotpSecret, (principal.tenant_id, principal.user_sourced_id))
        if row is not None and row.confirmed_at is not None:
            return TotpState(True, None, None)
        if row is None:
            row = TotpSecret(
                tenant_id=principal.tenant_id,
                user_sourced_id=principal.user_sourced_id,
                secret=seal(container, "totp", pyotp.random_base32()),
                last_step=0,
            )
            session.add(row)
        secret = totp_secret(container, row)
        uri = pyotp.TOTP(secret).provisioning_uri(
            name=principal.display_name or principal.user_sourced_id,
            issuer_name=f"Tsunagu {principal.tenant_code}",
        )
        return TotpState(False, secret, uri)


def verify_totp(
    container: Container, principal: Principal, code: str, ip: str, *, now: datetime | None = None
) -> bool:
    """Check a code (one step of clock drift either way); each code is good once."""
    guard = signin_guard(container)
    account = f"{principal.tenant_id}:{principal.user_sourced_id}"
    if guard.account_locked("totp", account):
        _audit_failure(
            container, principal.tenant_id, principal.user_sourced_id, "totp", ip, "locked"
        )
        return False
    code = "".join(ch for ch in code if ch.isdigit())
    moment = now or utcnow()
    with container.database.transaction() as session:
        row = session.get(TotpSecret, (principal.tenant_id, principal.user_sourced_id))
        if row is None:
            return False
        totp = pyotp.TOTP(totp_secret(container, row))
        accepted_step = None
        for drift in (0, -1, 1):
            step = int(moment.timestamp()) // totp.interval + drift
            if hmac.compare_digest(totp.generate_otp(step), code) and step > row.last_step:
                accepted_step = step
                break
        if accepted_step is None:
            guard.failed("totp", account)
            audit_service.record(
                session,
                principal.tenant_id,
                principal.user_sourced_id,
                "signin.failure",
                "",
                ip,
                {"method": "totp", "reason": "invalid"},
            )
            return False
        row.last_step = accepted_step
        if row.confirmed_at is None:
            row.confirmed_at = moment
    guard.succeeded("totp", account)
    return True


def reset_totp(session: Session, tenant_code: str, reference: str) -> bool:
    """Forget an administrator's TOTP (lost phone); they enroll again at the next sign-in."""
    tenant = get_tenant(session, tenant_code)
    user = find_user(session, tenant.id, reference)
    if user is None:
        raise IdentityAdminError(f"No user '{reference}' in tenant {tenant.code}.")
    row = session.get(TotpSecret, (tenant.id, user.sourced_id))
    if row is None:
        return False
    session.delete(row)
    return True
