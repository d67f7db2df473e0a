"""`flask --app portal rotate-signing-key`: registered on the oauth blueprint, at the top level."""

from __future__ import annotations

import click
from flask import current_app
from sqlalchemy import func, select

from portal import db
from portal.models import Application
from portal.oauth import bp
from portal.security import signing_keys
from portal.security.tokens import DEFAULT_LIFETIMES


@bp.cli.command("rotate-signing-key")
def rotate_signing_key() -> None:
    """Add a new RS512 signing key; keep older keys only while tokens they signed can still be alive."""
    app = current_app._get_current_object()
    longest = max(int(app.config[name]) for name in DEFAULT_LIFETIMES.values())
    custom = db.session.scalar(select(func.max(Application.access_token_lifetime))) or 0
    try:
        kid = signing_keys.rotate(app, max_token_lifetime=max(longest, custom))
    except RuntimeError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"new signing key {kid}; the JWKS now has {len(signing_keys.jwks(app)['keys'])} key(s)")
