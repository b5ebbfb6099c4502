"""Shared test set-up.

The Hub emulator starts here, at module level, because pytest imports conftest before any test module: that is the
one moment when ``HF_ENDPOINT``/``HF_TOKEN``/``HF_HOME`` can be set before anything imports ``huggingface_hub``
(which reads them once). Keep any ``huggingface_hub``/``transformers``/``peft`` import below this line.
"""

from tests.hub_fixtures import hub, start_session_hub  # noqa: F401  (`hub` is the session fixture)

HUB = start_session_hub()

from tests.model_fixtures import adapter_dirs, engine, hub_adapters, tiny_model_dir  # noqa: E402,F401
