from tests.admin.conftest import token


def test_pages_render(as_admin, org, customer, group):
    base = f"/admin/{org.slug}"
    for url in (
        "/",
        "/customers",
        "/customers?q=ann",
        f"/customers/{customer.public_id}",
        f"/customers/{customer.public_id}/edit",
        "/groups",
        f"/groups/{group.public_id}",
        "/groups/new",
        "/markets",
        "/privacy",
        "/audit",
        "/settings",
    ):
        response = as_admin.get(base + url)
        assert response.status_code == 200, (url, response.text[:2000])
    assert "ann@example.com" in as_admin.get(base + "/customers?q=nn@").text
    assert token(as_admin, base + "/settings")
