"""The Space: `python app.py` loads NLLB-200 (+ the configured LoRA revision) and serves the demo.

Configuration comes from NLLB_* environment variables (nllb_space/settings.py); host and port from Gradio's own
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT. A bad setting or a model that cannot load stops start-up with its message.
The same file runs on ZeroGPU, on CPU or GPU hardware and locally: `spaces.GPU` is a no-op off ZeroGPU.
"""

import logging
import os
import sys

# Read once, when torch loads OpenMP, so before anything imports torch. Spinning OpenMP workers (the default) keep
# both vCPUs busy between ops, starving Gradio's threads and anything else on a shared machine; on the benchmark
# machine a busy neighbour made spinning 2-thread timings swing tenfold. The owner's own value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# On ZeroGPU, `spaces` must patch torch before anything initialises CUDA; elsewhere importing it changes nothing.
import spaces  # noqa: F401,E402  (before torch and gradio, on purpose)

from nllb_space.errors import ModelLoadError
from nllb_space.service.disk import start_janitor
from nllb_space.service.engine import Engine
from nllb_space.settings import Settings, SettingsError
from nllb_space.web.page import build_demo, launch_options
from nllb_space.web.uploads import SWEEP_INTERVAL_S, UploadBudget


def page(engine: Engine):
    """The Space's page over ``engine``: what :func:`main` serves, and what the benchmarks serve on loopback.

    Only this file imports ``nllb_space.web``, so the benchmarks measure the page through it too.
    """
    return build_demo(engine)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        engine = Engine(Settings.from_env())
        # Before launch: the first visitor should not wait for (or watch fail) the model download, and on ZeroGPU
        # the weights placed on "cuda" by then are packed once and copied into every GPU worker.
        engine.load()
    except (SettingsError, ModelLoadError) as error:
        print(f"nllb-space cannot start: {error}", file=sys.stderr)
        return 1
    start_janitor(engine.clean_disk)  # old result files and visitors' cached adapters, every 10 minutes
    # Uploads: budgets per visitor and in all, checked as each arrives; unused ones removed within minutes.
    uploads = UploadBudget.for_settings(engine.settings)
    start_janitor(uploads.sweep, SWEEP_INTERVAL_S)
    page(engine).launch(**launch_options(engine.settings), app_kwargs=uploads.app_kwargs())
    return 0


if __name__ == "__main__":
    sys.exit(main())
