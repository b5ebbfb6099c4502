"""Shared test set-up.

The Hub emulator starts here, at module level, because pytest imports conftest before any test module: that is the
one moment when ``HF_ENDPOINT``/``HF_TOKEN``/``HF_HOME`` can be set before anything imports ``huggingface_hub``
(which reads them once). Keep any ``huggingface_hub``/``transformers``/``peft`` import below this line. Before it, the
session takes temp, upload and cache folders of its own (tests/folders.py), so nothing left on the machine is read.
"""

from tests.folders import isolate_session

isolate_session()

from tests.hub_fixtures import hub, start_session_hub  # noqa: E402,F401  (`hub` is the session fixture)

HUB = start_session_hub()

import pytest  # noqa: E402

from tests.model_fixtures import (  # noqa: E402,F401
    adapter_dirs, engine, hub_adapters, published_base, scored_repo, tiny_model_dir, trained_model_dir,
)


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Run the tests' tiny models on one torch thread: they are too small to gain from a second one, and on a
    shared 2-core machine the pool's spin-waits made each generate call 10-20x slower."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(autouse=True)
def own_results(tmp_path, monkeypatch):
    """Each test writes its result files into a folder of its own, so one test's files are never another's count."""
    from nllb_space.service import disk

    monkeypatch.setattr(disk, "RESULTS_ROOT", tmp_path / "nllb-space-results")
    return disk.RESULTS_ROOT


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test (``item.rep_call``), so a fixture can add what a failure needs to be read."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report
