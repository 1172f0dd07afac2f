"""The OAuth connect flow against the sandbox, attacked: a leaked authorize URL finished in
another browser, a replayed or cross-provider callback, an expired link, a wrong nonce — each
refused, with the effect checked where it lands (no connection stored). And the warning when
the account connected is not the user's own."""
from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import update

from hub.storage.models import ConnectAttempt
from oauth.connect import digest


def browser() -> requests.Session:
    http = requests.Session()
    http.trust_env = False
    return http


@pytest.fixture
def person(api, sandbox):
    user_id = f"ada-{uuid.uuid4().hex[:8]}"
    email = f"{user_id}@example.com"
    sandbox.account("google", email)
    assert api.put(f"/v1/users/{user_id}", json={"email": email}).status_code == 201
    return {"user_id": user_id, "email": email}


def start(api, user_id: str, provider: str = "google") -> tuple[requests.Session, str]:
    """A browser opens a fresh connect link: returns it and the provider's authorize URL."""
    link = api.post(f"/v1/users/{user_id}/connect-links", json={"provider": provider}).json()["url"]
    b = browser()
    hop = b.get(link, allow_redirects=False, timeout=30)
    assert hop.status_code == 302, hop.text
    return b, hop.headers["Location"]


def consent(b: requests.Session, authorize_url: str, account: str) -> str:
    """Consent at the sandbox; returns the hub callback URL the provider redirects to."""
    r = b.post(authorize_url, data={"account": account, "decision": "allow"}, allow_redirects=False, timeout=30)
    assert r.status_code in (302, 303), r.text
    return r.headers["Location"]


def connections(api, user_id: str) -> list[dict]:
    return api.get(f"/v1/users/{user_id}/connections").json()["connections"]


def test_a_leaked_authorize_url_cannot_be_finished_in_another_browser(api, sandbox, person):
    victim, authorize_url = start(api, person["user_id"])
    attacker = browser()  # has the URL, not the victim's cookie
    mallory = f"mallory-{uuid.uuid4().hex[:6]}@example.com"
    sandbox.account("google", mallory)
    callback = attacker.get(consent(attacker, authorize_url, mallory), allow_redirects=False, timeout=60)
    assert callback.status_code == 400 and "another browser" in callback.text
    assert connections(api, person["user_id"]) == []
    # The person's own browser can still finish what it started.
    done = victim.get(consent(victim, authorize_url, person["email"]), allow_redirects=False, timeout=60)
    assert done.status_code == 200, done.text
    [conn] = connections(api, person["user_id"])
    assert conn["account_email"] == person["email"]


def test_the_binding_cookie_is_scoped_and_http_only(api, person):
    link = api.post(f"/v1/users/{person['user_id']}/connect-links", json={"provider": "google"}).json()["url"]
    r = browser().get(link, allow_redirects=False, timeout=30)
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("hub_oauth_") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Path=/oauth/callback/" in cookie


def test_a_replayed_callback_is_refused_and_changes_nothing(api, person, live_hub):
    b, authorize_url = start(api, person["user_id"])
    callback_url = consent(b, authorize_url, person["email"])
    assert b.get(callback_url, allow_redirects=False, timeout=60).status_code == 200
    [before] = connections(api, person["user_id"])
    again = b.get(callback_url, allow_redirects=False, timeout=60)
    assert again.status_code == 400 and "already completed" in again.text
    [after] = connections(api, person["user_id"])
    assert after == before


def test_a_callback_sent_to_another_provider_is_refused(api, person, live_hub):
    b, authorize_url = start(api, person["user_id"])
    callback_url = consent(b, authorize_url, person["email"])
    query = urlsplit(callback_url).query
    crossed = b.get(f"{live_hub.url}/oauth/callback/zoom?{query}", allow_redirects=False, timeout=60)
    assert crossed.status_code == 400
    assert connections(api, person["user_id"]) == []
    # The state was not spent by the wrong provider: the real callback still works.
    assert b.get(callback_url, allow_redirects=False, timeout=60).status_code == 200


def test_an_expired_connect_link_is_refused(api, person, live_hub):
    link = api.post(f"/v1/users/{person['user_id']}/connect-links", json={"provider": "google"}).json()["url"]
    token = link.rsplit("/", 1)[1]
    with live_hub.hub.db.session() as s:
        s.execute(update(ConnectAttempt).where(ConnectAttempt.link_hash == digest(token))
                  .values(expires_at=live_hub.hub.clock() - timedelta(seconds=1)))
    r = browser().get(link, allow_redirects=False, timeout=30)
    assert r.status_code == 410 and "expired" in r.text
    assert connections(api, person["user_id"]) == []


def test_the_id_token_nonce_is_checked(api, person, live_hub):
    b, authorize_url = start(api, person["user_id"])
    state = parse_qs(urlsplit(authorize_url).query)["state"][0]
    with live_hub.hub.db.session() as s:  # the id_token will carry the nonce sent, not this one
        s.execute(update(ConnectAttempt).where(ConnectAttempt.state_hash == digest(state)).values(nonce="other-nonce"))
    r = b.get(consent(b, authorize_url, person["email"]), allow_redirects=False, timeout=60)
    assert r.status_code == 200 and "id_token claims not valid" in r.text, r.text
    assert connections(api, person["user_id"]) == []


def test_connecting_someone_elses_account_warns_on_the_health_record(api, sandbox, person):
    other = f"other-{uuid.uuid4().hex[:6]}@example.com"
    sandbox.account("google", other)
    b, authorize_url = start(api, person["user_id"])
    assert b.get(consent(b, authorize_url, other), allow_redirects=False, timeout=60).status_code == 200
    [conn] = connections(api, person["user_id"])  # connected: a warning, not a refusal
    report = api.get(f"/v1/diagnostics/users/{person['user_id']}").json()
    [check] = [c for c in report["checks"] if c["id"] == "google.account_mismatch"]
    assert check["status"] == "warn" and check["cause"] == "account_mismatch"
    assert other in check["summary"] and person["email"] in check["summary"]
    [record] = [c for c in report["connections"] if c["id"] == conn["id"]]
    assert record["account_mismatch"]["account_email"] == other


def test_the_users_own_account_has_no_mismatch(api, person):
    b, authorize_url = start(api, person["user_id"])
    assert b.get(consent(b, authorize_url, person["email"].upper()), allow_redirects=False,
                 timeout=60).status_code == 200
    report = api.get(f"/v1/diagnostics/users/{person['user_id']}").json()
    assert not [c for c in report["checks"] if c["id"].endswith("account_mismatch")]
    assert all(c.get("account_mismatch") is None for c in report["connections"])
