"""Where the trainer's pairs come from (nllb_space/training/sources.py): the public Hub datasets the README's recipe uses, checked
before the base model loads, and the offline walk-through with local files only.

The Hub datasets are stand-ins on the session's loopback Hub emulator, published with the layout of the real ones
(the same config names, split names and file names), so ``datasets`` takes the same path as on the Hub:

- ``Helsinki-NLP/opus_books``: one config per language pair (``es-it``), one parquet file per config
  (``es-it/train-00000-of-00001.parquet``) with ``id`` and OPUS-style ``translation`` columns, only a ``train`` split;
- ``openlanguagedata/flores_plus`` (gated): one config per language (``spa_Latn``, ``ita_Latn``, ...) declared in the
  dataset card, splits ``dev`` and ``devtest`` in ``dev/spa_Latn.jsonl`` / ``devtest/spa_Latn.jsonl`` (parquet in its
  earlier releases), rows ``{"id", "text", "iso_639_3", ...}`` paired across languages by ``id``.
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from nllb_space.testing.pairs import PAIRS
from tests.hub_fixtures import HUB_TOKEN
from tests.test_train import QUICK, REPO_ROOT, run_main

OPUS_BOOKS = "Helsinki-NLP/opus_books"
FLORES_PLUS = "openlanguagedata/flores_plus"
FLORES_GLOTTOCODES = {"spa_Latn": "stan1288", "ita_Latn": "ital1282", "eng_Latn": "stan1293"}


def card(configs: dict[str, dict[str, str]], license: str) -> str:
    """A dataset card whose YAML declares ``configs`` (name -> split -> file pattern), as the real cards do."""
    lines = ["---", f"license: {license}", "configs:"]
    for name, splits in configs.items():
        lines += [f"- config_name: {name}", "  data_files:"]
        lines += [f"  - split: {split}\n    path: {path}" for split, path in splits.items()]
    return "\n".join([*lines, "---", "", "# Stand-in on the loopback Hub", ""])


def opus_books_parquet(pairs) -> bytes:
    from datasets import Dataset, Features, Translation, Value

    features = Features({"id": Value("string"), "translation": Translation(languages=["es", "it"])})
    rows = {"id": [str(i) for i in range(len(pairs))], "translation": [{"es": es, "it": it} for es, it in pairs]}
    buffer = io.BytesIO()
    Dataset.from_dict(rows, features=features).to_parquet(buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def opus_books(hub) -> str:
    """``Helsinki-NLP/opus_books`` with its es-it config holding PAIRS (and an es-fr config beside it)."""
    hub.commit_files(OPUS_BOOKS, {
        "README.md": card({pair: {"train": f"{pair}/train-*"} for pair in ("es-fr", "es-it")}, "other"),
        "es-it/train-00000-of-00001.parquet": opus_books_parquet(PAIRS),
        "es-fr/train-00000-of-00001.parquet": opus_books_parquet(PAIRS[:3]),
    }, repo_type="dataset", message="Convert dataset to Parquet")
    return OPUS_BOOKS


def flores_files(texts: dict[str, dict[str, list[tuple[int, str]]]], suffix: str = "jsonl") -> dict[str, bytes]:
    """FLORES+ data files: language -> split -> [(id, text)], one file per split and language."""
    import pandas as pd

    files = {}
    for lang, splits in texts.items():
        iso, script = lang.split("_")
        for split, rows in splits.items():
            records = [{"id": i, "iso_639_3": iso, "iso_15924": script, "glottocode": FLORES_GLOTTOCODES.get(lang, ""),
                        "text": text, "url": f"https://en.wikinews.org/wiki/{i}", "domain": "wikinews",
                        "topic": "science"} for i, text in rows]
            if suffix == "jsonl":
                files[f"{split}/{lang}.jsonl"] = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
            else:
                buffer = io.BytesIO()
                pd.DataFrame(records).to_parquet(buffer, index=False)
                files[f"{split}/{lang}.parquet"] = buffer.getvalue()
    return files


def publish_flores(hub, repo: str, texts, suffix: str = "jsonl", granted: bool = True) -> str:
    configs = {lang: {split: f"{split}/{lang}.{suffix}" for split in splits} for lang, splits in texts.items()}
    hub.commit_files(repo, {"README.md": card(configs, "cc-by-sa-4.0"), **flores_files(texts, suffix)},
                     repo_type="dataset")
    hub.set_gated(repo, "auto", granted=granted, repo_type="dataset")
    return repo


def flores_texts(dev: int = 30) -> dict[str, dict[str, list[tuple[int, str]]]]:
    """PAIRS as FLORES+ rows: ids from 1, dev then devtest; the Italian rows in reverse order (pairing is by id)."""
    rows = list(enumerate(PAIRS, start=1))
    spa = {"dev": [(i, es) for i, (es, _) in rows[:dev]], "devtest": [(i, es) for i, (es, _) in rows[dev:]]}
    ita = {"dev": [(i, it) for i, (_, it) in rows[:dev]][::-1], "devtest": [(i, it) for i, (_, it) in rows[dev:]][::-1]}
    eng = {split: [(i, f"English {i}.") for i, _ in spa[split]] for split in spa}
    return {"eng_Latn": eng, "ita_Latn": ita, "spa_Latn": spa}


@pytest.fixture(scope="module")
def flores_plus(hub) -> str:
    """``openlanguagedata/flores_plus`` (gated; the emulator's user has accepted its conditions)."""
    return publish_flores(hub, FLORES_PLUS, flores_texts())


@pytest.fixture
def no_model(monkeypatch):
    """Make loading the base model fail the test: what is checked here must fail before it."""
    import nllb_space.model.loading

    def refuse(*args, **kwargs):
        raise AssertionError("the base model was loaded before the data was checked")

    monkeypatch.setattr(nllb_space.model.loading, "load_base", refuse)


@pytest.fixture(scope="module")
def pairs_tsv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("local") / "my_pairs.tsv"
    path.write_text("".join(f"{es}\t{it}\n" for es, it in PAIRS), encoding="utf-8")  # no header: source<TAB>target
    return path


# -- mistakes fail in a second, before the 2.5 GB model loads ---------------------------------------------------------


@pytest.mark.parametrize(("argv", "messages"), [
    (["--train-file", "missing.tsv"], ["--train-file missing.tsv: no such file"]),
    (["--source-file", "a.spa", "--target-file", "a.ita"], ["--source-file a.spa: no such file"]),
    (["--train-file", "{tsv}", "--eval-file", "nope.jsonl"], ["--eval-file nope.jsonl: no such file"]),
    (["--eval-only", "--eval-source-file", "dev.spa", "--eval-target-file", "dev.ita"],
     ["--eval-source-file dev.spa: no such file"]),
    (["--dataset", "tester/no-such-dataset"], ["--dataset tester/no-such-dataset", "no such dataset on the Hub"]),
    (["--dataset", OPUS_BOOKS], ["--dataset-config", "es-it"]),  # several configs: which one, and a hint
    (["--dataset", OPUS_BOOKS, "--dataset-config", "es-xx"], ["--dataset-config es-xx", "es-fr, es-it"]),
    (["--dataset", OPUS_BOOKS, "--dataset-config", "es-it", "--eval-split", "validation"],
     ["--eval-split validation", "has no such split", "train"]),
    (["--train-file", "{tsv}", "--eval-dataset", FLORES_PLUS, "--eval-split", "test"],
     ["--eval-split test", "dev, devtest"]),
    (["--train-file", "{csv}"], ["columns found: english, german"]),
], ids=["train-file", "source-file", "eval-file", "eval-source-file", "dataset", "dataset-with-configs",
        "dataset-config", "eval-split-of-dataset", "eval-split-of-eval-dataset", "columns"])
def test_data_mistakes_fail_before_the_model_loads(argv, messages, opus_books, flores_plus, pairs_tsv, tiny_model_dir,
                                                   tmp_path, no_model, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wrong.csv").write_text("english,german\nhello,hallo\n", encoding="utf-8")
    argv = [a.format(tsv=pairs_tsv, csv=tmp_path / "wrong.csv") for a in argv]
    run = run_main(["--base-model", str(tiny_model_dir), *argv], tmp_path / "out")
    assert run.status == 1, run.stderr[-2000:]
    for message in messages:
        assert message in run.stderr
    assert not (tmp_path / "out").exists()


def test_gated_flores_plus_says_how_to_get_access(hub, flores_plus, tiny_model_dir, tmp_path, no_model, monkeypatch):
    argv = ["--base-model", str(tiny_model_dir), "--eval-only", "--eval-dataset", FLORES_PLUS, "--eval-split", "dev"]
    monkeypatch.delenv("HF_TOKEN")  # not logged in: the Hub refuses the gated files
    anonymous = run_main(argv, tmp_path / "anonymous")
    assert anonymous.status == 1
    assert f"--eval-dataset {FLORES_PLUS} is gated" in anonymous.stderr
    for hint in (f"/datasets/{FLORES_PLUS}", "accept", "hf auth login", "HF_TOKEN"):
        assert hint in anonymous.stderr
    # What the README says this run will answer.
    said = re.search(r"`\.\.\. (is gated: open \S+, log in and accept its conditions) \.\.\.`",
                     (REPO_ROOT / "README.md").read_text(encoding="utf-8"))[1]
    assert said.replace("https://huggingface.co", hub.url) in anonymous.stderr

    monkeypatch.setenv("HF_TOKEN", HUB_TOKEN)  # logged in, but this account has not accepted the conditions
    refused = publish_flores(hub, "tester/flores-plus-refused", flores_texts(), granted=False)
    pending = run_main([*argv[:-4], "--eval-dataset", refused, "--eval-split", "dev"], tmp_path / "refused")
    assert pending.status == 1 and f"--eval-dataset {refused} is gated" in pending.stderr
    assert "has no access" in pending.stderr and f"/datasets/{refused}" in pending.stderr


# -- the recipe's public data, on the emulator ------------------------------------------------------------------------


def test_without_data_flags_the_trainer_uses_opus_books_es_it(opus_books, tiny_model_dir, tmp_path):
    run = run_main(["--base-model", str(tiny_model_dir), "--max-steps", "1", "--eval-steps", "1", *QUICK],
                   tmp_path / "out")
    assert run.status == 0, run.stderr[-3000:]
    assert "train: 40 pairs loaded; dropped 0 empty, 0 duplicate" in run.stdout
    assert run.metrics["datasets"] == [OPUS_BOOKS] and run.metrics["training"]["train_pairs"] == 38
    card_text = (tmp_path / "out" / "README.md").read_text(encoding="utf-8")
    assert f"datasets:\n- {OPUS_BOOKS}" in card_text


def test_the_default_data_is_spanish_italian_only(tiny_model_dir, tmp_path, no_model):
    run = run_main(["--base-model", str(tiny_model_dir), "--tgt-lang", "fra_Latn"], tmp_path / "out")
    assert run.status == 2
    assert "--dataset" in run.stderr and "--train-file" in run.stderr and OPUS_BOOKS in run.stderr


def test_flores_plus_scores_on_rows_paired_by_id(flores_plus, pairs_tsv, tiny_model_dir, tmp_path):
    run = run_main(["--base-model", str(tiny_model_dir), "--train-file", str(pairs_tsv), "--eval-dataset", FLORES_PLUS,
                    "--eval-split", "devtest", "--max-steps", "1", "--eval-steps", "1", *QUICK], tmp_path / "out")
    assert run.status == 0, run.stderr[-3000:]
    assert run.metrics["eval_set"] == f"{FLORES_PLUS} (devtest)" and run.metrics["eval_dataset"] == FLORES_PLUS
    assert run.metrics["base"]["sentences"] == 10 and run.metrics["training"]["train_pairs"] == 40
    assert "eval: 10 pairs loaded; dropped 0 empty -> 10 kept" in run.stdout
    # devtest's sentences are among the training pairs: said, since their scores flatter the adapter
    assert "10 of 10 evaluation sources also occur in the training data" in run.logs


@pytest.mark.parametrize("suffix", ["jsonl", "parquet"])  # its current files, and those of its earlier releases
def test_language_configs_are_paired_by_id_not_by_row(hub, suffix):
    from nllb_space.training.sources import HubSplit, check_hub

    repo = publish_flores(hub, f"tester/flores-plus-{suffix}", flores_texts(), suffix)
    source = check_hub(repo, None, "dev", ("spa_Latn", "ita_Latn"), "--eval-dataset", "--eval-split")
    assert source == HubSplit(repo, "dev", ("spa_Latn", "ita_Latn"), "--eval-dataset")
    data = source.read("spa_Latn", "ita_Latn")
    assert list(zip(data["source"], data["target"])) == list(PAIRS[:30])
    backwards = check_hub(repo, None, "dev", ("ita_Latn", "spa_Latn"), "--eval-dataset", "--eval-split")
    data = backwards.read("ita_Latn", "spa_Latn")  # in the Italian file's order, which is reversed
    assert list(zip(data["source"], data["target"])) == [(it, es) for es, it in PAIRS[:30]][::-1]


def test_misaligned_language_configs_fail_naming_the_ids(hub):
    from nllb_space.training.pairs import DataError
    from nllb_space.training.sources import check_hub

    texts = flores_texts()
    texts["ita_Latn"]["dev"] = [row for row in texts["ita_Latn"]["dev"] if row[0] not in (3, 7)] + [(99, "Extra.")]
    repo = publish_flores(hub, "tester/flores-misaligned", texts)
    source = check_hub(repo, None, "dev", ("spa_Latn", "ita_Latn"), "--eval-dataset", "--eval-split")
    with pytest.raises(DataError) as error:
        source.read("spa_Latn", "ita_Latn")
    message = str(error.value)
    assert "not aligned" in message and "2 only in spa_Latn (3, 7)" in message and "1 only in ita_Latn (99)" in message

    texts = flores_texts()
    texts["spa_Latn"]["dev"].append((5, "Otra vez el cinco."))
    repo = publish_flores(hub, "tester/flores-duplicate-id", texts)
    source = check_hub(repo, None, "dev", ("spa_Latn", "ita_Latn"), "--eval-dataset", "--eval-split")
    with pytest.raises(DataError, match=r"spa_Latn.*id 5 appears twice"):
        source.read("spa_Latn", "ita_Latn")


# -- offline: a local model folder and a local TSV --------------------------------------------------------------------


def readme_command(marker: str) -> list[str]:
    """The README's ``python train/run.py`` command holding ``marker``, as argv after ``train/run.py``."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    commands = [" ".join(block.replace("\\\n", " ").split()) for block in re.findall(r"```bash\n(.*?)```", text, re.S)]
    found = [c for c in commands if marker in c and "train/run.py" in c]
    assert found, f"README.md has no train/run.py command with {marker}"
    words = shlex.split(found[0][found[0].index("python train/run.py"):])
    return words[2:]


def test_offline_the_readme_walkthrough_runs_and_the_quick_run_says_why_not(tiny_model_dir, pairs_tsv, tmp_path):
    """The README's commands as a user without a network runs them, in a fresh process whose Hub is unreachable: the
    offline walk-through trains (the tiny model stands in for the downloaded folder), the quick run stops at once."""
    argv = readme_command("--base-model ./nllb-200-distilled-600M")
    assert "--train-file" in argv and "--dataset" not in argv and "--eval-dataset" not in argv
    swap = {"./nllb-200-distilled-600M": str(tiny_model_dir), "my_pairs.tsv": str(pairs_tsv)}
    argv = [swap.get(a, a) for a in argv]
    argv[argv.index("--output-dir") + 1] = str(tmp_path / "out")
    home = tmp_path / "hf-home"  # a user's first run: nothing cached from the Hub
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "HF_ENDPOINT": "http://127.0.0.1:9",  # nothing listens there: any Hub call would fail
           "HF_HOME": str(home), "HF_HUB_CACHE": str(home / "hub"), "HF_DATASETS_CACHE": str(home / "datasets")}
    done = subprocess.run([sys.executable, "train/run.py", *argv, "--eval-max-new-tokens", "8"], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "train: 40 pairs loaded" in done.stdout
    assert (tmp_path / "out" / "adapter_model.safetensors").is_file()

    # The quick run needs the Hub's data: offline it stops as the README says, before the model loads.
    quick = readme_command("--output-dir runs/quick")
    quick[quick.index("--output-dir") + 1] = str(tmp_path / "quick")
    done = subprocess.run([sys.executable, "train/run.py", *quick, "--base-model", str(tiny_model_dir)],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    said = re.search(r"`\.\.\. (the Hub cannot be reached) \.\.\.`", readme)[1]
    assert done.returncode == 1 and f"--dataset {OPUS_BOOKS}: {said}" in done.stderr, done.stderr[-2000:]
    assert not (tmp_path / "quick").exists()


def test_offline_a_hub_dataset_read_before_comes_from_the_cache(opus_books, flores_plus, monkeypatch):
    """Offline, ``datasets`` falls back to what it cached and lists a lone "default" config: the check asks the cache
    for the configs the run needs instead of refusing the real ones."""
    import datasets
    import huggingface_hub.constants

    from nllb_space.training.pairs import DataError
    from nllb_space.training.sources import check_hub

    datasets.load_dataset(OPUS_BOOKS, "es-it", split="train")  # read once while online
    for lang in ("spa_Latn", "ita_Latn"):
        datasets.load_dataset(FLORES_PLUS, lang, split="dev")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    languages = ("spa_Latn", "ita_Latn")
    books = check_hub(OPUS_BOOKS, "es-it", "train", languages, "--dataset", "--split")
    assert books.configs == ("es-it",) and len(books.read(*languages)) == 40
    flores = check_hub(FLORES_PLUS, None, "dev", languages, "--eval-dataset", "--eval-split")
    assert flores.configs == languages and len(flores.read(*languages)) == 30
    with pytest.raises(DataError, match="--dataset-config es-fr: the Hub is out of reach, and datasets' cache holds"):
        check_hub(OPUS_BOOKS, "es-fr", "train", languages, "--dataset", "--split")
