"""The shopper area: sign-up, login, profile, password, addresses, orders, privacy — embeddable in a storefront."""

from flask import Blueprint

bp = Blueprint("shop", __name__, url_prefix="/<org_slug>/account")
