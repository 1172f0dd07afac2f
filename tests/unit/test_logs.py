from hub.logs import redact


def test_secret_keys_and_values_are_masked():
    event = {"event": "x", "access_token": "ya29.abc", "headers": {"Authorization": "Bearer ya29.abc"},
             "url": "https://h/cb?code=4/0AX&state=s", "note": "sent Bearer abc.def to google",
             "nested": [{"refresh_token": "1//r"}], "key": "hub_live_abcdef"}
    out = redact(None, "info", event)
    flat = repr(out)
    for secret in ("ya29.abc", "4/0AX", "abc.def", "1//r", "hub_live_abcdef"):
        assert secret not in flat
    assert out["event"] == "x" and out["url"] == "https://h/cb?code=[redacted]&state=[redacted]"


# Every key under which the hub logs (or might log) a credential; a value under any of them,
# at any depth, never reaches the output.
SECRET_BEARING_KEYS = ["access_token", "refresh_token", "id_token", "token", "client_secret", "secret",
                       "webhook_secret", "password", "app_password", "Authorization", "code_verifier", "code",
                       "api_key", "cookie", "Set-Cookie", "key_hash", "client_assertion", "state", "nonce",
                       "link", "connect_link", "settings_link", "x-zm-signature", "webhook-signature"]


def test_every_secret_bearing_key_is_redacted():
    for key in SECRET_BEARING_KEYS:
        value = f"SECRET-{key}-VALUE"
        out = repr(redact(None, "info", {"event": "e", key: value, "nested": {"deeper": [{key: value}]}}))
        assert value not in out, key


SECRET_BEARING_VALUES = [
    ("GET /oauth/callback/google?state=STATEVALUE&code=CODEVALUE", ["STATEVALUE", "CODEVALUE"]),
    ("opened http://127.0.0.1:8000/connect/AbCdEfGhIjKlMnOpQrStUv123", ["AbCdEfGhIjKlMnOpQrStUv123"]),
    ("GET /settings/enter/ZyXwVuTsRqPoNmLkJi987 HTTP/1.1", ["ZyXwVuTsRqPoNmLkJi987"]),
    ("secret whsec_c2VjcmV0IGJ5dGVz", ["c2VjcmV0IGJ5dGVz"]),
    ("nonce=NONCEVALUE&code_verifier=VERIFIERVALUE", ["NONCEVALUE", "VERIFIERVALUE"]),
]


def test_secrets_inside_values_are_masked():
    for text, secrets in SECRET_BEARING_VALUES:
        out = redact(None, "info", {"event": "e", "detail": text})["detail"]
        for secret in secrets:
            assert secret not in out, (text, out)


def test_plain_values_survive():
    event = {"event": "connect_finished", "provider": "google", "status": "connected", "connection_id": "con_1",
             "path": "/v1/users/ada"}
    assert redact(None, "info", dict(event)) == event
