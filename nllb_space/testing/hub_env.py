"""Point ``huggingface_hub`` at one loopback :class:`HubEmulator`: for the test session, the benchmark's child
process and the screenshot script.

``huggingface_hub.constants`` reads ``HF_ENDPOINT``, ``HF_HOME`` and the cache paths once, when it is first
imported, and PEFT/transformers take no endpoint argument. So the emulator must be started and the environment set
*before anything imports huggingface_hub*.

The emulator requires :data:`HUB_TOKEN` for private repos and writes; ``HF_TOKEN`` is set to it, so code that
relies on the environment's token (as the app does) is authenticated.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

from .hub_emulator import HubEmulator

HUB_TOKEN = "hf_emulatorTestToken0123456789"
"""The dummy token ``HF_TOKEN`` is set to, and the only one the session emulator accepts."""

_SESSION_HUB: HubEmulator | None = None


def configure_hub_env(url: str, home: str | os.PathLike[str], token: str | None = HUB_TOKEN) -> None:
    """Set the environment so that huggingface_hub (and PEFT/transformers through it) use the Hub at ``url``.

    Also isolates the cache under ``home`` (``HF_HOME``), turns offline mode, telemetry, progress bars and Xet off,
    and shortens the download timeouts. Must run before ``huggingface_hub`` is imported; raises ``RuntimeError`` if
    it was already imported with another endpoint (the setting would silently not apply).
    """
    home = Path(home)
    env = {
        "HF_ENDPOINT": url,
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(home / "hub"),
        "HF_ASSETS_CACHE": str(home / "assets"),
        "HF_XET_CACHE": str(home / "xet"),
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "HF_HUB_ETAG_TIMEOUT": "5",
        "HF_HUB_DOWNLOAD_TIMEOUT": "10",
    }
    for name in ("HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE", "TRANSFORMERS_OFFLINE",
                 "HF_OIDC_RESOURCE", "HUGGINGFACE_CO_STAGING"):
        os.environ.pop(name, None)
    os.environ.update(env)
    if token is None:
        os.environ.pop("HF_TOKEN", None)
    else:
        os.environ["HF_TOKEN"] = token

    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None and getattr(constants, "ENDPOINT", None) != url:
        raise RuntimeError(
            f"huggingface_hub was imported before the Hub emulator was configured (it uses {constants.ENDPOINT!r},"
            f" not {url!r}): start the emulator from tests/conftest.py, before anything imports huggingface_hub."
        )


def start_session_hub() -> HubEmulator:
    """Start the session's emulator (once), point the environment at it and return it."""
    global _SESSION_HUB
    if _SESSION_HUB is None:
        home = tempfile.mkdtemp(prefix="nllb-space-hf-home-")
        emulator = HubEmulator(token=HUB_TOKEN)
        url = emulator.start()
        try:
            configure_hub_env(url, home)
        except Exception:
            emulator.stop()
            raise
        atexit.register(_shutdown, emulator, home)
        _SESSION_HUB = emulator
    return _SESSION_HUB


def _shutdown(emulator: HubEmulator, home: str) -> None:
    emulator.stop()
    shutil.rmtree(home, ignore_errors=True)
