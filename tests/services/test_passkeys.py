"""Passkeys, with real signatures (tests/authenticator.py) through the real py_webauthn checks: registration, sign-in,
and every refusal: another org's passkey, a replayed or cloned assertion, a wrong origin or RP ID, a reused or
foreign challenge, a locked account."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal import db
from portal.errors import Invalid, NotFound
from portal.extensions import limiter
from portal.models import ActionToken, AuditEvent, Passkey
from portal.security import passwords, throttle
from portal.security import webauthn as rp
from portal.services import passkeys
from portal.services.audit import Actor
from tests.authenticator import SoftAuthenticator
from tests.factories import make_customer, make_org, make_user

IP = "203.0.113.9"


@pytest.fixture()
def org(db_session):
    limiter.reset()
    return make_org()


def register(principal, org, authenticator=None, name="Laptop"):
    authenticator = authenticator or SoftAuthenticator()
    options, challenge = passkeys.registration_options(principal, org)
    credential = authenticator.create(options, rp.origin())
    actor = Actor.of_user(principal) if org is None else Actor.of_customer(principal)
    passkey = passkeys.register(actor, principal, org, credential, challenge, name)
    return authenticator, passkey


def sign_in(kind, org, authenticator, *, origin=None, rp_id=None, challenge=None):
    options, issued = passkeys.sign_in_options(kind, org)
    credential = authenticator.get(options, origin or rp.origin(), rp_id=rp_id)
    return passkeys.authenticate(kind, org, credential, challenge or issued, IP), credential, issued


def test_a_customer_registers_a_passkey_and_signs_in_with_it(org):
    shopper = make_customer(org)
    authenticator, passkey = register(shopper, org)
    assert passkey.organization_id == org.id and passkey.principal_type == "customer"
    assert passkey.name == "Laptop" and passkey.credential_id == authenticator.id
    found, _, _ = sign_in("customer", org, authenticator)
    assert found is shopper
    assert passkey.sign_count == 1 and passkey.last_used_at is not None
    events = db.session.scalars(select(AuditEvent.action).where(AuditEvent.resource_id == shopper.public_id))
    assert "customer.passkey_create" in list(events)


def test_several_passkeys_are_listed_renamed_and_removed(org):
    shopper = make_customer(org)
    _, first = register(shopper, org, name="Phone")
    _, second = register(shopper, org, name="  ")
    assert [p.name for p in passkeys.list_for(shopper)] == ["Phone", passkeys.DEFAULT_NAME]
    passkeys.rename(Actor.of_customer(shopper), shopper, org, second.public_id, "Laptop")
    assert second.name == "Laptop"
    with pytest.raises(Invalid):
        passkeys.rename(Actor.of_customer(shopper), shopper, org, second.public_id, "x" * 65)
    passkeys.remove(Actor.of_customer(shopper), shopper, org, first.public_id)
    assert [p.public_id for p in passkeys.list_for(shopper)] == [second.public_id]


def test_a_removed_passkey_no_longer_signs_in(org):
    shopper = make_customer(org)
    authenticator, passkey = register(shopper, org)
    passkeys.remove(Actor.of_customer(shopper), shopper, org, passkey.public_id)
    assert sign_in("customer", org, authenticator)[0] is None


def test_nobody_else_can_rename_or_remove_a_passkey(org):
    owner, other = make_customer(org), make_customer(org)
    _, passkey = register(owner, org)
    with pytest.raises(NotFound):
        passkeys.remove(Actor.of_customer(other), other, org, passkey.public_id)
    with pytest.raises(NotFound):
        passkeys.rename(Actor.of_customer(other), other, org, passkey.public_id, "mine")


def test_another_orgs_passkey_never_signs_in(org):
    """Every org shares the portal's RP ID, so the browser offers org A's passkey on org B's page: refused."""
    other_org = make_org()
    make_customer(other_org, org_email := "same@example.com")
    shopper = make_customer(org, org_email)
    authenticator, _ = register(shopper, org)
    assert sign_in("customer", other_org, authenticator)[0] is None
    assert sign_in("customer", org, authenticator)[0] is shopper


def test_a_customers_passkey_does_not_sign_in_to_the_admin_area(org):
    authenticator, _ = register(make_customer(org), org)
    assert sign_in("user", None, authenticator)[0] is None


def test_a_replayed_assertion_is_refused_by_the_sign_count(org):
    """A cloned authenticator (or a replayed response under a fresh challenge) presents a counter that did not
    go up: refused."""
    shopper = make_customer(org)
    authenticator, passkey = register(shopper, org)
    assert sign_in("customer", org, authenticator)[0] is shopper
    authenticator.sign_count -= 1  # the clone signs with the old counter
    assert sign_in("customer", org, authenticator)[0] is None
    assert passkey.sign_count == 1


def test_a_reused_challenge_is_refused(org):
    """A passkey that keeps no counter (synced passkeys: always 0) is protected by the challenge alone."""
    shopper = make_customer(org)
    authenticator, _ = register(shopper, org, SoftAuthenticator(counting=False))
    found, credential, challenge = sign_in("customer", org, authenticator)
    assert found is shopper
    assert passkeys.authenticate("customer", org, credential, challenge, IP) is None


def test_a_challenge_issued_elsewhere_is_refused(org):
    """A challenge of another org's login, of the admin login, of a registration, or made up: refused."""
    shopper = make_customer(org)
    authenticator, _ = register(shopper, org)
    _, other_org_challenge = passkeys.sign_in_options("customer", make_org())
    _, staff_challenge = passkeys.sign_in_options("user", None)
    _, register_challenge = passkeys.registration_options(shopper, org)
    for challenge in (other_org_challenge, staff_challenge, register_challenge, "bm90IGlzc3VlZA"):
        options = {"rpId": rp.rp_id(), "challenge": challenge}
        credential = authenticator.get(options, rp.origin())
        assert passkeys.authenticate("customer", org, credential, challenge, IP) is None, challenge


def test_an_expired_challenge_is_refused(org):
    shopper = make_customer(org)
    authenticator, _ = register(shopper, org)
    options, challenge = passkeys.sign_in_options("customer", org)
    row = db.session.scalar(
        select(ActionToken).where(ActionToken.token_hash == passwords.token_digest(challenge))
    )
    assert row.purpose == rp.SIGN_IN and row.used_at is None
    row.expires_at = row.created_at - rp.CHALLENGE_LIFETIME
    credential = authenticator.get(options, rp.origin())
    assert passkeys.authenticate("customer", org, credential, challenge, IP) is None


@pytest.mark.parametrize(
    "origin, rp_id",
    [
        ("https://evil.example", None),  # a phishing page relaying the portal's challenge
        ("http://127.0.0.1:5001", None),  # another port is another origin
        (None, "evil.example"),  # a credential scoped to another RP
    ],
)
def test_a_wrong_origin_or_rp_id_is_refused(org, origin, rp_id):
    shopper = make_customer(org)
    authenticator, _ = register(shopper, org)
    assert sign_in("customer", org, authenticator, origin=origin, rp_id=rp_id)[0] is None


def test_registration_is_refused_for_a_wrong_origin_or_a_reused_challenge(org):
    shopper = make_customer(org)
    options, challenge = passkeys.registration_options(shopper, org)
    phished = SoftAuthenticator().create(options, "https://evil.example")
    with pytest.raises(Invalid) as error:
        passkeys.register(Actor.of_customer(shopper), shopper, org, phished, challenge, "x")
    assert error.value.code == "invalid"
    good = SoftAuthenticator().create(options, rp.origin())
    with pytest.raises(Invalid) as error:  # the challenge was spent by the refused attempt
        passkeys.register(Actor.of_customer(shopper), shopper, org, good, challenge, "x")
    assert error.value.code == "expired"
    assert passkeys.list_for(shopper) == []


def test_registration_refuses_garbage_and_a_challenge_of_someone_else(org):
    shopper, other = make_customer(org), make_customer(org)
    _, challenge = passkeys.registration_options(shopper, org)
    with pytest.raises(Invalid):
        passkeys.register(Actor.of_customer(shopper), shopper, org, {"id": "x"}, challenge, "x")
    options, others = passkeys.registration_options(other, org)
    credential = SoftAuthenticator().create(options, rp.origin())
    with pytest.raises(Invalid) as error:
        passkeys.register(Actor.of_customer(shopper), shopper, org, credential, others, "x")
    assert error.value.code == "expired"


def test_one_credential_is_registered_once(org):
    shopper = make_customer(org)
    authenticator, _ = register(shopper, org)
    with pytest.raises(Invalid) as error:
        register(make_customer(org), org, authenticator)
    assert error.value.code == "taken"


def test_failed_passkey_sign_ins_count_in_the_accounts_lockout(org):
    """Refused assertions spend the same budget as wrong passwords; once locked, even a good passkey waits."""
    shopper = make_customer(org)
    authenticator, _ = register(shopper, org)
    for _ in range(10):
        assert sign_in("customer", org, authenticator, origin="https://evil.example")[0] is None
    assert not throttle.allowed(throttle.customer_scope(org.id), shopper.email, None)
    assert sign_in("customer", org, authenticator)[0] is None


def test_a_staff_user_registers_and_signs_in(org):
    user = make_user(org)
    authenticator, passkey = register(user, None)
    assert passkey.organization_id is None and passkey.principal_type == "user"
    assert sign_in("user", None, authenticator)[0] is user
    assert sign_in("customer", org, authenticator)[0] is None


def test_a_disabled_user_cannot_sign_in_with_a_passkey(org):
    user = make_user(org)
    authenticator, _ = register(user, None)
    user.disabled_at = user.created_at
    assert sign_in("user", None, authenticator)[0] is None


def test_anonymization_deletes_the_customers_passkeys(org):
    from portal.services import traces

    shopper = make_customer(org)
    register(shopper, org)
    traces.erase([shopper.id], {(org.id, shopper.email)})
    db.session.expire_all()
    assert passkeys.list_for(shopper) == []
    assert db.session.scalar(select(Passkey).where(Passkey.principal_id == shopper.id)) is None
