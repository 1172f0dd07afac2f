from datetime import datetime, timezone

from providers.retry_after import retry_after_seconds


def test_seconds_dates_and_shapes():
    now = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert retry_after_seconds({"retry-after": ["7"]}) == 7.0  # kiota hands lists
    assert retry_after_seconds("Mon, 02 Mar 2026 09:00:30 GMT", now) == 30.0
    assert retry_after_seconds("Mon, 02 Mar 2026 08:00:00 GMT", now) == 0.0  # already past
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None and retry_after_seconds(None) is None
