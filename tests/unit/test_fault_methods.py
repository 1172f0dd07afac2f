"""A fault armed with params.method hits only requests with that HTTP method, so a test can
make one write fail while background reads of the same account (sync) go through."""
from providers.emulator_kit.faults import FaultRegistry


def test_a_method_bound_fault_waits_for_its_method_and_is_used_once():
    faults = FaultRegistry()
    faults.add("google", "server_error", "ada@acme.example", 1, {"method": "patch"})
    assert faults.take("google", "server_error", "ada@acme.example", {}, "GET") is None
    assert faults.take("google", "server_error", "ada@acme.example", {}, "POST") is None
    hit = faults.take("google", "server_error", "ada@acme.example", {}, "PATCH")
    assert hit is not None and hit.params == {"method": "patch"}
    assert faults.take("google", "server_error", "ada@acme.example", {}, "PATCH") is None  # used up


def test_a_fault_without_a_method_hits_any_request():
    faults = FaultRegistry()
    faults.add("google", "server_error", None, 2, {})
    assert faults.take("google", "server_error", "x@acme.example", {}, "GET") is not None
    assert faults.take("google", "server_error", "y@acme.example", {}, "DELETE") is not None
    assert faults.take("google", "server_error", "y@acme.example", {}, "DELETE") is None
