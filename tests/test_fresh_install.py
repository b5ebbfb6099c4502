"""What a new user meets on a fresh machine: scripts that import the right packages, tests that read only their own
folders, the torch ZeroGPU documents, and a deploy command that uploads only what the Space needs."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

SCRIPT_FOLDERS = ("bench", "train", "docs")
"""Folders whose scripts users run as ``python FOLDER/x.py``: Python puts the folder itself first on ``sys.path``."""

ZEROGPU_TORCH = ("2.8.0", "2.9.1", "2.10.0", "2.11.0")
"""The torch versions hub-docs' spaces-zerogpu.md lists as supported (July 2026)."""


def _module_names(folder: Path) -> dict[str, Path]:
    """The top-level names a folder on ``sys.path`` provides: its modules and its packages."""
    names = {}
    for path in folder.iterdir():
        if path.suffix == ".py":
            names[path.stem] = path
        elif (path / "__init__.py").is_file():
            names[path.name] = path
    return names


def test_no_script_folder_shadows_an_installed_package_or_the_standard_library():
    """transformers 5.25 imports Hugging Face's ``kernels`` package; a ``bench/kernels.py`` took its place, and every
    benchmark command failed on a fresh install."""
    installed = importlib.metadata.packages_distributions()
    clashes = []
    for folder in SCRIPT_FOLDERS:
        for name, path in _module_names(ROOT / folder).items():
            if name in installed:
                clashes.append(f"{path.relative_to(ROOT)} hides {name!r} of {', '.join(installed[name])}")
            elif name in sys.stdlib_module_names:
                clashes.append(f"{path.relative_to(ROOT)} hides the standard library's {name!r}")
    assert not clashes, "rename: " + "; ".join(clashes)


def test_a_test_never_counts_what_an_earlier_app_left_on_the_machine(engine):
    """An app that ran before on this machine left an old result folder in the system-wide results folder; the
    test's clean-up counts only its own."""
    from nllb_space.service import disk
    from nllb_space.web.handlers import Handlers
    from tests.folders import MACHINE_TMP

    left_behind = MACHINE_TMP / "nllb-space-results" / "result-left-by-an-earlier-app"
    left_behind.mkdir(parents=True, exist_ok=True)
    try:
        os.utime(left_behind, (time.time() - 86400, time.time() - 86400))
        source = disk.results_folder() / "rows.tsv"
        source.write_text("text\nHola.\n", encoding="utf-8")
        result, _ = Handlers(engine).translate_file(str(source), "spa_Latn", "ita_Latn", "base")
        assert disk.sweep_results(3600) == 0 and Path(result).exists()  # nothing of its own is old yet
        assert disk.sweep_results(3600, now=time.time() + 7200) == 2  # its upload's folder and its result's
        assert left_behind.is_dir()  # the machine's folder is none of the test's business
    finally:
        shutil.rmtree(left_behind, ignore_errors=True)


def test_the_space_pins_a_torch_zerogpu_documents_and_the_tests_run_it():
    requirements = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    pin = re.search(r"^torch==([\d.]+)\s*$", requirements, re.M)
    assert pin and pin.group(1) in ZEROGPU_TORCH, "ZeroGPU builds only the torch versions its docs list"
    assert f"torch {pin.group(1)}" in README  # the README says which, and why
    import torch

    assert torch.__version__.split("+")[0] == pin.group(1)  # what the suite tests is what the Space runs
    assert not re.search(r"^torch\b", (ROOT / "requirements-dev.txt").read_text(encoding="utf-8"), re.M)


def _readme_commands(section: str) -> list[list[str]]:
    """The commands of a README section's code blocks, continuation lines joined."""
    body = README[README.index(section):]
    body = body[:body.index("\n## ", 1)]
    lines = "\n".join(re.findall(r"```bash\n(.*?)```", body, re.S)).replace("\\\n", " ")
    return [shlex.split(line) for line in lines.splitlines() if line.strip()]


def test_the_readme_deploy_commands_upload_only_what_the_space_needs(hub, tmp_path):
    """``hf upload`` ignores .gitignore: run the README's own commands, with the real ``hf`` CLI against the loopback
    Hub, from a checkout that holds what the README's other recipes leave beside it."""
    from huggingface_hub import HfApi

    checkout = tmp_path / "nllb-space"
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in tracked:
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, checkout / name)
    junk = ["nllb-200-distilled-600M/pytorch_model.bin", ".venv/lib/site.py", "runs/quick/adapter_model.safetensors",
            "nllb_space/__pycache__/engine.cpython-311.pyc", ".git/HEAD", "my_pairs.tsv"]
    for name in junk:
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).write_bytes(b"not for the Space")

    commands = [c for c in _readme_commands("## Deploy your own Space") if c[0] == "hf"]
    assert [c[1] for c in commands] == ["repos", "upload"]
    hf = Path(sys.executable).with_name("hf")
    for command in commands:
        command = [str(hf)] + [arg.replace("YOU/", "deployer/") for arg in command[1:]]
        done = subprocess.run(command, cwd=checkout, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "NO_COLOR": "1"})
        assert done.returncode == 0, done.stdout + done.stderr

    uploaded = set(HfApi().list_repo_files("deployer/nllb-space", repo_type="space"))
    needed = {"README.md", "app.py", "requirements.txt"} | {
        n for n in tracked if n.startswith("nllb_space/") and not n.startswith("nllb_space/testing/")}
    assert needed <= uploaded
    assert uploaded - needed <= {".gitattributes"}, f"not needed by the Space: {sorted(uploaded - needed)}"
