"""Customer search: the service (matching, filters, keyset pages, CSV) and the page (live fragment, export)."""

from __future__ import annotations

import csv
import io
import re

import pytest

from portal.services import groups, search
from portal.services.audit import SYSTEM
from tests.factories import PASSWORD, make_customer, make_group


@pytest.fixture()
def people(org, other_org):
    vip = make_group(org, "VIP")
    rows = {
        "anna": make_customer(org, "anna.smith@example.com", password=PASSWORD, group=vip),
        "hanna": make_customer(org, "hanna@shop.example.org", shopper_reference="SHOP-REF-1"),
        "bob": make_customer(org, "bob@example.com", reference="ERP-42"),
        "evil": make_customer(org, "evil@example.com", reference="=HYPERLINK(1)"),
    }
    make_customer(other_org, "anna.other@example.com")
    return vip, rows


def emails(org, **args):
    return [c.email for c in search.search(org, search.parse(args)).customers]


def test_matching(org, people):
    assert set(emails(org, q="anna")) == {"anna.smith@example.com", "hanna@shop.example.org"}  # substring
    assert emails(org, q="ANNA", match="prefix") == ["anna.smith@example.com"]  # prefix, case-insensitive
    assert emails(org, q="an") == [
        "hanna@shop.example.org",
        "anna.smith@example.com",
    ]  # short: a scan, still right
    assert emails(org, q="shop-ref-1") == []  # shopper_reference is exact and case-sensitive
    assert emails(org, q="SHOP-REF-1".lower()) == []
    assert emails(org, q="erp-4") == []  # references keep their case; "ERP-4" is matched as typed below


def test_reference_and_shopper_reference(org, people):
    query = search.Query(q="SHOP-REF-1")
    assert [c.email for c in search.search(org, query).customers] == ["hanna@shop.example.org"]
    query = search.Query(q="ERP-4")
    assert [c.email for c in search.search(org, query).customers] == ["bob@example.com"]


def test_filters(org, people):
    vip, rows = people
    assert emails(org, group=vip.public_id) == ["anna.smith@example.com"]
    assert "anna.smith@example.com" not in emails(org, group="none")
    assert emails(org, kind="registered") == ["anna.smith@example.com"]
    assert len(emails(org, kind="guest")) == 3
    assert emails(org, status="repeat") == []
    assert len(emails(org, status="prospect", anonymization="none")) == 4
    assert emails(org, created_to="2000-01-01") == []
    assert len(emails(org, created_from="2000-01-01", sort="email")) == 4


def test_keyset_pages_cover_everything_once(org):
    made = {make_customer(org).email for _ in range(7)}
    for sort in ("newest", "oldest", "email"):
        seen, after = [], ""
        while True:
            page = search.search(org, search.parse({"sort": sort, "after": after}), page_size=3)
            seen += [c.email for c in page.customers]
            if page.next_cursor is None:
                break
            after = page.next_cursor
        assert sorted(seen) == sorted(made) and len(seen) == len(made), sort


def test_sqlite_fts_follows_email_changes(org, people):
    from portal.services import customers

    _vip, rows = people
    customers.update_customer(SYSTEM, org, rows["bob"], {"email": "robert@example.com"})
    assert emails(org, q="robert") == ["robert@example.com"]
    assert emails(org, q="bob@") == []


def test_csv_safe():
    assert search.csv_safe("=1+1") == "'=1+1"
    for bad in ("+1", "-1", "@x", "\tx", "\rx"):
        assert search.csv_safe(bad).startswith("'")
    assert search.csv_safe("ok") == "ok"
    assert search.csv_safe(None) == ""


def test_page_live_fragment_and_export(as_reader, org, people, hx):
    response = as_reader.get(f"/admin/{org.slug}/customers?q=anna", headers=hx)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="results">')
    assert "anna.smith@example.com" in response.text and "bob@example.com" not in response.text
    full = as_reader.get(f"/admin/{org.slug}/customers?q=anna")
    assert "<html" in full.text and 'value="anna"' in full.text  # linkable: the page restores the search
    export = as_reader.get(f"/admin/{org.slug}/customers.csv?sort=email")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [r["email"] for r in rows][:2] == ["anna.smith@example.com", "bob@example.com"]
    assert next(r for r in rows if r["email"] == "evil@example.com")["reference"] == "'=HYPERLINK(1)"
    assert "anna.other@example.com" not in export.text


def test_the_count_line_agrees_with_the_count(as_reader, org, people):
    one = as_reader.get(f"/admin/{org.slug}/customers?q=bob").text
    assert "Showing 1 customer<" in one
    several = as_reader.get(f"/admin/{org.slug}/customers?q=example").text
    assert "Showing 4 customers<" in several


def test_bulk_assign_confirms_then_applies(as_admin, org, people):
    from tests.admin.conftest import token

    vip, rows = people
    gold = make_group(org, "Gold")
    csrf = token(as_admin, f"/admin/{org.slug}/customers")
    ids = [rows["bob"].public_id, rows["hanna"].public_id]
    confirm = as_admin.post(
        f"/admin/{org.slug}/customers/bulk", data={"ids": ids, "group": gold.public_id, "csrf_token": csrf}
    )
    assert confirm.status_code == 200 and "<strong>2</strong>" in confirm.text
    assert rows["bob"].customer_group_id is None
    done = as_admin.post(
        f"/admin/{org.slug}/customers/bulk",
        data={"ids": ids, "group": gold.public_id, "confirmed": "y", "csrf_token": csrf},
    )
    assert done.status_code == 303
    assert {c.email for c in search.search(org, search.Query(group=gold.public_id)).customers} == {
        "bob@example.com",
        "hanna@shop.example.org",
    }
    assert "2 customers updated." in as_admin.get(done.headers["Location"]).text
    one = as_admin.post(
        f"/admin/{org.slug}/customers/bulk",
        data={"ids": ids[:1], "group": vip.public_id, "confirmed": "y", "csrf_token": csrf},
    )
    assert "1 customer updated." in as_admin.get(one.headers["Location"]).text
    groups.bulk_assign(SYSTEM, org, ids, None)


def test_search_options_come_from_the_parser_tables(as_reader, org):
    """The page offers exactly what `search.parse` accepts: one definition, not a list re-typed in the template."""
    page = as_reader.get(f"/admin/{org.slug}/customers").text
    for name, options in search.CHOICES.items():
        select_html = re.search(rf'<select id="{name}" name="{name}"[^>]*>(.*?)</select>', page, re.S).group(
            1
        )
        offered = re.findall(r'<option(?: value="([^"]*)")?[^>]*>([^<]*)</option>', select_html)
        values = [value or label for value, label in offered if (value or label) not in ("", "Any", "none")]
        assert values == list(options), name
        for value in values:
            assert as_reader.get(f"/admin/{org.slug}/customers?{name}={value}").status_code == 200


def test_rows_name_their_group_with_no_query_per_row(app, as_reader, org, other_org):
    """Each row's group (and the CSV's column) comes from the organization's groups loaded once: the statements a
    page runs don't grow with its rows, and the CSV names every row's group, batch after batch."""
    from sqlalchemy import event

    from portal import db

    gold, silver = make_group(org, "Gold <b>"), make_group(org, "Silver")
    make_group(other_org, "Elsewhere")
    expected = {}
    for n in range(7):
        group = (gold, silver, None)[n % 3]
        expected[make_customer(org, f"member{n}@example.com", group=group).email] = (
            group.name if group else ""
        )
    db.session.commit()
    engine = db.engine_of(app)
    selects: list[str] = []

    def grab(_conn, _cursor, statement, *_):
        if statement.lstrip().upper().startswith("SELECT"):
            selects.append(statement)

    def statements_for(path: str) -> tuple[int, str]:
        selects.clear()
        event.listen(engine, "before_cursor_execute", grab)
        try:
            page = as_reader.get(path)
        finally:
            event.remove(engine, "before_cursor_execute", grab)
        assert page.status_code == 200
        return len(selects), page.text

    few, _ = statements_for(f"/admin/{org.slug}/customers?q=member1")
    many, page = statements_for(f"/admin/{org.slug}/customers?q=member")
    assert few == many
    for email, name in expected.items():
        shown = re.search(rf">{re.escape(email)}</a>.*?data-label=\"Group\">([^<]*)<", page, re.S).group(1)
        assert shown == (name.replace("<", "&lt;").replace(">", "&gt;") or "—"), email
    assert "Elsewhere" not in page

    exported = "".join(search.export_csv(org, search.parse({"q": "member", "sort": "email"}), batch=2))
    rows = {row["email"]: row["customer_group"] for row in csv.DictReader(io.StringIO(exported))}
    assert rows == expected
