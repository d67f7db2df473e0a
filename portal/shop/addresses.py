"""The address book: list, add, edit and delete, inline with htmx and as plain pages without it.

Every response is the one page `shop/addresses/list.html` (or its `address_book` block for htmx); editing an
entry shows that entry as a form in place."""

from __future__ import annotations

from flask import abort, flash, g
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from portal.errors import Invalid
from portal.forms import show_error
from portal.models import CustomerAddress
from portal.security.routes import Policy, allow
from portal.services import addresses
from portal.services.audit import Actor
from portal.shop import bp, customer
from portal.shop.forms import ADDRESS_FIELDS, ActionForm, AddressForm
from portal.web import render, see_other

# add_to_address_book names fields `address.<field>` (its JSON:API pointer).
FIELD_MAP = {f"address.{name}": name for name in ADDRESS_FIELDS}


def _entry(address_id: str) -> CustomerAddress:
    return addresses.get_customer_address(g.org, address_id, customer())


def _page(*, status: int = 200, add_form=None, editing=None, edit_form=None) -> Response:
    return render(
        "shop/addresses/list.html",
        "address_book",
        status=status,
        entries=customer().customer_addresses,
        add_form=add_form or AddressForm(formdata=None),
        editing=editing,
        edit_form=edit_form,
        action_form=ActionForm(),
    )


@bp.get("/addresses")
@allow(Policy.SHOPPER)
def addresses_list() -> Response:
    return _page()


@bp.post("/addresses")
@allow(Policy.SHOPPER)
def addresses_create() -> Response:
    form = AddressForm()
    if form.validate_on_submit():
        me = customer()
        try:
            addresses.add_to_address_book(Actor.of_customer(me), g.org, me, form.attributes())
        except Invalid as error:
            show_error(form, error, field_map=FIELD_MAP)
        else:
            flash(_("Address added."), "success")
            return see_other("shop.addresses_list", fragment=True)
    return _page(status=422, add_form=form)


@bp.get("/addresses/<address_id>/edit")
@allow(Policy.SHOPPER)
def addresses_edit(address_id: str) -> Response:
    entry = _entry(address_id)
    form = AddressForm(formdata=None, data={f: getattr(entry.address, f) for f in ADDRESS_FIELDS})
    return _page(editing=entry, edit_form=form)


@bp.post("/addresses/<address_id>")
@allow(Policy.SHOPPER)
def addresses_update(address_id: str) -> Response:
    entry = _entry(address_id)
    form = AddressForm()
    if form.validate_on_submit():
        try:
            addresses.update_address(Actor.of_customer(customer()), g.org, entry.address, form.attributes())
        except Invalid as error:
            show_error(form, error, field_map=FIELD_MAP)
        else:
            flash(_("Address saved."), "success")
            return see_other("shop.addresses_list", fragment=True)
    return _page(status=422, editing=entry, edit_form=form)


@bp.post("/addresses/<address_id>/delete")
@allow(Policy.SHOPPER)
def addresses_delete(address_id: str) -> Response:
    entry = _entry(address_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    addresses.remove_from_address_book(Actor.of_customer(customer()), g.org, entry)
    flash(_("Address removed."), "success")
    return see_other("shop.addresses_list", fragment=True)
