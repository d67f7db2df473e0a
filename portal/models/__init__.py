"""SQLAlchemy models. Importing this package registers every table on `Base.metadata`."""

from portal.models.audit import AuditEvent, OutboxMessage
from portal.models.auth import ActionToken, LoginSession, OAuthToken, ThrottleCounter, UsedAssertion
from portal.models.customers import (
    Address,
    AnonymizationRequest,
    Customer,
    CustomerAddress,
    DeletionRequest,
    PasswordReset,
)
from portal.models.orders import Order
from portal.models.orgs import CustomerGroup, Market, Organization
from portal.models.staff import Application, Membership, User

__all__ = [
    "ActionToken",
    "Address",
    "AnonymizationRequest",
    "Application",
    "AuditEvent",
    "Customer",
    "CustomerAddress",
    "CustomerGroup",
    "DeletionRequest",
    "LoginSession",
    "Market",
    "Membership",
    "OAuthToken",
    "Order",
    "Organization",
    "OutboxMessage",
    "PasswordReset",
    "ThrottleCounter",
    "UsedAssertion",
    "User",
]
