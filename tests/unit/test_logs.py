from hub.logs import redact


def test_secret_keys_and_values_are_masked():
    event = {"event": "x", "access_token": "ya29.abc", "headers": {"Authorization": "Bearer ya29.abc"},
             "url": "https://h/cb?code=4/0AX&state=s", "note": "sent Bearer abc.def to google",
             "nested": [{"refresh_token": "1//r"}], "key": "hub_live_abcdef"}
    out = redact(None, "info", event)
    flat = repr(out)
    for secret in ("ya29.abc", "4/0AX", "abc.def", "1//r", "hub_live_abcdef"):
        assert secret not in flat
    assert out["event"] == "x" and "state=s" in out["url"]
