"""Brute-force protection shared by every credential check: web logins, the password grant, password resets.

Counters live in the rate limiter's storage: the database by default (portal/security/counters.py), or Redis with
PORTAL_RATELIMIT_STORAGE_URL, so every web process of the installation shares them. Per account: 10 failures in 5
minutes and 100 in an hour (ASVS 4.0.3 2.2.1); per client IP: 100 failures in 5 minutes. A locked-out attempt is
answered exactly like a wrong password, and the password is not even checked, so lockout reveals nothing and costs
nothing.
"""

from __future__ import annotations

import logging

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from portal.extensions import limiter

log = logging.getLogger(__name__)
# When the shared storage (Redis) is down, counting goes on per process instead of failing open or erroring.
_fallback = MovingWindowRateLimiter(MemoryStorage())

ACCOUNT_LIMITS: tuple[RateLimitItem, ...] = (parse("10/5 minutes"), parse("100/hour"))
IP_LIMITS: tuple[RateLimitItem, ...] = (parse("100/5 minutes"),)


STAFF = "user"
STAFF_SECOND_FACTOR = "user-2fa"


def customer_scope(org_id: int) -> str:
    """Customers of different organizations are different accounts, even with one address."""
    return f"customer:{org_id}"


def _keys(scope: str, account: str, ip: str | None) -> list[tuple[RateLimitItem, str]]:
    """`scope` separates principals (`customer_scope(...)`, `STAFF`); `account` is the address as
    `validation.email_key` normalizes it, so every spelling of one address shares one budget."""
    pairs = [(item, f"credentials:{scope}:{account}") for item in ACCOUNT_LIMITS]
    if ip:
        pairs += [(item, f"credentials-ip:{ip}") for item in IP_LIMITS]
    return pairs


def _strategy():
    """The shared rate limiter, or the per-process fallback while its storage does not answer."""
    strategy = limiter.limiter
    try:
        if strategy.storage.check():
            return strategy
    except Exception:  # noqa: BLE001, S110 - any storage failure means: use the fallback
        pass
    log.warning("rate-limit storage unavailable: counting credential failures per process")
    return _fallback


def allowed(scope: str, account: str, ip: str | None) -> bool:
    """False while the account (or the IP) is over its failure budget."""
    strategy = _strategy()
    return all(strategy.test(item, key) for item, key in _keys(scope, account, ip))


def failed(scope: str, account: str, ip: str | None) -> None:
    """Count one failed attempt against the account and the IP."""
    strategy = _strategy()
    for item, key in _keys(scope, account, ip):
        strategy.hit(item, key)


def check(scope: str, account: str, ip: str | None, verify) -> bool:
    """Run `verify()` (the password check) only when allowed; count a failure when it fails.

    Returns True only for a verified attempt. Callers answer every False the same way.
    """
    if not allowed(scope, account, ip):
        return False
    if verify():
        return True
    failed(scope, account, ip)
    return False


def hit(item: RateLimitItem, key: str) -> bool:
    """Spend one unit of a sending budget (a mailed link): False when `key` is over `item`, and nothing is spent."""
    return _strategy().hit(item, key)
