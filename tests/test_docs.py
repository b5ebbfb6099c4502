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


# What facebook/nllb-200-distilled-600M holds on main (the Hub's listing): no safetensors, one pickle checkpoint.
PUBLISHED_FILES = [".gitattributes", "README.md", "config.json", "generation_config.json", "pytorch_model.bin",
                   "sentencepiece.bpe.model", "special_tokens_map.json", "tokenizer.json", "tokenizer_config.json"]


def test_front_matter_suits_zero_gpu_and_bakes_in_exactly_the_files_the_app_loads():
    import fnmatch

    from nllb_space.hub import downloads as hub_downloads

    front = README.split("---")[1]
    python = re.search(r'python_version: "([\d.]+)"', front).group(1)
    assert python in ("3.10.13", "3.12.12"), "ZeroGPU supports Python 3.10.13 and 3.12.12 only"
    preload = re.search(r"preload_from_hub:\n  - facebook/nllb-200-distilled-600M (\S+)\n", front)
    assert preload, "the base model's weights belong in the Space image (preload_from_hub)"
    patterns = hub_downloads.BASE_FILES + hub_downloads.PICKLE_WEIGHTS
    wanted = {f for f in PUBLISHED_FILES if any(fnmatch.fnmatch(f, p) for p in patterns)}
    assert set(preload.group(1).split(",")) == wanted  # a cold start then downloads nothing


def test_requirements_build_for_zero_gpu_and_keep_the_decorator():
    requirements = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert re.search(r"^spaces>=0\.51", requirements, re.M), "@spaces.GPU needs the spaces package on every host"
    assert "download.pytorch.org/whl/cpu" in README  # the CPU-only install, without CUDA wheels


def test_the_layout_section_is_the_tree():
    """The README's "Project layout" is a short tree of the real one: every folder of the package and the scripts, and
    only files and folders that exist where it puts them."""
    layout = README[README.index("## Project layout"):]
    tree = layout[layout.index("```\n") + 4:layout.index("\n```", layout.index("```\n"))]
    folders = [p.name for p in sorted((ROOT / "nllb_space").iterdir()) if (p / "__init__.py").is_file()]
    missing = [f"nllb_space/{name}/" for name in folders if not re.search(rf"^  {name}/ ", tree, re.M)]
    missing += [f"{name}/" for name in ("nllb_space", "train", "bench", "tests") if not re.search(rf"^{name}/", tree, re.M)]
    assert not missing, f"README's layout does not show {missing}"
    stack: list[str] = []  # the folder of each indentation level
    absent = []
    for line in tree.splitlines():
        depth = (len(line) - len(line.lstrip())) // 2
        name = line.split()[0]
        stack[depth:] = [name.rstrip("/")]
        if not (ROOT / Path(*stack)).exists():
            absent.append("/".join(stack))
        folder = ROOT / Path(*stack[:-1]) if not name.endswith("/") else ROOT / Path(*stack)
        absent += [f"{folder.relative_to(ROOT)}/{other}" for other in re.findall(r"\b(\w+\.py)\b", line.split(maxsplit=1)[-1])
                   if not (folder / other).exists()]
    assert not absent, f"README's layout names what does not exist: {absent}"


def _code(text: str) -> list[str]:
    """Every fenced block and inline code span of ``text``, line continuations joined."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, re.S)
    spans = re.findall(r"`([^`\n]+)`", re.sub(r"```.*?```", "", text, flags=re.S))
    return [" ".join(b.replace("\\\n", " ").split()) for b in blocks] + spans


def test_no_command_names_the_projects_own_shared_folder():
    """``../shared`` holds this project's development data; a user has only the repository (and the Hub)."""
    import ast

    offenders = [c for c in _code(README) if "../shared" in c]
    assert not offenders, f"README commands that need this project's ../shared folder: {offenders}"
    run_doc = ast.get_docstring(ast.parse((ROOT / "train" / "run.py").read_text(encoding="utf-8")))
    assert "../shared" not in run_doc, "train/run.py's copy-paste commands need this project's ../shared folder"


def test_every_trainer_command_in_the_readme_parses():
    """Each ``python train/run.py ...`` the README gives is a command the trainer accepts (its flags exist and go
    together); what it needs at run time (the Hub, a GPU) is not asked for here."""
    import shlex

    from train.cli import parse

    commands = [c[c.index("train/run.py"):] for block in re.findall(r"```bash\n(.*?)```", README, re.S)
                for c in [" ".join(block.replace("\\\n", " ").split())] if "train/run.py" in c]
    assert len(commands) >= 4
    for command in commands:
        for line in command.split(" python "):  # a block may chain commands
            parse(shlex.split(line.split(" #")[0])[1:])


def test_the_readme_data_flag_defaults_are_the_trainers():
    """The training section's table of data flags gives each flag's real default (``none``: unset)."""
    from train.cli import parse

    config = parse([])  # no data flags: the default training data is filled in
    table = README[README.index("| flag | default | what it does |"):]
    rows = re.findall(r"^\| `(--[a-z-]+)`[^|]* \| (`([^`]+)`|none)", table[:table.index("\n\n")], re.M)
    assert len(rows) >= 12
    for name, default, value in rows:
        dest = name[2:].replace("-", "_")
        group = next(g for g in (config.model, config.data, config.scoring, config.training) if hasattr(g, dest))
        assert getattr(group, dest) == (None if default == "none" else type(getattr(group, dest))(value)), name
