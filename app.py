"""The Space: `python app.py` loads NLLB-200 (+ the configured LoRA revision) and serves the demo.

Configuration comes from NLLB_* environment variables (nllb_space/settings.py); host and port from Gradio's own
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT. A bad setting or a model that cannot load stops start-up with its message.
"""

import logging
import os
import sys

# Read once, when torch loads OpenMP, so before anything imports torch. Spinning OpenMP workers (the default) keep
# both vCPUs busy between ops, starving Gradio's threads and anything else on a shared machine; on the benchmark
# machine a busy neighbour made spinning 2-thread timings swing tenfold. The owner's own value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from nllb_space.engine import Engine
from nllb_space.errors import ModelLoadError
from nllb_space.settings import Settings, SettingsError
from nllb_space.ui import build_demo, launch_options


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        engine = Engine(Settings.from_env())
        engine.load()  # before launch: the first visitor should not wait for (or watch fail) the model download
    except (SettingsError, ModelLoadError) as error:
        print(f"nllb-space cannot start: {error}", file=sys.stderr)
        return 1
    build_demo(engine).launch(**launch_options())
    return 0


if __name__ == "__main__":
    sys.exit(main())
