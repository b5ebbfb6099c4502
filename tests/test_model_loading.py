"""The base model as it is really published: `.bin` only on main, safetensors only in a bot's pull request.

`facebook/nllb-200-distilled-600M` has `pytorch_model.bin` and the tokenizer files on `main` and no
`model.safetensors`; a safetensors copy sits on `refs/pr/45`. The session emulator serves the tiny model under the
same id and the same layout (`published_base`), and a local folder mirrors what `hf download --local-dir` leaves.
"""

from __future__ import annotations

import pytest

from nllb_space.testing.pairs import SOURCES
from tests.model_fixtures import PUBLISHED_BASE, tiny_settings

SENTENCE = SOURCES[0]


def _files_asked(hub, since: int) -> list[str]:
    """Files the client asked for (HEAD or GET) since request ``since``; cached ones are still asked by HEAD."""
    return [path for _, path in hub.requests[since:] if "/resolve/" in path]


def _loaded_from(settings) -> set[str]:
    from nllb_space.model.loading import base_folder

    return {path.name for path in base_folder(settings).iterdir()}


def _reference(tiny_model_dir) -> str:
    from nllb_space.service.engine import Engine

    return Engine(tiny_settings(tiny_model_dir)).translate(SENTENCE, "spa_Latn", "ita_Latn").text


def test_app_starts_on_the_published_checkpoint_from_the_hub(hub, published_base, tiny_model_dir):
    from nllb_space.service.engine import Engine

    since = len(hub.requests)
    settings = tiny_settings(tiny_model_dir, base_model=PUBLISHED_BASE)
    engine = Engine(settings)
    assert engine.translate(SENTENCE, "spa_Latn", "ita_Latn").text == _reference(tiny_model_dir)
    assert not any(path.endswith(".safetensors") for path in _files_asked(hub, since))
    loaded = _loaded_from(settings)
    assert "pytorch_model.bin" in loaded and not any(name.endswith(".safetensors") for name in loaded)
    # Loaded from the downloaded folder: transformers never went looking for the bot's PR or a conversion Space.
    asked = [path for _, path in hub.requests[since:]]
    assert not any("discussions" in path or "/spaces/" in path for path in asked), asked


def test_base_revision_pins_the_safetensors_pull_request(hub, published_base, tiny_model_dir):
    from nllb_space.service.engine import Engine

    since = len(hub.requests)
    settings = tiny_settings(tiny_model_dir, base_model=PUBLISHED_BASE, base_revision=published_base.pr_revision)
    assert Engine(settings).translate(SENTENCE, "spa_Latn", "ita_Latn").text == _reference(tiny_model_dir)
    assert not any(path.endswith(".bin") for path in _files_asked(hub, since))
    assert "model.safetensors" in _loaded_from(settings) and "pytorch_model.bin" not in _loaded_from(settings)


def test_app_starts_on_a_local_download_that_has_only_the_bin(published_base, tiny_model_dir):
    from nllb_space.model.loading import weights_format
    from nllb_space.service.engine import Engine

    assert weights_format(published_base.local_dir) == "bin"
    engine = Engine(tiny_settings(tiny_model_dir, base_model=str(published_base.local_dir)))
    assert engine.translate(SENTENCE, "spa_Latn", "ita_Latn").text == _reference(tiny_model_dir)


def test_cold_start_with_the_hub_down_serves_the_cached_base(hub, published_base, tiny_model_dir):
    """A Space image with `preload_from_hub` (or an earlier download) starts while the Hub is unreachable."""
    from nllb_space.model.loading import load_base
    from nllb_space.service.engine import Engine

    load_base(tiny_settings(tiny_model_dir, base_model=PUBLISHED_BASE))  # in the cache, as preload leaves it
    hub.fail(r".*", status=503, times=1000)
    try:
        engine = Engine(tiny_settings(tiny_model_dir, base_model=PUBLISHED_BASE))
        assert engine.translate(SENTENCE, "spa_Latn", "ita_Latn").text == _reference(tiny_model_dir)
    finally:
        hub.clear_faults()


def test_a_folder_without_weights_names_the_download_that_fills_it(published_base, tiny_model_dir, tmp_path):
    import shutil

    from nllb_space.errors import ModelLoadError
    from nllb_space.model.loading import load_base

    broken = tmp_path / "nllb"
    shutil.copytree(published_base.local_dir, broken)
    (broken / "pytorch_model.bin").unlink()
    with pytest.raises(ModelLoadError) as caught:
        load_base(tiny_settings(tiny_model_dir, base_model=str(broken)))
    message = str(caught.value)
    assert "pytorch_model.bin" in message and f"--local-dir {broken}" in message
    assert "NLLB_BASE_MODEL=" not in message  # it is already set to this folder: that advice would go in circles


def test_a_hub_repo_without_weights_fails_start_up_with_what_it_holds(hub, tiny_model_dir):
    from nllb_space.errors import ModelLoadError
    from nllb_space.model.loading import load_base

    hub.commit_files("tester/not-a-model", {"README.md": "# nothing here\n"})
    with pytest.raises(ModelLoadError, match="no model weights.*README.md"):
        load_base(tiny_settings(tiny_model_dir, base_model="tester/not-a-model"))


@pytest.mark.parametrize("where", ["hub", "local"])
def test_the_trainer_trains_and_scores_on_the_published_layout(where, hub, published_base, tmp_path):
    from tests.test_train import QUICK, run_main

    base = PUBLISHED_BASE if where == "hub" else str(published_base.local_dir)
    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{es}\t{it}\n" for es, it in zip(SOURCES, SOURCES)), encoding="utf-8")
    run = run_main(["--base-model", base, "--base-model-name", PUBLISHED_BASE, "--train-file", str(data),
                    "--eval-file", str(data), "--max-steps", "2", "--eval-steps", "2", *QUICK], tmp_path / "out")
    assert run.status == 0, run.stderr[-2000:]
    assert (run.out / "adapter_model.safetensors").is_file()
    scored = run_main(["--eval-only", "--base-model", base, "--eval-file", str(data), "--adapter", str(run.out),
                       *QUICK], tmp_path / "eval")
    assert scored.status == 0, scored.stderr[-2000:]
    assert scored.metrics["lora"] == run.metrics["lora"]


def test_a_local_copy_of_the_base_never_puts_its_path_in_what_is_pushed(published_base, tmp_path):
    """Trained from the offline recipe's folder, the card and adapter config name the Hub id, never the path."""
    import json
    import shutil

    from tests.test_train import QUICK, run_main

    data = tmp_path / "pairs.tsv"
    data.write_text("".join(f"{es}\t{es}\n" for es in SOURCES), encoding="utf-8")
    anonymous = tmp_path / "my-base"  # a folder whose name and files say nothing of where it came from
    shutil.copytree(published_base.local_dir, anonymous)
    for base, recorded in ((published_base.local_dir, PUBLISHED_BASE), (anonymous, None)):
        out = tmp_path / f"out-{base.name}"
        run = run_main(["--base-model", str(base), "--train-file", str(data), "--eval-file", str(data),
                        "--max-steps", "1", "--eval-steps", "1", *QUICK], out)
        assert run.status == 0, run.stderr[-2000:]
        pushed = {name: (out / name).read_text(encoding="utf-8")
                  for name in ("README.md", "adapter_config.json", "metrics.json")}
        assert not any(str(base) in text or str(tmp_path) in text for text in pushed.values())
        assert json.loads(pushed["adapter_config.json"])["base_model_name_or_path"] == recorded
        if recorded:
            assert f"base_model: {recorded}" in pushed["README.md"] and "told by the folder" in run.stdout
        else:
            assert "base_model:" not in pushed["README.md"] and "--base-model-name" in run.stdout
