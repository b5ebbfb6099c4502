"""Folders of the test session's own, so the suite never reads what something else left on the machine.

An app that ran earlier on the same machine (a developer's ``python app.py``, another test run, CI's last run) left
result files in the system-wide temp folder, uploads in Gradio's, and repos in the Hugging Face cache. A test that
counts such files then fails for reasons of its own machine. So :func:`isolate_session` points ``TMPDIR``
(and ``tempfile``'s cached choice of it, for this process), Gradio's upload folder and, through the Hub emulator's
``HF_HOME`` made under it, the Hub cache at one fresh folder, which subprocesses (the e2e app, the benchmark)
inherit. The ``own_results`` fixture of ``conftest.py`` gives each test its own results folder on top.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

MACHINE_TMP = Path(tempfile.gettempdir())
"""The machine's temp folder, as it was before the session took its own (what the app itself would use)."""

_SESSION_ROOT: Path | None = None


def isolate_session() -> Path:
    """Make (once) and switch to the session's own temp folder; returns it. Call before anything else is imported."""
    global _SESSION_ROOT
    if _SESSION_ROOT is None:
        _SESSION_ROOT = Path(tempfile.mkdtemp(prefix="nllb-space-tests-", dir=MACHINE_TMP))
        (_SESSION_ROOT / "gradio").mkdir()
        os.environ["TMPDIR"] = str(_SESSION_ROOT)
        os.environ["GRADIO_TEMP_DIR"] = str(_SESSION_ROOT / "gradio")
        tempfile.tempdir = str(_SESSION_ROOT)
        atexit.register(shutil.rmtree, _SESSION_ROOT, True)
    return _SESSION_ROOT
