"""The shopper area's forms: one class per submitted form. They check shape; the services check the rules."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length, Optional

from portal.services import addresses

REQUIRED = _l("can't be blank")


class NewPasswordMixin:
    password = PasswordField(
        _l("New password"),
        validators=[InputRequired(REQUIRED), Length(max=128)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[InputRequired(REQUIRED), EqualTo("password", _l("doesn't match the password"))],
        render_kw={"autocomplete": "new-password"},
    )


class EmailMixin:
    email = EmailField(
        _l("Email"),
        validators=[InputRequired(REQUIRED), Length(max=254)],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )


class LoginForm(EmailMixin, FlaskForm):
    password = PasswordField(
        _l("Password"), validators=[InputRequired(REQUIRED)], render_kw={"autocomplete": "current-password"}
    )
    market = HiddenField()
    next = HiddenField()


class SignupForm(EmailMixin, NewPasswordMixin, FlaskForm):
    pass


class ForgotPasswordForm(EmailMixin, FlaskForm):
    pass


class ResetPasswordForm(NewPasswordMixin, FlaskForm):
    token = HiddenField()


class CurrentPasswordMixin:
    current_password = PasswordField(
        _l("Current password"),
        validators=[InputRequired(REQUIRED)],
        render_kw={"autocomplete": "current-password"},
    )


class ChangePasswordForm(CurrentPasswordMixin, NewPasswordMixin, FlaskForm):
    pass


class ChangeEmailForm(CurrentPasswordMixin, FlaskForm):
    email = EmailField(
        _l("New email"),
        validators=[InputRequired(REQUIRED), Length(max=254)],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )


class ActionForm(FlaskForm):
    """A button that changes state: only the CSRF token travels."""


class AddressForm(FlaskForm):
    first_name = StringField(
        _l("First name"), validators=[Length(max=255)], render_kw={"autocomplete": "given-name"}
    )
    last_name = StringField(
        _l("Last name"), validators=[Length(max=255)], render_kw={"autocomplete": "family-name"}
    )
    company = StringField(
        _l("Company (optional)"),
        validators=[Optional(), Length(max=255)],
        render_kw={"autocomplete": "organization"},
    )
    line_1 = StringField(
        _l("Street address"),
        validators=[InputRequired(REQUIRED), Length(max=255)],
        render_kw={"autocomplete": "address-line1"},
    )
    line_2 = StringField(
        _l("Apartment, suite (optional)"),
        validators=[Length(max=255)],
        render_kw={"autocomplete": "address-line2"},
    )
    city = StringField(
        _l("City"),
        validators=[InputRequired(REQUIRED), Length(max=255)],
        render_kw={"autocomplete": "address-level2"},
    )
    zip_code = StringField(
        _l("Postcode"), validators=[Length(max=32)], render_kw={"autocomplete": "postal-code"}
    )
    state_code = StringField(
        _l("State or region (optional)"),
        validators=[Length(max=32)],
        render_kw={"autocomplete": "address-level1"},
    )
    country_code = StringField(
        _l("Country code"),
        validators=[InputRequired(REQUIRED), Length(min=2, max=2, message=_l("must be 2 letters, e.g. FR"))],
        render_kw={"autocomplete": "country", "maxlength": "2", "size": "3"},
    )
    phone = StringField(
        _l("Phone"), validators=[InputRequired(REQUIRED), Length(max=64)], render_kw={"autocomplete": "tel"}
    )

    def attributes(self) -> dict[str, str | None]:
        """The address attributes for the service ("" becomes None; the service decides what is required)."""
        return {name: (self[name].data or "").strip() or None for name in ADDRESS_FIELDS}


ADDRESS_FIELDS = addresses.POSTAL_FIELDS
