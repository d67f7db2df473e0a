"""The column registry: every column of every table is classified, so anonymization's reach is reviewable and a new
column cannot slip in unclassified (tests/test_privacy_registry.py fails on any column missing here).

Kinds:
- `personal`: identifies or describes a person. `erasure` says what anonymization does with it: `replace` (a random
  or neutral value not derived from the original), `clear` (NULL or empty), `delete` (the whole row goes), or
  `not_customer` (staff or credential data, outside a customer's anonymization).
- `kept`: not personal, or kept on purpose (accounting, tax, proof of the erasure itself), with the reason.
- `derived`: computed from other columns.
- `key`: surrogate keys and foreign keys.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import MetaData


class Kind(enum.StrEnum):
    PERSONAL = "personal"
    KEPT = "kept"
    DERIVED = "derived"
    KEY = "key"


class Erasure(enum.StrEnum):
    REPLACE = "replace"
    CLEAR = "clear"
    DELETE = "delete"
    NOT_CUSTOMER = "not_customer"


@dataclass(frozen=True)
class Rule:
    kind: Kind
    reason: str
    erasure: Erasure | None = None


def key(reason: str = "surrogate or foreign key") -> Rule:
    return Rule(Kind.KEY, reason)


def kept(reason: str) -> Rule:
    return Rule(Kind.KEPT, reason)


def derived(reason: str) -> Rule:
    return Rule(Kind.DERIVED, reason)


def personal(erasure: Erasure, reason: str) -> Rule:
    return Rule(Kind.PERSONAL, reason, erasure)


REPLACE, CLEAR, DELETE, NOT_CUSTOMER = Erasure.REPLACE, Erasure.CLEAR, Erasure.DELETE, Erasure.NOT_CUSTOMER

_IDS = {"id": key(), "public_id": key("random public id, not derived from personal data")}
_STAMPS = {"created_at": kept("row timestamp"), "updated_at": kept("row timestamp")}
_ORG = {"organization_id": key("tenant")}
_REFERENCES_KEPT = {
    "reference": kept("the merchant's own id of a non-personal record"),
    "reference_origin": kept("the merchant's own id of a non-personal record"),
    "metadata": kept("merchant configuration of a non-personal record"),
}
_DELETED_ROW = "the row is deleted with the customer's anonymization"

# Order address copies are overwritten with neutral values (billing/shipping history stays, identity goes); the
# address book's rows are deleted. The country stays: it is the VAT jurisdiction of the order.
_ADDRESS_PERSONAL = {
    name: personal(REPLACE, "address book rows are deleted; order copies get a neutral value")
    for name in ("first_name", "last_name", "company", "line_1", "city", "phone")
} | {
    name: personal(CLEAR, "address book rows are deleted; order copies are cleared")
    for name in (
        "line_2",
        "zip_code",
        "state_code",
        "email",
        "notes",
        "lat",
        "lng",
        "billing_info",
        "reference",
        "reference_origin",
        "metadata",
    )
}

REGISTRY: dict[str, dict[str, Rule]] = {
    "organizations": {
        **_IDS,
        **_STAMPS,
        "slug": kept("tenant configuration"),
        "name": kept("tenant configuration"),
        "primary_color": kept("tenant configuration"),
        "logo_url": kept("tenant configuration"),
        "allowed_origins": kept("tenant configuration"),
        "require_admin_2fa": kept("tenant configuration"),
        "anonymization_delay_seconds": kept("tenant configuration"),
        "settings": kept("tenant configuration"),
    },
    "users": {
        **_IDS,
        **_STAMPS,
        "email": personal(NOT_CUSTOMER, "staff member's login"),
        "first_name": personal(NOT_CUSTOMER, "staff member's name"),
        "last_name": personal(NOT_CUSTOMER, "staff member's name"),
        "time_zone": personal(NOT_CUSTOMER, "staff member's preference"),
        "password_hash": personal(NOT_CUSTOMER, "staff credential"),
        "login_id": key("random session key of a staff member"),
        "totp_secret": personal(NOT_CUSTOMER, "staff credential"),
        "totp_enabled_at": kept("staff account state"),
        "totp_last_step": kept("time step of the last accepted code (replay refusal), not personal"),
        "recovery_code_hashes": personal(NOT_CUSTOMER, "staff credential"),
        "disabled_at": kept("staff account state"),
        "last_login_at": personal(NOT_CUSTOMER, "staff activity"),
    },
    "memberships": {
        "id": key(),
        **_STAMPS,
        "user_id": key(),
        "organization_id": key("tenant"),
        "role": kept("staff permission"),
    },
    "applications": {
        **_IDS,
        **_STAMPS,
        **_ORG,
        "user_id": key(),
        "name": kept("API credential configuration"),
        "kind": kept("API credential configuration"),
        "role": kept("API credential configuration"),
        "client_id": kept("API credential configuration"),
        "secret_hash": kept("credential hash of a random secret"),
        "access_token_lifetime": kept("API credential configuration"),
        "jwt_strict": kept("API credential configuration"),
        "jwt_keys": kept("public keys of an integration"),
        "jwt_algorithms": kept("API credential configuration"),
        "redirect_uri": kept("API credential configuration"),
        "revoked_at": kept("API credential state"),
    },
    "customer_groups": {
        **_IDS,
        **_STAMPS,
        **_ORG,
        **_REFERENCES_KEPT,
        "name": kept("merchant segment"),
        "code": kept("merchant segment"),
    },
    "markets": {
        **_IDS,
        **_STAMPS,
        **_ORG,
        **_REFERENCES_KEPT,
        "number": kept("market configuration"),
        "name": kept("market configuration"),
        "code": kept("market configuration"),
        "customer_group_id": key(),
        "disabled_at": kept("market configuration"),
    },
    "customers": {
        **_IDS,
        **_STAMPS,
        **_ORG,
        "email": personal(REPLACE, "random address in the reserved anonymized.invalid domain"),
        "password_hash": personal(CLEAR, "set unusable: the account cannot log in"),
        "login_id": personal(REPLACE, "rotated: every session cookie dies"),
        "email_verified_at": personal(CLEAR, "a fact about the person's mailbox"),
        "shopper_reference": personal(REPLACE, "new random value (unique per org)"),
        "profile_id": personal(REPLACE, "new random value (unique per org)"),
        "status": derived("prospect/acquired/repeat, from the kept order count"),
        "total_orders_count": derived("count of kept orders"),
        "tax_exemption_code": personal(CLEAR, "a personal tax identifier"),
        "customer_group_id": personal(CLEAR, "membership of a segment"),
        "anonymization_status": kept("proof of the erasure"),
        "locale": kept("a language preference (en/it), not identifying; orders keep theirs too"),
        "reference": personal(CLEAR, "an external id of the person"),
        "reference_origin": personal(CLEAR, "where the external id came from"),
        "metadata": personal(CLEAR, "free-form JSON: scrubbed whole (set to {})"),
    },
    "addresses": {
        **_IDS,
        **_STAMPS,
        **_ORG,
        **_ADDRESS_PERSONAL,
        "business": kept("B2B or B2C decides the VAT treatment of an order"),
        "country_code": kept("VAT jurisdiction of an order (order copies); book rows are deleted"),
    },
    "customer_addresses": {
        **_IDS,
        **_STAMPS,
        **_ORG,
        "customer_id": key(),
        "address_id": key(),
        "reference": personal(DELETE, _DELETED_ROW),
        "reference_origin": personal(DELETE, _DELETED_ROW),
        "metadata": personal(DELETE, _DELETED_ROW),
    },
    "customer_password_resets": {
        **_IDS,
        **_STAMPS,
        **_ORG,
        "customer_id": key(),
        "token_hash": personal(DELETE, _DELETED_ROW),
        "expires_at": kept("row deleted anyway"),
        "reset_password_at": personal(DELETE, _DELETED_ROW),
        "reference": personal(DELETE, _DELETED_ROW),
        "reference_origin": personal(DELETE, _DELETED_ROW),
        "metadata": personal(DELETE, _DELETED_ROW),
    },
    "customer_counts": {
        "organization_id": key("tenant"),
        "status": kept("a customer status value, not a person"),
        "group_key": key("a customer group id (or 0): a counter's bucket"),
        "count": kept("how many customers are in the bucket, not who"),
    },
    "tags": {
        **_IDS,
        **_STAMPS,
        **_ORG,
        **_REFERENCES_KEPT,
        "name": kept("merchant segment label"),
    },
    "customer_tags": {
        "customer_id": key(),
        "tag_id": personal(DELETE, "a segment membership, like customers.customer_group_id: " + _DELETED_ROW),
    },
    "customer_subscriptions": {
        **_IDS,
        **_STAMPS,
        **_ORG,
        "customer_id": key(),
        "source": personal(DELETE, "the person's consent record: " + _DELETED_ROW),
        "reference": personal(DELETE, _DELETED_ROW),
        "reference_origin": personal(DELETE, _DELETED_ROW),
        "metadata": personal(DELETE, _DELETED_ROW),
    },
    # Staff notes about a person are personal data (GDPR art. 4): erased with the customer, not kept as a record.
    "attachments": {
        **_IDS,
        **_STAMPS,
        **_ORG,
        "attachable_type": key("polymorphic owner reference"),
        "attachable_id": key("polymorphic owner reference"),
        "name": personal(DELETE, "a note about the customer: " + _DELETED_ROW),
        "description": personal(DELETE, "a note about the customer: " + _DELETED_ROW),
        "url": personal(DELETE, "a document about the customer: " + _DELETED_ROW),
        "reference": personal(DELETE, _DELETED_ROW),
        "reference_origin": personal(DELETE, _DELETED_ROW),
        "metadata": personal(DELETE, _DELETED_ROW),
    },
    "anonymization_requests": {
        **_IDS,
        **_ORG,
        "customer_id": key(),
        "status": kept("proof of the erasure"),
        "requester_id": key("the staff member who asked"),
        "cancellation_requester_id": key("the staff member who cancelled"),
        "requested_at": kept("proof of the erasure"),
        "due_at": kept("proof of the erasure"),
        "started_at": kept("proof of the erasure; the worker's lease"),
        "completed_at": kept("proof of the erasure"),
        "failed_at": kept("proof of the erasure"),
        "cancelled_at": kept("proof of the erasure"),
        "failure_reason": kept("an exception class name and a step, never personal values"),
        "attempts": kept("worker bookkeeping"),
    },
    "deletion_requests": {
        **_IDS,
        **_STAMPS,
        **_ORG,
        "customer_id": key(),
        "status": kept("proof of the request"),
        "decided_by_id": key("the staff member who decided"),
        "decided_at": kept("proof of the request"),
        "rejection_reason": kept("written by staff to justify a refusal (legal record)"),
    },
    "orders": {
        **_IDS,
        **_STAMPS,
        **_ORG,
        "market_id": key(),
        "customer_id": key("points at the emptied customer row"),
        "number": kept("accounting"),
        "status": kept("accounting"),
        "guest": kept("accounting"),
        "customer_email": personal(REPLACE, "the customer's new random email"),
        "language_code": kept("not identifying"),
        "currency_code": kept("accounting"),
        "country_code": kept("VAT jurisdiction"),
        "subtotal_amount_cents": kept("accounting"),
        "shipping_amount_cents": kept("accounting"),
        "discount_amount_cents": kept("accounting"),
        "total_tax_amount_cents": kept("accounting"),
        "total_amount_cents": kept("accounting"),
        "billing_address_id": key("an address copy, overwritten"),
        "shipping_address_id": key("an address copy, overwritten"),
        "placed_at": kept("accounting"),
        "cancelled_at": kept("accounting"),
        "reference": kept("the merchant's own order id (ERP reconciliation)"),
        "reference_origin": kept("the merchant's own order id (ERP reconciliation)"),
        "metadata": personal(CLEAR, "free-form JSON that may describe the buyer: scrubbed whole"),
    },
    "line_items": {
        **_IDS,
        **_STAMPS,
        **_ORG,
        "order_id": key(),
        "sku_code": kept("accounting: what was sold"),
        "name": kept("accounting: the product's name, not the buyer's"),
        "quantity": kept("accounting"),
        "unit_amount_cents": kept("accounting"),
        "currency_code": kept("accounting"),
    },
    "oauth_tokens": {
        "id": key(),
        "jti": key("random token id"),
        "application_id": key(),
        "organization_id": key("tenant"),
        "owner_type": key("owner reference"),
        "owner_id": key("owner reference"),
        "scope": kept("not identifying"),
        "market_ids": kept("not identifying"),
        "custom_claim": personal(CLEAR, "free-form JSON given by the client"),
        "issued_at": kept("token bookkeeping"),
        "expires_at": kept("token bookkeeping"),
        "revoked_at": personal(REPLACE, "set: every token of the customer is revoked"),
        "refresh_token_hash": kept("hash of a random secret, dead once revoked"),
        "refresh_expires_at": kept("token bookkeeping"),
        "refreshed_at": kept("token bookkeeping"),
        "family_id": key("random refresh-family id"),
    },
    "used_assertions": {
        "id": key(),
        "application_id": key(),
        "jti": key("random assertion id"),
        "expires_at": kept("replay window"),
    },
    "authorization_codes": {
        "id": key(),
        "code_hash": key("hash of a random single-use code, dead after 60 seconds"),
        "application_id": key(),
        "organization_id": key("tenant"),
        "owner_type": key("owner reference"),
        "owner_id": key("owner reference"),
        "redirect_uri": kept("the client's registered URI, not the person's"),
        "scope": kept("not identifying"),
        "code_challenge": kept("hash of the client's random verifier"),
        "code_challenge_method": kept("not identifying"),
        "created_at": kept("code bookkeeping"),
        "expires_at": kept("code bookkeeping"),
        "used_at": kept("code bookkeeping"),
        "family_id": key("random token-family id"),
    },
    "oauth_consents": {
        **_IDS,
        "application_id": key(),
        "organization_id": key("tenant"),
        "owner_type": key("owner reference"),
        "owner_id": key("owner reference"),
        "scope": kept("not identifying"),
        "granted_at": kept("consent bookkeeping"),
        "revoked_at": kept("consent bookkeeping; the anonymized customer's tokens are revoked anyway"),
    },
    "throttle": {
        "key_hash": key("SHA-256 digest of a counter key: the email or IP counted is not stored"),
        "count": kept("failure or request count"),
        "expires_at": kept("counting window"),
    },
    "login_sessions": {
        "id": key(),
        "sid": key("random session id, dead once revoked"),
        "principal_type": key("principal reference"),
        "principal_id": key("principal reference"),
        "organization_id": key("tenant"),
        "created_at": kept("session bookkeeping"),
        "last_seen_at": kept("session bookkeeping"),
        "authenticated_at": kept("session bookkeeping"),
        "ip_address": personal(CLEAR, "network identifier"),
        "user_agent": personal(CLEAR, "device fingerprint"),
        "revoked_at": personal(REPLACE, "set: every session of the customer ends"),
    },
    "action_tokens": {
        "id": key(),
        "token_hash": personal(DELETE, _DELETED_ROW),
        "purpose": personal(DELETE, _DELETED_ROW),
        "principal_type": key("principal reference"),
        "principal_id": key("principal reference"),
        "organization_id": key("tenant"),
        "payload": personal(DELETE, "may hold an email address; the row is deleted"),
        "created_at": kept("row deleted anyway"),
        "expires_at": kept("row deleted anyway"),
        "used_at": kept("row deleted anyway"),
    },
    "passkeys": {
        **_IDS,
        "organization_id": key("tenant (none for a staff user's passkey)"),
        "principal_type": key("principal reference"),
        "principal_id": key("principal reference"),
        "credential_id": personal(DELETE, "identifies the person's authenticator; " + _DELETED_ROW),
        "public_key": personal(DELETE, "the authenticator's key; " + _DELETED_ROW),
        "sign_count": personal(DELETE, _DELETED_ROW),
        "name": personal(DELETE, 'chosen by the person ("Anna\'s phone"); ' + _DELETED_ROW),
        "transports": personal(DELETE, _DELETED_ROW),
        "backed_up": personal(DELETE, _DELETED_ROW),
        "created_at": kept("row deleted anyway"),
        "last_used_at": kept("row deleted anyway"),
    },
    "audit_events": {
        **_IDS,
        **_ORG,
        "actor_type": kept("proof: who acted"),
        "actor_id": key("public id of the actor"),
        "action": kept("proof: what was done"),
        "resource_type": kept("proof: on which record"),
        "resource_id": key("public id of the record"),
        "customer_id": key("public id of the customer the event is about (the admin timeline)"),
        "changed_fields": kept("field names only, never values"),
        "details": kept("statuses, counts and ids only, never personal values (audit.record's rule)"),
        "created_at": kept("proof: when"),
    },
    "outbox_messages": {
        **_IDS,
        **_ORG,
        "customer_id": key("lets anonymization find what a message holds"),
        "kind": kept("delivery bookkeeping"),
        "topic": kept("delivery bookkeeping"),
        "payload": personal(
            REPLACE,
            "undelivered emails are deleted, delivered ones emptied; events keep their ids (type, id, request)",
        ),
        "created_at": kept("delivery bookkeeping"),
        "available_at": kept("delivery bookkeeping"),
        "attempts": kept("delivery bookkeeping"),
        "last_error": kept("an exception class name"),
        "delivered_at": kept("delivery bookkeeping"),
        "recipients": personal(CLEAR, "email addresses: emptied (or the undelivered row deleted)"),
    },
    "webhooks": {
        **_IDS,
        **_STAMPS,
        **_ORG,
        **_REFERENCES_KEPT,
        "name": kept("merchant configuration"),
        "topic": kept("merchant configuration"),
        "callback_url": kept("the merchant's endpoint, not a person's"),
        "include_resources": kept("merchant configuration"),
        "shared_secret": kept("the merchant's signing key, not a person's data"),
        "disabled_at": kept("merchant configuration"),
        "circuit_state": kept("delivery bookkeeping"),
        "circuit_failure_count": kept("delivery bookkeeping"),
    },
    "event_callbacks": {
        **_IDS,
        **_STAMPS,
        **_ORG,
        "webhook_id": key(),
        "outbox_message_id": key(),
        "customer_id": key("lets anonymization find what a delivery holds"),
        "topic": kept("delivery bookkeeping"),
        "callback_url": kept("the merchant's endpoint, not a person's"),
        "payload": personal(REPLACE, "the record's JSON:API document: reduced to its type and id"),
        "available_at": kept("delivery bookkeeping"),
        "attempts": kept("delivery bookkeeping"),
        "response_code": kept("delivery bookkeeping"),
        "response_message": personal(CLEAR, "the receiver's answer may echo the body"),
        "delivered_at": kept("delivery bookkeeping"),
        "failed_at": kept("delivery bookkeeping"),
    },
}

# Tables that exist only in migrations (no model): SQLite's FTS5 trigram index over customers.email and its shadow
# tables. It is external-content and follows customers.email through triggers; erasure merges it
# (`traces.purge_search_index`), so the trigrams of replaced emails do not linger in old segments.
_SEARCH_INDEX = "derived from customers.email (search index), rewritten when the email is replaced"
MIGRATION_ONLY: dict[str, dict[str, Rule]] = {
    "customers_email_fts": {"email": derived(_SEARCH_INDEX)},
    "customers_email_fts_data": {"id": key(), "block": derived(_SEARCH_INDEX)},
    "customers_email_fts_idx": {"segid": key(), "term": derived(_SEARCH_INDEX), "pgno": key()},
    "customers_email_fts_docsize": {"id": key(), "sz": derived("token counts")},
    "customers_email_fts_config": {"k": kept("index configuration"), "v": kept("index configuration")},
}
REGISTRY.update(MIGRATION_ONLY)


def unclassified(metadata: MetaData) -> list[str]:
    """`table.column` names present in `metadata` but missing from the registry."""
    return [
        f"{table.name}.{column.name}"
        for table in metadata.sorted_tables
        for column in table.columns
        if column.name not in REGISTRY.get(table.name, {})
    ]


def columns(kind: Kind, erasure: Erasure | None = None) -> list[str]:
    """`table.column` names of one kind (and erasure), for reviews and tests."""
    return [
        f"{table}.{name}"
        for table, rules in REGISTRY.items()
        for name, rule in rules.items()
        if rule.kind is kind and (erasure is None or rule.erasure is erasure)
    ]
