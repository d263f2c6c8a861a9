"""Rate limiting and temporary lockout for every sign-in path (``limits``).

Two counters: attempts per client address (generous: a school signs in from behind one NAT
address) and failures per account or card (strict: ten wrong passwords lock the account for the
rest of the window). Counters live in Redis when configured, so every app process sees the same
numbers, and in process memory otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from tsunagu.container import Container


@dataclass
class SignInGuard:
    limiter: MovingWindowRateLimiter
    per_address: RateLimitItem
    failures: RateLimitItem

    def address_allows(self, method: str, address: str) -> bool:
        """Count one attempt from ``address``; False when it is over its budget."""
        return self.limiter.hit(self.per_address, "signin-ip", method, address or "-")

    def account_locked(self, method: str, account: str) -> bool:
        return not self.limiter.test(self.failures, "signin-fail", method, account)

    def failed(self, method: str, account: str) -> None:
        self.limiter.hit(self.failures, "signin-fail", method, account)

    def succeeded(self, method: str, account: str) -> None:
        self.limiter.clear(self.failures, "signin-fail", method, account)


def _build(container: Container) -> SignInGuard:
    settings = container.settings
    uri = settings.redis_url or "memory://"
    options = {"key_prefix": settings.redis_key_prefix} if settings.redis_url else {}
    storage = storage_from_string(uri, **options)
    return SignInGuard(
        limiter=MovingWindowRateLimiter(storage),
        per_address=parse(settings.signin_ip_rate_limit),
        failures=parse(settings.signin_failure_limit),
    )


def signin_guard(container: Container) -> SignInGuard:
    guard: SignInGuard = container.runtime("identity.signin_guard", _build)
    return guard
