"""The README stays true: it documents every setting, and CI runs the test command it gives."""

import re
from pathlib import Path

from nllb_space.settings import ENV_NAMES

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_starts_with_space_front_matter():
    front = README.split("---")[1]
    for key in ("sdk: gradio", "app_file: app.py"):
        assert key in front


def test_readme_documents_every_environment_variable():
    missing = [name for name in ENV_NAMES.values() if f"`{name}`" not in README]
    assert not missing, f"README.md does not document {missing}"


def test_ci_runs_the_readme_test_command():
    command = re.search(r"```(?:bash|sh)\n(pip install -r requirements-dev\.txt && python -m pytest[^\n]*)\n", README)
    assert command, "README.md must show the test command in a code block"
    assert command.group(1) in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python app.py" in README
