"""return_url: strict parsing (no open redirect through odd spellings) and a per-tenant
allow-list of origins, set through the API or `hub tenants set-return-origins`."""
from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner

from hub.cli import main as cli
from hub.services.directory import create_api_key
from hub.services.return_urls import origin_of, parse_return_url

REFUSED = [
    "javascript:alert(1)", "JavaScript://%0aalert(1)", "data:text/html,hi", "/relative", "//evil.example/x",
    "https://user@evil.example/", "https://good.example@evil.example/", "https://u:p@good.example/",
    "http:///evil.example/", "https:///", "https://good.example/done\n", "https://good.example/\r\nX: y",
    "https:\\\\evil.example", "https://good.example\\@evil.example/", "https://good.example/a\\b",
    "https://good.example /x", " https://good.example/", "https://good.example/\t", "ftp://good.example/",
    "https://good.example:99999/", "https://-evil.example/", "https://evil.example./", "https://good.example/\x00",
    "https://gööd.example/",
]
ACCEPTED = ["https://ats.example/done", "http://127.0.0.1:3000/back?x=1#frag", "https://ats.example:8443/a/b?c=d",
            "https://ATS.example/%20x"]


@pytest.mark.parametrize("url", REFUSED)
def test_odd_return_urls_are_refused(url):
    with pytest.raises(ValueError):
        parse_return_url(url)


@pytest.mark.parametrize("url", ACCEPTED)
def test_plain_return_urls_are_accepted(url):
    assert parse_return_url(url) == url


@pytest.mark.parametrize("path, body", [("/v1/users/ada/connect-links", {"provider": "google"}),
                                        ("/v1/users/ada/settings-links", {})])
@pytest.mark.parametrize("url", ["javascript:alert(1)", "https://good.example/done\n", "http:///evil.example",
                                 "https://good.example@evil.example/", "https:\\\\evil.example"])
def test_the_api_refuses_them_for_both_links(client, auth, path, body, url):
    assert client.put("/v1/users/ada", json={"email": "ada@example.com"}, headers=auth).status_code in (200, 201)
    r = client.post(path, json={**body, "return_url": url}, headers=auth)
    assert r.status_code == 422, r.json
    assert r.json["code"] == "validation_failed" and [e["field"] for e in r.json["errors"]] == ["return_url"]


def test_the_allow_list_limits_return_urls_to_its_origins(client, auth, key):
    assert client.put("/v1/users/ada", json={"email": "ada@example.com"}, headers=auth).status_code in (200, 201)
    assert client.get("/v1/return-origins", headers=auth).json == {"origins": []}
    r = client.put("/v1/return-origins", json={"origins": ["https://ATS.example:443", "http://localhost:3000/"]},
                   headers=auth)
    assert r.status_code == 200 and r.json == {"origins": ["https://ats.example", "http://localhost:3000"]}
    for path, body in [("/v1/users/ada/connect-links", {"provider": "google"}), ("/v1/users/ada/settings-links", {})]:
        ok = client.post(path, json={**body, "return_url": "https://ats.example/done"}, headers=auth)
        assert ok.status_code == 201, ok.json
        for elsewhere in ["https://evil.example/done", "http://ats.example/done", "https://ats.example:8443/x"]:
            r = client.post(path, json={**body, "return_url": elsewhere}, headers=auth)
            assert r.status_code == 422 and r.json["code"] == "return_url_not_allowed", (path, elsewhere)
        assert client.post(path, json=body, headers=auth).status_code == 201  # no return_url: fine
    assert client.put("/v1/return-origins", json={"origins": []}, headers=auth).json == {"origins": []}
    assert client.post("/v1/users/ada/connect-links", json={"provider": "google",
                                                             "return_url": "https://evil.example/x"},
                       headers=auth).status_code == 201


@pytest.mark.parametrize("origin", ["https://ats.example/path", "javascript:x", "https://u@ats.example", "ats.example"])
def test_bad_origins_are_refused(client, auth, origin):
    r = client.put("/v1/return-origins", json={"origins": [origin]}, headers=auth)
    assert r.status_code == 422


def test_the_allow_list_is_per_tenant(app, client, auth):
    client.put("/v1/return-origins", json={"origins": ["https://ats.example"]}, headers=auth)
    other = {"Authorization": "Bearer " + create_api_key(app.extensions["hub"].db, f"o-{uuid.uuid4().hex[:6]}")[1]}
    assert client.get("/v1/return-origins", headers=other).json == {"origins": []}


def test_the_cli_sets_the_allow_list(app, database_url, monkeypatch):
    name = f"cli-{uuid.uuid4().hex[:6]}"
    _, key = create_api_key(app.extensions["hub"].db, name)
    monkeypatch.setenv("HUB_DATABASE_URL", database_url)
    result = CliRunner().invoke(cli, ["tenants", "set-return-origins", name, "https://ats.example"])
    assert result.exit_code == 0, result.output
    auth = {"Authorization": f"Bearer {key}"}
    assert app.test_client().get("/v1/return-origins", headers=auth).json == {"origins": ["https://ats.example"]}
    bad = CliRunner().invoke(cli, ["tenants", "set-return-origins", name, "https://ats.example/path"])
    assert bad.exit_code != 0


def test_origin_of_normalises():
    assert origin_of("https://ATS.example:443/x") == "https://ats.example"
    assert origin_of("http://h.example:8080/") == "http://h.example:8080"
