"""The registry is the one place a provider is declared: everything else is derived from it."""
from __future__ import annotations

from pathlib import Path

import pytest
from _pytest.outcomes import Failed

from hub import provider_docs
from hub.api.schemas import ConnectLinkIn, EventIn
from hub.config import Settings
from hub.services.explanations import CAUSES, explain
from providers import registry
from providers.base import CalendarProvider, Capability, ConferencingProvider, OAuthConnect
from tests.contract.support import traits_of

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_spec_is_complete_and_named_once():
    names = [s.name for s in registry.SPECS]
    assert len(names) == len(set(names))
    for spec in registry.SPECS:
        assert spec.calendar or spec.conferencing, spec.name
        assert (spec.calendar is not None) == (Capability.CALENDAR in spec.capabilities), spec.name
        if spec.meetings is not None:
            assert spec.meetings.capability in spec.capabilities
            # the causes it reports have plain words and a fix
            for cause in (spec.meetings.unavailable_cause, spec.meetings.link_missing_cause):
                assert cause in CAUSES, (spec.name, cause)


def test_provider_settings_are_read_from_their_own_variables():
    env = {s.env_name(spec.name): f"{spec.name}-{s.key}-value" for spec in registry.SPECS for s in spec.settings}
    settings = Settings.from_env(env)
    for spec in registry.SPECS:
        config = settings.provider(spec.name)
        for s in spec.settings:
            assert config.get(s.key) == f"{spec.name}-{s.key}-value"


def test_defaults_apply_and_unknown_overrides_are_refused():
    settings = Settings.from_env({})
    for spec in registry.SPECS:
        for s in spec.settings:
            assert settings.provider(spec.name).get(s.key) == s.default
    with pytest.raises(TypeError):
        Settings.from_env({}, google_no_such_thing="x")


def test_factories_build_the_ports_against_the_sandbox():
    settings = Settings.from_env({}, sandbox_url="http://127.0.0.1:9")
    for spec in registry.SPECS:
        config = settings.provider(spec.name)
        assert config.sandbox == f"http://127.0.0.1:9/{spec.name}"
        if spec.calendar is not None:
            assert isinstance(spec.calendar(config), CalendarProvider)
        if spec.conferencing is not None:
            assert isinstance(spec.conferencing(config), ConferencingProvider)
        if isinstance(spec.connect, OAuthConnect):
            flow = spec.connect.flow(config)
            assert flow.provider == spec.name


def test_api_enums_come_from_the_registry():
    # The same models validate requests and generate /openapi.json.
    assert ConnectLinkIn.model_json_schema()["properties"]["provider"]["enum"] == registry.names()
    choices = EventIn.model_json_schema()["properties"]["conferencing"]["enum"]
    assert choices == [*registry.conferencing_choices(), "none", "default"]


def test_provider_causes_have_words():
    for spec in registry.SPECS:
        for cause in spec.causes:
            words = explain(cause.code, None, spec.title)
            assert words.summary and "{provider}" not in words.summary


def test_readme_lists_what_the_registry_declares():
    text = README.read_text()
    block = text.split("<!-- providers:begin -->\n", 1)[1].split("<!-- providers:end -->", 1)[0]
    assert block == provider_docs.markdown()


def test_contract_suite_fails_closed_for_a_provider_without_traits():
    with pytest.raises(Failed):
        traits_of("no-such-provider")


def test_microsoft_adapters_of_one_endpoint_share_one_mailbox_gate():
    """Graph's 4-per-mailbox limit counts every request: the calendar, sync and attendance
    adapters must queue at one gate, or one process could have 12 requests on a mailbox."""
    from providers.base import ProviderConfig
    from providers.registry import get

    spec = get("microsoft")
    config = ProviderConfig("microsoft", sandbox_url="http://127.0.0.1:9", timeout=3.0)
    calendar, sync, attendance = spec.calendar(config), spec.sync(config), spec.attendance(config)
    assert calendar.graph.gate is sync.graph.gate is attendance.graph.gate
    other = ProviderConfig("microsoft", sandbox_url="http://127.0.0.1:10", timeout=3.0)
    assert spec.calendar(other).graph.gate is not calendar.graph.gate
