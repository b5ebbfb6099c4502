"""Every event answers bad input with a clear message (issue 23, section 5): never "Something went wrong" or an empty
error, and nothing a visitor sends is echoed back unbounded."""

from __future__ import annotations

import pytest

from tests.model_fixtures import ADAPTER_REPO, tiny_settings

SENTENCE = "Mañana vamos a la playa."
VAGUE = ("Something went wrong", "Algo falló")


@pytest.fixture(scope="module")
def app(tiny_model_dir, hub_adapters):
    from gradio_client import Client

    from nllb_space.service.engine import Engine
    from nllb_space.testing.serve import launch_local
    from nllb_space.web.handlers import Handlers
    from nllb_space.web.page import build_demo

    engine = Engine(tiny_settings(tiny_model_dir, adapter_repo=ADAPTER_REPO))
    engine.load()
    demo = build_demo(engine)
    url = launch_local(demo)
    yield Client(url, verbose=False), Handlers(engine)
    demo.close()


def _message(call) -> str:
    with pytest.raises(Exception) as caught:
        call()
    message = str(caught.value)
    assert message.strip() and not any(vague in message for vague in VAGUE), message
    return message


def test_a_lone_surrogate_in_compares_reference_is_named_before_any_translation(app, monkeypatch):
    """(gradio_client cannot send a lone surrogate; a raw JSON client can, and the handler gets it as here.)"""
    _, handlers = app
    ran = []
    monkeypatch.setattr(handlers.engine, "compare", lambda *a, **k: ran.append(1))
    message = _message(lambda: handlers.compare(SENTENCE, "spa_Latn", "ita_Latn", "base", "main", "Domani \ud800"))
    assert "reference" in message.lower() and "unicode" in message.lower() and not ran


@pytest.mark.parametrize("model", [7, 3.5, ["main"]])
def test_a_model_that_is_not_text_is_named(app, model):
    client, _ = app
    assert "model" in _message(lambda: client.predict(SENTENCE, "spa_Latn", "ita_Latn", model,
                                                      api_name="/translate")).lower()
    assert "model" in _message(lambda: client.predict(model, api_name="/update_map")).lower()


@pytest.mark.parametrize("value,fine", [(None, True), ("4", True), ("1e3", False), ("abc", False)])
def test_the_optional_numbers_as_api_callers_send_them(app, value, fine):
    client, _ = app
    call = lambda: client.predict(SENTENCE, "spa_Latn", "ita_Latn", "base", value, None,  # noqa: E731
                                  api_name="/translate")
    if fine:
        assert call()  # None means the default; "4" is four
    else:
        assert "beam" in _message(call).lower()


def test_a_forged_file_path_is_refused_with_a_message(app):
    _, handlers = app
    for forged in ("/etc/passwd", "../../etc/passwd", {"path": "/etc/passwd"}):
        message = _message(lambda: handlers.translate_file(forged, "spa_Latn", "ita_Latn", "base"))
        assert "upload" in message.lower()


def test_private_events_bound_what_they_echo(app):
    _, handlers = app
    huge = "x" * 1_000_000
    assert len(handlers.same_model_note(huge, huge)) < 1000
    assert len(handlers.check_languages(huge, "ita_Latn")) < 1000


def test_every_event_bounds_its_text_fields(app):
    """A private event (the revisions panel's pick) with a megabyte in a field the page fills: refused first."""
    _, handlers = app
    huge = "x" * 1_000_000
    message = _message(lambda: handlers.revision_changed("main", huge, []))
    assert "NLLB_MAX_CHARS" in message and len(message) < 1000
    assert handlers.attention_views(huge, "cross", "0", "0")[0] is None  # an unknown view key: nothing echoed
    assert handlers.attention_views("no-such-view", "cross", "abc", "0")[0] is None  # a forged layer: no crash
