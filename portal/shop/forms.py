"""The shopper area's forms: one class per submitted form. Sizes come from the model columns, messages from
portal.forms; the services' own rules run as validators too, so every problem is reported at once."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import AnyOf, EqualTo, Length

from portal.forms import COUNTRY_CODE, PASSWORDS_DIFFER, TOO_LONG, Form, fits, required, service_check
from portal.models import Address, Customer, Passkey
from portal.security import passwords
from portal.services import addresses, validation

ADDRESS = Address.__table__.c


class NewPasswordMixin:
    password = PasswordField(
        _l("New password"),
        validators=[required("password"), service_check(passwords.check_policy)],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[required("confirm"), EqualTo("password", PASSWORDS_DIFFER)],
        render_kw={"autocomplete": "new-password"},
    )


class EmailMixin:
    email = EmailField(
        _l("Email"),
        validators=[required("email"), fits(Customer.__table__.c.email), service_check(validation.email)],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )


class LoginForm(Form):
    email = EmailField(
        _l("Email"),
        validators=[required("email"), fits(Customer.__table__.c.email)],
        # "webauthn": the browser may offer the org's passkeys in this field (conditional UI, static/js/passkeys.js)
        render_kw={"autocomplete": "username webauthn", "spellcheck": "false"},
    )
    password = PasswordField(
        _l("Password"), validators=[required("password")], render_kw={"autocomplete": "current-password"}
    )
    market = HiddenField()
    next = HiddenField()


class CodeRequestForm(EmailMixin, Form):
    """Sign in with an emailed one-time code instead of a password (step 1: the address)."""

    market = HiddenField()
    next = HiddenField()


class CodeSignInForm(Form):
    """Step 2: the six digits from the email."""

    code = StringField(
        _l("Sign-in code"),
        validators=[required("code"), Length(max=20, message=TOO_LONG)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"},
    )
    market = HiddenField()
    next = HiddenField()


class PasskeyNameForm(Form):
    name = StringField(
        _l("Passkey name"), validators=[fits(Passkey.__table__.c.name)], render_kw={"autocomplete": "off"}
    )


class SignupForm(EmailMixin, NewPasswordMixin, Form):
    next = HiddenField()


class ForgotPasswordForm(EmailMixin, Form):
    next = HiddenField()


class ResetPasswordForm(NewPasswordMixin, Form):
    token = HiddenField()


class CurrentPasswordMixin:
    current_password = PasswordField(
        _l("Current password"),
        validators=[required("current_password")],
        render_kw={"autocomplete": "current-password"},
    )


class ChangePasswordForm(CurrentPasswordMixin, NewPasswordMixin, Form):
    pass


class ChangeEmailForm(CurrentPasswordMixin, Form):
    email = EmailField(
        _l("New email"),
        validators=[required("email"), fits(Customer.__table__.c.email), service_check(validation.email)],
        render_kw={"autocomplete": "email", "spellcheck": "false"},
    )


class ActionForm(Form):
    """A button that changes state: only the CSRF token travels."""


class NewsletterForm(Form):
    """Give or withdraw newsletter consent: the button says which."""

    subscribe = HiddenField(validators=[AnyOf(["yes", "no"])])


class AddressForm(Form):
    first_name = StringField(
        _l("First name"), validators=[fits(ADDRESS.first_name)], render_kw={"autocomplete": "given-name"}
    )
    last_name = StringField(
        _l("Last name"), validators=[fits(ADDRESS.last_name)], render_kw={"autocomplete": "family-name"}
    )
    company = StringField(
        _l("Company (optional)"),
        validators=[fits(ADDRESS.company)],
        render_kw={"autocomplete": "organization"},
    )
    line_1 = StringField(
        _l("Street address"),
        validators=[required("line_1"), fits(ADDRESS.line_1)],
        render_kw={"autocomplete": "address-line1"},
    )
    line_2 = StringField(
        _l("Apartment, suite (optional)"),
        validators=[fits(ADDRESS.line_2)],
        render_kw={"autocomplete": "address-line2"},
    )
    city = StringField(
        _l("City"),
        validators=[required("city"), fits(ADDRESS.city)],
        render_kw={"autocomplete": "address-level2"},
    )
    zip_code = StringField(
        _l("Postcode"), validators=[fits(ADDRESS.zip_code)], render_kw={"autocomplete": "postal-code"}
    )
    state_code = StringField(
        _l("State or region (optional)"),
        validators=[fits(ADDRESS.state_code)],
        render_kw={"autocomplete": "address-level1"},
    )
    country_code = StringField(
        _l("Country code"),
        validators=[required("country_code"), Length(min=2, max=2, message=COUNTRY_CODE)],
        render_kw={"autocomplete": "country", "size": "3"},
    )
    phone = StringField(
        _l("Phone"), validators=[required("phone"), fits(ADDRESS.phone)], render_kw={"autocomplete": "tel"}
    )

    def attributes(self) -> dict[str, str | None]:
        """The address attributes for the service ("" becomes None; the service decides what is required)."""
        return {name: (self[name].data or "").strip() or None for name in ADDRESS_FIELDS}


ADDRESS_FIELDS = addresses.POSTAL_FIELDS
