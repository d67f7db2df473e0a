"""SQLAlchemy models. Importing this package registers every table on `Base.metadata`."""

from typing import Any

from portal.models.audit import AuditEvent, OutboxMessage
from portal.models.auth import ActionToken, LoginSession, OAuthToken, ThrottleCounter, UsedAssertion
from portal.models.customers import (
    Address,
    AnonymizationRequest,
    Customer,
    CustomerAddress,
    CustomerCount,
    DeletionRequest,
    PasswordReset,
)
from portal.models.oauth import AuthorizationCode, OAuthConsent
from portal.models.orders import LineItem, Order
from portal.models.orgs import CustomerGroup, Market, Organization
from portal.models.passkeys import Passkey
from portal.models.staff import Application, Membership, User
from portal.models.tags import Attachment, CustomerSubscription, Tag, customer_tags
from portal.models.webhooks import EventCallback, Webhook


def column_length(column: Any) -> int:
    """A string column's declared length (`Customer.email` or `table.c.email`): the one source for the services'
    and forms' length checks, so a number is never re-typed beside the schema."""
    return column.type.length  # type: ignore[no-any-return]


__all__ = [
    "ActionToken",
    "Address",
    "AnonymizationRequest",
    "Application",
    "Attachment",
    "AuditEvent",
    "AuthorizationCode",
    "Customer",
    "CustomerAddress",
    "CustomerCount",
    "CustomerGroup",
    "CustomerSubscription",
    "DeletionRequest",
    "EventCallback",
    "LineItem",
    "LoginSession",
    "Market",
    "Membership",
    "OAuthConsent",
    "OAuthToken",
    "Order",
    "Organization",
    "OutboxMessage",
    "Passkey",
    "PasswordReset",
    "Tag",
    "ThrottleCounter",
    "UsedAssertion",
    "User",
    "Webhook",
    "column_length",
    "customer_tags",
]
