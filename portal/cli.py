"""Operator commands: `flask --app portal <command>`."""

from __future__ import annotations

import json
import logging.config
import os
import sys

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from portal import db, migrate
from portal.errors import DomainError
from portal.services import orgs
from portal.services.audit import SYSTEM


def _fail(error: DomainError) -> None:
    where = f"{error.field}: " if error.field else ""
    raise click.ClickException(f"{where}{error.message}")


@click.command("db-upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest revision."""
    migrate.upgrade(current_app.config["DATABASE_URL"])
    click.echo("database is up to date")


@click.command("db-revision")
@click.option("-m", "--message", required=True)
@with_appcontext
def db_revision(message: str) -> None:
    """Autogenerate a migration from the models (review it before committing)."""
    migrate.revision(current_app.config["DATABASE_URL"], message)


@click.command("create-org")
@click.option("--slug", required=True)
@click.option("--name", required=True)
@with_appcontext
def create_org(slug: str, name: str) -> None:
    """Create an organization (tenant) with one public market."""
    try:
        org = orgs.create_org(SYSTEM, slug=slug, name=name)
        orgs.create_market(SYSTEM, org, name=name, code="default")
    except DomainError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"organization {org.slug} created (id {org.public_id})")


@click.command("create-user")
@click.option("--email", required=True)
@click.option("--org", "org_slug", required=True, help="organization slug")
@click.option("--role", type=click.Choice(["admin", "read_only"]), default="admin", show_default=True)
@click.option("--first-name", default="")
@click.option("--last-name", default="")
@click.password_option()
@with_appcontext
def create_user(email: str, org_slug: str, role: str, first_name: str, last_name: str, password: str) -> None:
    """Create a staff user (or give an existing one a role) in an organization."""
    try:
        org = orgs.get_org(org_slug)
        user = orgs.find_user(email) or orgs.create_user(
            SYSTEM, email=email, password=password, first_name=first_name, last_name=last_name
        )
        orgs.set_membership(SYSTEM, org, user, role)
    except DomainError as error:
        _fail(error)
    db.session.commit()
    click.echo(f"user {user.email} is {role} of {org.slug} (id {user.public_id})")


@click.command("create-application")
@click.option("--org", "org_slug", help="organization slug (not for --kind user)")
@click.option("--kind", type=click.Choice(["sales_channel", "integration", "webapp", "user"]), required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["admin", "read_only"]), default="admin", show_default=True)
@click.option("--user-email", help="owner of provisioning (--kind user) credentials")
@click.option(
    "--redirect-uri", "redirect_uris", multiple=True, help="authorization code redirect URI (repeatable)"
)
@with_appcontext
def create_application(
    org_slug: str | None,
    kind: str,
    name: str,
    role: str,
    user_email: str | None,
    redirect_uris: tuple[str, ...],
) -> None:
    """Create API credentials. The secret is printed once and stored hashed."""
    try:
        org = orgs.get_org(org_slug) if org_slug else None
        user = orgs.find_user(user_email) if user_email else None
        if kind == "user" and user is None:
            raise click.ClickException("--user-email must name an existing user")
        application, secret = orgs.create_application(
            SYSTEM, org, name=name, kind=kind, role=role, user=user, redirect_uris=list(redirect_uris)
        )
    except DomainError as error:
        _fail(error)
    db.session.commit()
    click.echo(json.dumps({"client_id": application.client_id, "client_secret": secret, "kind": kind}))


@click.command("demo")
@click.option("--json", "as_json", is_flag=True, help="print the credentials as one JSON object")
@with_appcontext
def demo(as_json: bool) -> None:
    """Create (idempotently) the demo organization and print every login and credential."""
    from portal.demo import org as demo_data

    if current_app.config["ENV_MODE"] == "production":
        raise click.ClickException("demo data is not created in production mode")
    details = demo_data.load()
    db.session.commit()
    if as_json:
        click.echo(json.dumps(details, indent=2))
    else:
        click.echo(demo_data.describe(details))


@click.command("seed")
@click.option("--org", "org_slug", required=True)
@click.option("--customers", "count", type=click.IntRange(1, 10_000_000), required=True)
@click.option("--batch", type=click.IntRange(100, 200_000), default=20_000, show_default=True)
@with_appcontext
def seed(org_slug: str, count: int, batch: int) -> None:
    """Bulk-load realistic customers, with addresses and orders, into an organization."""
    from portal.demo import seeding

    try:
        org = orgs.get_org(org_slug)
    except DomainError as error:
        _fail(error)
    with click.progressbar(length=count, label=f"seeding {org_slug}", file=sys.stderr) as bar:
        seeding.seed(org, count, batch=batch, progress=bar.update)


@click.command("worker")
@click.option("--once", is_flag=True, help="run what is due, then exit")
@click.option("--interval", type=click.FloatRange(0.1, 3600), default=2.0, show_default=True)
@with_appcontext
def worker(once: bool, interval: float) -> None:
    """Run background jobs: the email outbox and due anonymization requests."""
    from portal.jobs import worker as worker_module
    from portal.ops import logs

    if not logging.getLogger().handlers:  # JSON lines on stderr, unless the host configured logging already
        logging.config.dictConfig(logs.dict_config(os.environ.get("PORTAL_LOG_LEVEL", "INFO").upper()))

    worker_module.run(current_app._get_current_object(), once=once, interval=interval)


@click.command("rotate-signing-key")
@click.option(
    "--publish-for",
    type=click.IntRange(0, 7 * 24 * 3600),
    default=0,
    show_default=True,
    help="Seconds the new key is only published (verifies, in the JWKS) before it signs: longer than rolling the "
    "new key set out to every instance.",
)
@with_appcontext
def rotate_signing_key(publish_for: int) -> None:
    """Add a new RS512 signing key; keep older keys only while tokens they signed can still be alive."""
    from portal.models import Application
    from portal.security import signing_keys
    from portal.security.tokens import DEFAULT_LIFETIMES

    app = current_app._get_current_object()
    longest = max(int(app.config[name]) for name in DEFAULT_LIFETIMES.values())
    custom = db.session.scalar(select(func.max(Application.access_token_lifetime))) or 0
    try:
        kid = signing_keys.rotate(app, max_token_lifetime=max(longest, custom), publish_for=publish_for)
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    when = f"signs in {publish_for} s" if publish_for else "signs from now"
    click.echo(
        f"new signing key {kid} ({when}); the JWKS now has {len(signing_keys.jwks(app)['keys'])} key(s)"
    )


def init_app(app: Flask) -> None:
    commands = (db_upgrade, db_revision, create_org, create_user, create_application, demo, seed, worker)
    for command in (*commands, rotate_signing_key):
        app.cli.add_command(command)
