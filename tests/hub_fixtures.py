"""The session's loopback Hub as a pytest fixture (the emulator and its environment: ``nllb_space.testing``).

``tests/conftest.py`` calls :func:`start_session_hub` at module level: pytest imports conftest before any test
module, the one moment when ``HF_ENDPOINT``/``HF_TOKEN``/``HF_HOME`` can be set before anything imports
``huggingface_hub``. A test that wants "no token" removes ``HF_TOKEN`` with ``monkeypatch.delenv``.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from nllb_space.testing.hub_emulator import HubEmulator
from nllb_space.testing.hub_env import HUB_TOKEN, configure_hub_env, start_session_hub  # noqa: F401  (re-exported)


@pytest.fixture(scope="session")
def hub() -> Iterator[HubEmulator]:
    """The session's Hub emulator (already serving; ``HF_ENDPOINT``/``HF_TOKEN``/``HF_HOME`` point at it)."""
    yield start_session_hub()
