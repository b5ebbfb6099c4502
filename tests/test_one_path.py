"""The trainer scores what the app serves: one path from text to translation for both (issue #12).

``train/run.py --eval-only`` and the engine must produce the same translations of the same lines, with the same
splitting of long lines and of lines holding several sentences, the same batching, int8 weights and the output layer
cut to the target's script. So the scores in a model card are the scores of what the Space answers.
"""

from __future__ import annotations

import json

import pytest

from nllb_space.testing.pairs import PAIRS
from tests.model_fixtures import tiny_settings
from tests.test_train import run_main

BEAMS, NEW_TOKENS, BATCH = 2, 16, 4


def eval_lines() -> list[tuple[str, str]]:
    """Test pairs plus the two kinds of line a plain generate loop treats differently from the app: a line with two
    sentences (the app translates each on its own) and one longer than NLLB_MAX_INPUT_TOKENS (the app splits it
    instead of cutting it off)."""
    (es1, it1), (es2, it2) = PAIRS[0], PAIRS[1]
    long_es = ", ".join(es for es, _ in PAIRS[:40]).replace(".", "")
    long_it = ", ".join(it for _, it in PAIRS[:40]).replace(".", "")
    return [*PAIRS[2:8], (f"{es1} {es2}", f"{it1} {it2}"), (long_es, long_it)]


@pytest.mark.parametrize("dtype, restrict", [("float32", False), ("int8", True)])
def test_eval_only_scores_exactly_the_translations_the_engine_serves(tiny_model_dir, adapter_dirs, tmp_path,
                                                                     dtype, restrict):
    from nllb_space.service.engine import Engine
    from nllb_space.text.scoring import corpus_scores

    lines = eval_lines()
    data = tmp_path / "eval.tsv"
    data.write_text("spa_Latn\tita_Latn\n" + "".join(f"{es}\t{it}\n" for es, it in lines), encoding="utf-8")
    argv = ["--eval-only", "--base-model", str(tiny_model_dir), "--eval-file", str(data),
            "--adapter", str(adapter_dirs["a"]), "--eval-beams", str(BEAMS), "--eval-max-new-tokens", str(NEW_TOKENS),
            "--eval-dtype", dtype, "--eval-batch-size", str(BATCH), *(["--restrict-vocab"] if restrict else [])]
    run = run_main(argv, tmp_path / "out")
    assert run.status == 0, run.stderr[-2000:]

    engine = Engine(tiny_settings(tiny_model_dir, dtype=dtype, restrict_vocab=restrict,
                                  adapter_repo=str(adapter_dirs["a"]), adapter_revision="local", batch_size=BATCH))
    assert len(engine.load().tokenizer(lines[-1][0])["input_ids"]) > engine.settings.max_input_tokens
    references = [it for _, it in lines]
    # One line on its own gives what it gives among the others (the batches are padded, never mixed up).
    assert engine.translate(lines[0][0], model="local", num_beams=BEAMS, max_new_tokens=NEW_TOKENS).text == \
        engine.translate_many([lines[0][0]], models=["local"], num_beams=BEAMS, max_new_tokens=NEW_TOKENS).outputs[0][0]
    for side, model in (("base", "base"), ("lora", "local")):
        served = engine.translate_many([es for es, _ in lines], models=[model], num_beams=BEAMS,
                                       max_new_tokens=NEW_TOKENS).outputs[0]
        expected = corpus_scores(served, references)
        scored = json.loads((tmp_path / "out" / "metrics.json").read_text(encoding="utf-8"))[side]
        assert (scored["bleu"], scored["chrf"]) == (expected.bleu, expected.chrf), side
