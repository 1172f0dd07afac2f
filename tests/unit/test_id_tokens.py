"""id_token verification (oauth/id_tokens.py) against a JWKS served by `responses`: signature,
issuer, audience, subject, nonce and expiry, the key set's cache and a provider's key rotation."""
from __future__ import annotations

import json
import re
import time

import pytest
import responses
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from oauth import id_tokens
from oauth.id_tokens import JWKS_TTL_SECONDS, IdTokenVerifier
from providers.base import ErrorKind, ProviderError

JWKS = "https://login.example.com/keys"
ISSUERS = ("https://login.example.com", "https://accounts.example.com")
AUDIENCE = "client-123"
K1 = RSAKey.generate_key(2048, parameters={"kid": "k1"})
K2 = RSAKey.generate_key(2048, parameters={"kid": "k2"})


def token(key=K1, alg: str = "RS256", **claims) -> str:
    now = int(time.time())
    body = {"iss": ISSUERS[0], "aud": AUDIENCE, "sub": "user-1", "iat": now, "exp": now + 300, "nonce": "n-1"}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    return jwt.encode({"alg": alg, "kid": getattr(key, "kid", None) or "hs"}, body, key)


@pytest.fixture
def jwks():
    """The provider's key set (change `keys` to rotate); the fetches it got are counted."""
    keys = [K1]
    with responses.RequestsMock() as mock:
        mock.add_callback(responses.GET, JWKS, callback=lambda req: (
            200, {}, json.dumps(KeySet(keys).as_dict(private=False))))
        yield keys, mock


def fetches(mock: responses.RequestsMock) -> list:
    """The key-set fetches among the calls `mock` saw: it intercepts every thread's requests, so
    a background thread left by another test in this worker shows up in `mock.calls` too."""
    return [c for c in mock.calls if c.request.url == JWKS]


def verifier() -> IdTokenVerifier:
    return IdTokenVerifier("google", JWKS, ISSUERS, AUDIENCE, timeout=4.0)


def refused(v: IdTokenVerifier, tok: str, nonce: str | None = "n-1") -> ProviderError:
    with pytest.raises(ProviderError) as info:
        v.verify(tok, nonce)
    assert (info.value.kind, info.value.cause, info.value.provider) == (ErrorKind.INVALID_REQUEST,
                                                                        "client_misconfigured", "google")
    return info.value


def test_a_valid_token_gives_its_claims_and_the_keys_are_fetched_once(jwks):
    v = verifier()
    claims = v.verify(token(), "n-1")
    assert (claims["sub"], claims["aud"], claims["nonce"]) == ("user-1", AUDIENCE, "n-1")
    assert isinstance(claims, dict)
    v.verify(token(iss=ISSUERS[1]), "n-1")  # any of the provider's issuers
    assert len(fetches(jwks[1])) == 1
    assert fetches(jwks[1])[0].request.req_kwargs["timeout"] == 4.0


def test_the_key_set_is_fetched_again_after_its_ttl(jwks, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(id_tokens.time, "monotonic", lambda: clock[0])
    v = verifier()
    v.verify(token(), "n-1")
    clock[0] += JWKS_TTL_SECONDS
    v.verify(token(), "n-1")
    assert len(fetches(jwks[1])) == 1  # exactly the TTL: still fresh
    clock[0] += 1
    v.verify(token(), "n-1")
    assert len(fetches(jwks[1])) == 2
    assert JWKS_TTL_SECONDS == 3600


def test_a_rotated_key_is_fetched_once_more_before_refusing(jwks):
    keys, mock = jwks
    v = verifier()
    v.verify(token(), "n-1")
    keys[:] = [K1, K2]  # the provider publishes its new key
    assert v.verify(token(key=K2), "n-1")["sub"] == "user-1"
    assert len(fetches(mock)) == 2
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k3"})
    err = refused(v, token(key=stranger))
    assert re.fullmatch(r"id_token signature not valid \(\w+Error\)", str(err))  # names what joserfc found
    assert len(fetches(mock)) == 3  # one more look, then refused


def test_only_rs256_is_accepted_even_from_a_key_set_with_other_key_types(jwks):
    ec = ECKey.generate_key("P-256", parameters={"kid": "e1"})
    jwks[0][:] = [K1, ec]
    assert "signature not valid" in str(refused(verifier(), token(key=ec, alg="ES256")))


def test_the_key_set_is_fetched_with_a_10_second_timeout_by_default(jwks):
    IdTokenVerifier("google", JWKS, ISSUERS, AUDIENCE).verify(token(), "n-1")
    assert fetches(jwks[1])[0].request.req_kwargs["timeout"] == 10.0


def test_only_rs256_is_accepted(jwks):
    assert "signature not valid" in str(refused(verifier(), token(key=OctKey.generate_key(256), alg="HS256")))
    assert "signature not valid" in str(refused(verifier(), "not.a.jwt"))


@pytest.mark.parametrize("claims", [{"iss": "https://evil.example.com"}, {"iss": None}, {"aud": "someone-else"},
                                    {"aud": None}, {"sub": None}, {"nonce": "n-2"}, {"nonce": None},
                                    {"exp": int(time.time()) - 120}])
def test_claims_that_do_not_match_are_refused(jwks, claims):
    err = refused(verifier(), token(**claims))
    assert str(err).startswith("id_token claims not valid (")


def test_no_nonce_asked_means_none_checked_and_a_minute_of_clock_skew_is_allowed(jwks):
    v = verifier()
    assert v.verify(token(nonce="anything"), None)["sub"] == "user-1"
    assert v.verify(token(exp=int(time.time()) - 30), "n-1")["sub"] == "user-1"


def test_unreachable_keys_are_the_providers_outage(jwks):
    keys, mock = jwks
    mock.replace(responses.GET, JWKS, status=503)
    with pytest.raises(ProviderError) as info:
        verifier().verify(token(), "n-1")
    assert (info.value.kind, info.value.cause, info.value.provider) == (ErrorKind.PROVIDER_DOWN,
                                                                        "provider_unavailable", "google")
    assert str(info.value) == "could not fetch signing keys: HTTPError"


def test_exactly_a_minute_of_clock_skew_is_allowed(jwks, monkeypatch):
    now = 1_800_000_000
    monkeypatch.setattr(time, "time", lambda: now)  # the token's times and joserfc's check alike
    v = verifier()
    assert v.verify(token(iat=now - 600, exp=now - 59), "n-1")["sub"] == "user-1"
    assert str(refused(v, token(iat=now - 600, exp=now - 60))).startswith("id_token claims not valid (")
