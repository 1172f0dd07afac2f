"""The shared OAuth flow (oauth/flows.py AuthlibFlow) against a token endpoint served by
`responses`: the consent URL it builds, what it sends to the token endpoint, the Grant it makes
of the answer and how failures reach the provider's error classifier."""
from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from oauth.flows import AuthlibFlow, Identity
from providers.base import ErrorKind, ProviderError

TOKEN = "https://auth.example.com/token"
REVOKE = "https://auth.example.com/revoke"
VERIFIER = "v" * 64


def provider_calls(mock=responses) -> list:
    """The calls to the provider among those `responses` saw: it intercepts every thread's
    requests, so a background thread left by another test in this worker shows up there too."""
    return [c for c in mock.calls if c.request.url.startswith("https://auth.example.com/")]


def flow(**overrides) -> tuple[AuthlibFlow, list]:
    seen: list = []

    def classify(status, body):
        seen.append(("classify", status, body))
        return ProviderError(ErrorKind.AUTH_REVOKED, "refused", provider="acme", cause="token_revoked")

    def identity(body, nonce):
        seen.append(("identity", body.get("id_token"), nonce))
        return Identity(account_id="acct-1", email="ada@example.com")

    options = dict(provider="acme", client_id="cid", client_secret="csecret",
                   authorize_endpoint="https://auth.example.com/authorize", token_endpoint=TOKEN,
                   revoke_endpoint=REVOKE, scopes=("openid", "email", "calendar"), required_scopes=("calendar",),
                   classify_error=classify, resolve_identity=identity, authorize_params={"access_type": "offline"},
                   timeout=7.0)
    options.update(overrides)
    return AuthlibFlow(**options), seen


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_the_consent_url_carries_state_pkce_s256_nonce_and_hint():
    f, _ = flow()
    url = f.authorization_url(redirect_uri="https://hub.example.com/cb", state="st-1", code_verifier=VERIFIER,
                              nonce="n-1", login_hint="ada@example.com")
    assert url.startswith("https://auth.example.com/authorize?")
    q = query(url)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).decode().rstrip("=")
    assert q == {"response_type": "code", "client_id": "cid", "redirect_uri": "https://hub.example.com/cb",
                 "scope": "openid email calendar", "state": "st-1", "code_challenge": challenge,
                 "code_challenge_method": "S256", "nonce": "n-1", "login_hint": "ada@example.com",
                 "access_type": "offline"}


def test_extra_scopes_are_added_once_and_nonce_only_for_openid():
    f, _ = flow(scopes=("email", "calendar"), authorize_params={})
    q = query(f.authorization_url(redirect_uri="https://hub/cb", state="s", code_verifier=VERIFIER, nonce="n",
                                  login_hint=None, extra_scopes=("calendar", "meetings")))
    assert q["scope"] == "email calendar meetings"
    assert "nonce" not in q and "login_hint" not in q
    assert f.authorize_params == {}  # the flow's own parameters are not changed by one URL


@responses.activate
def test_the_code_exchange_posts_code_verifier_and_client_credentials():
    responses.post(TOKEN, json={"access_token": "at", "refresh_token": "rt", "expires_in": 1800,
                                "scope": "openid calendar", "id_token": "idt", "token_type": "Bearer"})
    f, seen = flow()
    before = datetime.now(timezone.utc)
    grant = f.exchange(code="c-1", redirect_uri="https://hub.example.com/cb", code_verifier=VERIFIER, nonce="n-1")
    sent = parse_qs(provider_calls()[0].request.body)
    assert {k: v[0] for k, v in sent.items()} == {
        "grant_type": "authorization_code", "code": "c-1", "code_verifier": VERIFIER,
        "redirect_uri": "https://hub.example.com/cb", "client_id": "cid", "client_secret": "csecret"}
    assert provider_calls()[0].request.req_kwargs["timeout"] == 7.0
    assert (grant.access_token, grant.refresh_token, grant.scopes) == ("at", "rt", ("openid", "calendar"))
    assert before + timedelta(seconds=1800) <= grant.expires_at <= datetime.now(timezone.utc) + timedelta(seconds=1800)
    assert grant.identity == Identity(account_id="acct-1", email="ada@example.com")
    assert seen == [("identity", "idt", "n-1")]


@responses.activate
def test_basic_client_authentication_when_the_provider_wants_it():
    responses.post(TOKEN, json={"access_token": "at", "token_type": "Bearer"})
    f, _ = flow(token_auth_method="client_secret_basic")
    f.exchange(code="c", redirect_uri="https://hub/cb", code_verifier=VERIFIER, nonce="n")
    request = provider_calls()[0].request
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"cid:csecret").decode()
    assert "client_secret" not in parse_qs(request.body)


@responses.activate
def test_a_refresh_sends_the_refresh_token_and_reads_no_identity():
    responses.post(TOKEN, json={"access_token": "at2", "token_type": "Bearer", "scope": ["a", "b"]})
    f, seen = flow()
    before = datetime.now(timezone.utc)
    grant = f.refresh("rt-1")
    sent = {k: v[0] for k, v in parse_qs(provider_calls()[0].request.body).items()}
    assert sent["grant_type"] == "refresh_token" and sent["refresh_token"] == "rt-1"
    assert provider_calls()[0].request.req_kwargs["timeout"] == 7.0
    # authlib fills in the refresh token sent when the answer has none (Google does not rotate)
    assert (grant.access_token, grant.refresh_token, grant.scopes, grant.identity) == ("at2", "rt-1", ("a", "b"), None)
    assert before + timedelta(seconds=3600) <= grant.expires_at  # no expires_in: an hour
    assert grant.expires_at <= datetime.now(timezone.utc) + timedelta(seconds=3600)
    assert seen == []


@responses.activate
def test_a_refused_grant_reaches_the_classifier_with_status_and_whole_body():
    body = {"error": "invalid_grant", "error_description": "Token has been expired or revoked.",
            "error_subtype": "invalid_rapt"}
    responses.post(TOKEN, json=body, status=400)
    f, seen = flow()
    with pytest.raises(ProviderError) as info:
        f.refresh("rt-dead")
    assert info.value.cause == "token_revoked"
    assert seen == [("classify", 400, body)]


@responses.activate
def test_an_unreachable_token_endpoint_is_the_providers_outage():
    responses.post(TOKEN, body=requests.ConnectionError("refused"))
    f, seen = flow()
    with pytest.raises(ProviderError) as info:
        f.refresh("rt")
    err = info.value
    assert (err.kind, err.cause, err.provider, err.message) == (
        ErrorKind.PROVIDER_DOWN, "provider_unavailable", "acme", "token endpoint unreachable: ConnectionError")
    assert seen == []


@responses.activate
def test_revoke_posts_the_token_and_a_refusal_is_classified():
    responses.post(REVOKE, status=200)
    f, seen = flow()
    assert f.revoke("at-1") is None
    assert parse_qs(provider_calls()[0].request.body)["token"] == ["at-1"]
    assert provider_calls()[0].request.req_kwargs["timeout"] == 7.0
    responses.replace(responses.POST, REVOKE, json={"error": "invalid_token"}, status=400)
    with pytest.raises(ProviderError):
        f.revoke("at-2")
    assert seen == [("classify", 400, {"error": "invalid_token"})]
    responses.replace(responses.POST, REVOKE, body="<html>oops</html>", status=503)
    with pytest.raises(ProviderError):
        f.revoke("at-3")
    assert seen[-1] == ("classify", 503, {})
    responses.replace(responses.POST, REVOKE, json=["not", "an", "object"], status=400)
    with pytest.raises(ProviderError):
        f.revoke("at-4")
    assert seen[-1] == ("classify", 400, {})  # the classifier only ever sees an object


def test_without_a_revoke_endpoint_nothing_is_sent():
    f, _ = flow(revoke_endpoint=None)
    with responses.RequestsMock() as mock:
        assert f.revoke("at") is None
        assert len(provider_calls(mock)) == 0


def test_no_proxy_from_the_environment_sees_tokens():
    f, _ = flow()
    assert f._session().trust_env is False


@responses.activate
def test_an_answer_naming_no_scopes_grants_none():
    """No `scope` in the token answer: nothing is assumed granted, so connect reports the
    required scopes as missing rather than trusting what was asked for."""
    responses.post(TOKEN, json={"access_token": "at3", "token_type": "Bearer"})
    f, _ = flow()
    assert f.refresh("rt-1").scopes == ()


@responses.activate
def test_an_answer_without_an_access_token_is_the_providers_refusal():
    """A 4xx body authlib does not see as an error ({}), or a 200 without a token: classified
    like any refusal, never a KeyError out of the callback or a refresh."""
    responses.post(TOKEN, json={}, status=400)
    f, seen = flow()
    with pytest.raises(ProviderError) as info:
        f.refresh("rt")
    assert info.value.cause == "token_revoked" and seen == [("classify", 400, {})]
    responses.replace(responses.POST, TOKEN, json={"token_type": "Bearer"}, status=200)
    with pytest.raises(ProviderError):
        f.exchange(code="c", redirect_uri="https://hub/cb", code_verifier=VERIFIER, nonce="n")
    assert seen[-1] == ("classify", 200, {"token_type": "Bearer"})
