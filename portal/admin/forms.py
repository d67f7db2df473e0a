"""One form class per submitted admin form (the HTML validation boundary; services re-check everything)."""

from __future__ import annotations

import json

from wtforms import (
    BooleanField,
    ColorField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from portal.forms import Form
from portal.models import (
    Application,
    Customer,
    CustomerGroup,
    Organization,
    Passkey,
    Tag,
    User,
    Webhook,
    column_length,
)
from portal.services import attachments


def choices(pairs) -> list[SelectChoice]:
    """WTForms 3.3 wants SelectChoice objects rather than (value, label) tuples."""
    return [SelectChoice(value, label) for value, label in pairs]


ROLES = choices([("read_only", "Read-only"), ("admin", "Admin")])


class LoginForm(Form):
    email = EmailField(
        "Email",
        validators=[DataRequired(), Email(), Length(max=column_length(User.email))],
        # "webauthn": the browser may offer the user's passkeys in this field (static/js/passkeys.js)
        render_kw={"autocomplete": "username webauthn"},
    )
    password = PasswordField("Password", validators=[DataRequired(), Length(max=128)])


class CodeForm(Form):
    code = StringField(
        "Authentication code",
        validators=[DataRequired(), Length(min=6, max=20)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )


class PasskeyNameForm(Form):
    name = StringField("Passkey name", validators=[Length(max=column_length(Passkey.name))])


class PasswordConfirmForm(Form):
    password = PasswordField("Password", validators=[DataRequired(), Length(max=128)])


class ConfirmForm(Form):
    """A POST with only the CSRF token: the confirmation step of a dangerous action."""


def _json_text(data: str | None) -> str:
    """Blank metadata (Optional() lets whitespace through unchecked) means an empty object."""
    return (data or "").strip() or "{}"


class CustomerForm(Form):
    email = EmailField(
        "Email", validators=[DataRequired(), Email(), Length(max=column_length(Customer.email))]
    )
    shopper_reference = StringField(
        "Shopper reference",
        validators=[DataRequired(), Length(min=3, max=column_length(Customer.shopper_reference))],
    )
    reference = StringField(
        "Reference", validators=[Optional(), Length(max=column_length(Customer.reference))]
    )
    reference_origin = StringField(
        "Reference origin", validators=[Optional(), Length(max=column_length(Customer.reference_origin))]
    )
    tax_exemption_code = StringField(
        "Tax exemption code", validators=[Optional(), Length(max=column_length(Customer.tax_exemption_code))]
    )
    metadata_json = TextAreaField("Metadata (JSON object)", validators=[Optional(), Length(max=20000)])

    def validate_metadata_json(self, field):
        try:
            value = json.loads(_json_text(field.data))
        except ValueError as exc:
            raise ValidationError(f"is not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if not isinstance(value, dict):
            raise ValidationError('must be a JSON object, like {"key": "value"}')

    def attributes(self) -> dict:
        return {
            "email": self.email.data,
            "shopper_reference": self.shopper_reference.data,
            "reference": self.reference.data or None,
            "reference_origin": self.reference_origin.data or None,
            "tax_exemption_code": self.tax_exemption_code.data or None,
            "metadata": json.loads(_json_text(self.metadata_json.data)),
        }


class GroupForm(Form):
    name = StringField("Name", validators=[DataRequired(), Length(max=column_length(CustomerGroup.name))])
    code = StringField("Code", validators=[Optional(), Length(max=column_length(CustomerGroup.code))])
    reference = StringField(
        "Reference", validators=[Optional(), Length(max=column_length(CustomerGroup.reference))]
    )

    def attributes(self) -> dict:
        return {
            "name": self.name.data,
            "code": self.code.data or None,
            "reference": self.reference.data or None,
        }


class AssignGroupForm(Form):
    group = SelectField("Group", choices=[], validate_choice=True)


class BulkAssignForm(Form):
    ids = SelectMultipleField("Customers", choices=[], validate_choice=False, validators=[DataRequired()])
    group = SelectField("Group", choices=[], validate_choice=True)
    confirmed = BooleanField("Confirmed")


class TagForm(Form):
    name = StringField("Tag", validators=[DataRequired(), Length(max=column_length(Tag.name))])


class NoteForm(Form):
    text = TextAreaField("Note", validators=[DataRequired(), Length(max=attachments.DESCRIPTION_MAX)])


class BulkTagForm(Form):
    ids = SelectMultipleField("Customers", choices=[], validate_choice=False, validators=[DataRequired()])
    tag = SelectField("Tag", choices=[], validate_choice=True, validators=[DataRequired()])
    action = SelectField(
        "Action", choices=choices([("add", "Add"), ("remove", "Remove")]), validate_choice=True
    )
    confirmed = BooleanField("Confirmed")


class MarketGroupForm(Form):
    group = SelectField("Private to group", choices=[], validate_choice=True)


class RejectForm(Form):
    reason = TextAreaField("Reason (sent to the shopper)", validators=[DataRequired(), Length(max=2000)])


class SettingsForm(Form):
    name = StringField(
        "Organization name", validators=[DataRequired(), Length(max=column_length(Organization.name))]
    )
    # a colour picker in the browser; the service still checks the hex value whatever is posted
    primary_color = ColorField("Primary colour", validators=[DataRequired(), Length(min=7, max=7)])
    logo_url = StringField(
        "Logo URL (https)", validators=[Optional(), Length(max=column_length(Organization.logo_url))]
    )
    allowed_origins = TextAreaField(
        "Allowed storefront origins (one per line)", validators=[Length(max=5000)]
    )
    anonymization_delay_seconds = IntegerField(
        "Anonymization delay (seconds, empty for the default)",
        validators=[Optional(), NumberRange(min=0, max=90 * 86400)],
    )
    require_admin_2fa = BooleanField("Require two-factor authentication for admins")
    password_grant = BooleanField("Allow the OAuth2 password grant (storefronts collecting passwords)")

    def values(self) -> dict:
        return {
            "name": self.name.data,
            "primary_color": self.primary_color.data,
            "logo_url": self.logo_url.data,
            "allowed_origins": (self.allowed_origins.data or "").splitlines(),
            "anonymization_delay_seconds": self.anonymization_delay_seconds.data,
            "require_admin_2fa": self.require_admin_2fa.data,
            "password_grant": self.password_grant.data,
        }


class InviteForm(Form):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=column_length(User.email))])
    role = SelectField("Role", choices=ROLES)


class RoleForm(Form):
    role = SelectField("Role", choices=ROLES)


class ApplicationForm(Form):
    """Shares the settings page with the organization and invite forms: its own ids, so its labels reach its fields."""

    name = StringField(
        "Name",
        id="application-name",
        validators=[DataRequired(), Length(max=column_length(Application.name))],
    )
    kind = SelectField(
        "Kind",
        choices=choices(
            [
                ("integration", "Integration"),
                ("sales_channel", "Sales channel"),
                ("webapp", "Webapp (acts for staff)"),
            ]
        ),
    )
    role = SelectField("Role (integrations)", id="application-role", choices=ROLES)
    redirect_uris = TextAreaField(
        "Redirect URIs (sales channels and webapps, one per line)", validators=[Length(max=5000)]
    )


class RedirectUrisForm(Form):
    redirect_uris = TextAreaField("Redirect URIs, one per line", validators=[Length(max=5000)])


class AcceptInviteForm(Form):
    first_name = StringField(
        "First name", validators=[DataRequired(), Length(max=column_length(User.first_name))]
    )
    last_name = StringField("Last name", validators=[Optional(), Length(max=column_length(User.last_name))])
    password = PasswordField("Password", validators=[InputRequired(), Length(min=8, max=128)])
    confirm = PasswordField("Repeat password", validators=[EqualTo("password", "must match the password")])


class WebhookForm(Form):
    name = StringField("Name", validators=[Optional(), Length(max=column_length(Webhook.name))])
    topic = SelectField("Topic", choices=[], validate_choice=True)
    callback_url = StringField(
        "Callback URL (https)", validators=[DataRequired(), Length(max=column_length(Webhook.callback_url))]
    )
    include_resources = StringField("Include resources (comma-separated)", validators=[Length(max=640)])

    def attributes(self) -> dict:
        includes = [name.strip() for name in (self.include_resources.data or "").split(",") if name.strip()]
        return {
            "name": self.name.data or None,
            "topic": self.topic.data,
            "callback_url": self.callback_url.data,
            "include_resources": includes,
        }
