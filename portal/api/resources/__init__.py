"""The API's resource definitions, one module per family, registered in `portal.api.registry.REGISTRY`."""

from __future__ import annotations

from portal.api.registry import REGISTRY, register
from portal.api.resources import (
    addresses,
    customers,
    event_stores,
    groups,
    orders,
    password_resets,
    subscriptions,
    tags,
    webhooks,
)

register(
    customers.CUSTOMERS,
    groups.CUSTOMER_GROUPS,
    groups.MARKETS,
    addresses.ADDRESSES,
    addresses.CUSTOMER_ADDRESSES,
    orders.ORDERS,
    password_resets.PASSWORD_RESETS,
    webhooks.WEBHOOKS,
    webhooks.EVENTS,
    webhooks.EVENT_CALLBACKS,
    tags.TAGS,
    subscriptions.CUSTOMER_SUBSCRIPTIONS,
    subscriptions.ATTACHMENTS,
    event_stores.EVENT_STORES,
)

__all__ = ["REGISTRY"]
