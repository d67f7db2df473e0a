"""Demo data: one organization with public and private markets, staff, API credentials and a dozen customers."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from portal import db
from portal.models import Application, CustomerGroup, Organization
from portal.models.orders import OrderStatus
from portal.models.staff import ApplicationKind
from portal.services import addresses, attachments, customers, groups, orders, orgs, subscriptions, tags
from portal.services.audit import SYSTEM, Actor

SLUG = "demo"
PASSWORD = "demo-portal-2026"  # noqa: S105 - printed demo credential, refused in production mode
# The sample storefront (`make run`, examples/storefront.py) signs shoppers in with the authorization code flow.
STOREFRONT_CALLBACK = "http://localhost:5001/callback"
STOREFRONT_SIGNED_OUT = "http://localhost:5001/signed-out"  # where /oauth/logout sends the shopper back

GROUPS = [("VIP", "vip"), ("Wholesale", "wholesale"), ("Staff", "staff")]
# email, registered?, group code, order statuses, address (city, country)
CUSTOMERS: list[tuple[str, bool, str | None, list[str], tuple[str, str] | None]] = [
    ("ada@example.com", True, "vip", ["placed", "approved", "placed"], ("London", "GB")),
    ("grace@example.com", True, "vip", ["placed"], ("Arlington", "US")),
    ("alan@example.com", True, None, ["approved", "cancelled"], ("Manchester", "GB")),
    ("katherine@example.com", True, "wholesale", ["placed", "draft"], ("Hampton", "US")),
    ("edsger@example.com", True, None, ["pending"], ("Rotterdam", "NL")),
    ("barbara@example.com", True, None, [], ("Boston", "US")),
    ("donald@example.com", False, None, ["placed"], ("Stanford", "US")),
    ("margaret@example.com", False, None, ["placed", "placed"], ("Paoli", "US")),
    ("tim@example.com", True, "staff", [], None),
    ("radia@example.com", False, None, ["draft"], None),
    ("frances@example.com", True, "wholesale", ["approved"], ("Toronto", "CA")),
    ("john@example.com", False, None, [], None),
]


# Tags per customer, and who has a staff note and a newsletter consent.
TAGS = {"ada@example.com": ["early_adopter", "newsletter_2026"], "grace@example.com": ["early_adopter"]}
NOTE = ("ada@example.com", "Asked for gift wrapping on every order.\nPrefers email, not phone.")


# What the demo orders hold: each basket adds up to the orders' 42.00 EUR subtotal.
BASKETS = [
    [("MUG-CER-01", "Ceramic mug, sage green", 2, 1400), ("TEA-EB-250", "Breakfast tea, 250 g", 1, 1400)],
    [("TOTE-ORG-01", "Organic cotton tote bag", 1, 1800), ("NOTE-A5-DOT", "Dotted A5 notebook", 2, 1200)],
    [("CANDLE-FIG", "Fig and cedar scented candle", 3, 1400)],
]


def _org() -> Organization:
    org = db.session.scalar(select(Organization).where(Organization.slug == SLUG))
    if org is None:
        org = orgs.create_org(SYSTEM, slug=SLUG, name="Demo Store")
        org.allowed_origins = ["http://localhost:5001"]
        org.anonymization_delay_seconds = 120  # minutes, not the production day, so the demo shows the worker
        orgs.create_market(SYSTEM, org, name="Europe", code="europe")
        vip_market = orgs.create_market(SYSTEM, org, name="VIP private sales", code="vip")
        created = {
            code: groups.create_group(SYSTEM, org, {"name": name, "code": code}) for name, code in GROUPS
        }
        groups.set_market_group(SYSTEM, org, vip_market, created["vip"])
    return org


def _user(org: Organization, email: str, first: str, last: str, role: str) -> None:
    user = orgs.find_user(email) or orgs.create_user(
        SYSTEM, email=email, password=PASSWORD, first_name=first, last_name=last
    )
    orgs.set_membership(SYSTEM, org, user, role)


def _application(
    org: Organization | None, name: str, kind: ApplicationKind, **options: Any
) -> dict[str, Any]:
    """Find or create the demo application; confidential ones get a fresh secret on every run (shown once)."""
    query = select(Application).where(Application.name == name, Application.kind == kind)
    application = db.session.scalar(query)
    if application is None:
        application, secret = orgs.create_application(SYSTEM, org, name=name, kind=kind, **options)
    else:
        missing = [uri for uri in options.get("redirect_uris", []) if uri not in application.redirect_uris]
        if missing:  # a demo database from before them
            application.redirect_uri = "\n".join([*application.redirect_uris, *missing])
        secret = orgs.rotate_secret(SYSTEM, application) if application.confidential else None
    return {"name": name, "kind": kind.value, "client_id": application.client_id, "client_secret": secret}


def _customers(org: Organization) -> None:
    market = groups.find_market(org, code="europe")
    vip_market = groups.find_market(org, code="vip")
    for email, registered, group_code, statuses, place in CUSTOMERS:
        if customers.find_by_email(org, email) is not None:
            continue
        attributes: dict[str, Any] = {"email": email}
        if registered:
            attributes["password"] = PASSWORD
        group = next((g for g in _groups(org) if g.code == group_code), None)
        customer = customers.create_customer(SYSTEM, org, attributes, customer_group=group)
        if (
            registered
        ):  # the store vouches for its demo shoppers: a sign-in code keeps the printed password working
            customer.email_verified_at = db.utcnow()
        address = None
        if place:
            first = email.split("@")[0].title()
            address = {
                "first_name": first,
                "last_name": "Example",
                "line_1": "1 Main Street",
                "city": place[0],
                "zip_code": "12345",
                "country_code": place[1],
                "phone": "+44 20 7946 0000",
            }
            addresses.add_to_address_book(SYSTEM, org, customer, address)
        for status in statuses:
            where = vip_market if group_code == "vip" else market
            order = orders.create_order(
                SYSTEM,
                org,
                where,
                {
                    "currency_code": "EUR",
                    "subtotal_amount_cents": 4200,
                    "total_tax_amount_cents": 924,
                    "total_amount_cents": 5124,
                },
                customer=customer,
                billing_address=address,
                shipping_address=address,
            )
            for sku, name, quantity, cents in BASKETS[order.id % len(BASKETS)]:
                orders.add_line_item(
                    org,
                    order,
                    {"sku_code": sku, "name": name, "quantity": quantity, "unit_amount_cents": cents},
                )
            if OrderStatus(status).counts_for_customer:
                orders.place_order(SYSTEM, org, order)
            order.status = OrderStatus(status)


def _groups(org: Organization) -> list[CustomerGroup]:
    return list(db.session.scalars(select(CustomerGroup).where(CustomerGroup.organization_id == org.id)))


def _annotations(org: Organization, admin: Any) -> None:
    """Tags, a staff note and a newsletter consent, once (the demo loads again on every `make run`)."""
    for email, names in TAGS.items():
        customer = customers.find_by_email(org, email)
        for name in names:
            tags.add_by_name(SYSTEM, org, customer, name)
    customer = customers.find_by_email(org, NOTE[0])
    if not attachments.attachments_of(org, customer):
        attachments.add_note(Actor.of_user(admin), org, customer, NOTE[1])
    subscriptions.set_newsletter(Actor.of_customer(customer), org, customer, True, source="shop")


def load() -> dict[str, Any]:
    org = _org()
    _user(org, "admin@demo.example", "Ada", "Admin", "admin")
    _user(org, "viewer@demo.example", "Vic", "Viewer", "read_only")
    _customers(org)
    admin = orgs.find_user("admin@demo.example")
    _annotations(org, admin)
    base = current_app.config["BASE_URL"]
    return {
        "base_url": base,
        "organization": {"slug": org.slug, "id": org.public_id, "name": org.name},
        "admin_area": {
            "url": f"{base}/admin/login",
            "password": PASSWORD,
            "users": [
                {"email": "admin@demo.example", "role": "admin"},
                {"email": "viewer@demo.example", "role": "read_only"},
            ],
        },
        "shopper_area": {
            "url": f"{base}/{org.slug}/account/login",
            "password": PASSWORD,
            "customers": [email for email, registered, *_ in CUSTOMERS if registered],
        },
        "applications": [
            _application(
                org,
                "Demo storefront",
                ApplicationKind.SALES_CHANNEL,
                redirect_uris=[STOREFRONT_CALLBACK, STOREFRONT_SIGNED_OUT],
            ),
            _application(org, "Demo integration", ApplicationKind.INTEGRATION, role="admin"),
            _application(None, "Provisioning (admin@demo.example)", ApplicationKind.USER, user=admin),
        ],
        "markets": {"public": "europe", "private": "vip (customer group VIP)"},
    }


def describe(details: dict[str, Any]) -> str:
    lines = [
        f"Demo organization '{details['organization']['name']}' ({details['organization']['slug']}) is ready.",
        "",
        f"Admin area:   {details['admin_area']['url']}",
    ]
    for user in details["admin_area"]["users"]:
        lines.append(f"  {user['email']:<24} password {details['admin_area']['password']}  ({user['role']})")
    lines += ["", f"Shopper area: {details['shopper_area']['url']}"]
    for email in details["shopper_area"]["customers"][:3]:
        lines.append(f"  {email:<24} password {details['shopper_area']['password']}")
    lines += ["  (and more: flask --app portal demo --json lists them all)", "", "API credentials:"]
    for app in details["applications"]:
        secret = f"  client_secret {app['client_secret']}" if app["client_secret"] else ""
        lines.append(f"  {app['name']:<32} {app['kind']:<14} client_id {app['client_id']}{secret}")
    lines += ["", "Secrets are stored hashed: each run of `demo` rotates them and prints the new ones."]
    return "\n".join(lines)
