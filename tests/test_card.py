"""The adapter's model card and run report (nllb_space/hub/card.py)."""

from __future__ import annotations

import pytest
import yaml

from nllb_space.hub.card import (
    RunReport,
    commit_summary,
    hub_language_code,
    render_card,
    scores_markdown,
    validate_card,
)
from nllb_space.lora_config import LoraSettings
from nllb_space.text.languages import LANGUAGES
from nllb_space.text.scoring import Scores

BLEU_SIG = "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0"
CHRF_SIG = "nrefs:1|case:mixed|eff:yes|nc:6|nw:2|space:no|version:2.6.0"


def report(**overrides) -> RunReport:
    values = dict(
        base_model="facebook/nllb-200-distilled-600M",
        src_lang="spa_Latn",
        tgt_lang="ita_Latn",
        eval_set="dev.spa_Latn / dev.ita_Latn",
        num_beams=4,
        max_new_tokens=256,
        base=Scores(20.5, 50.25, BLEU_SIG, CHRF_SIG, 997),
        lora=Scores(23.75, 52.5, BLEU_SIG, CHRF_SIG, 997),
        lora_settings=LoraSettings(),
        training={"steps": 2000, "learning_rate": 2e-4, "train_pairs": 10_500},
        loss_history=((1, 3.5), (25, 2.25)),
        datasets=("Helsinki-NLP/opus-100",),
    )
    values.update(overrides)
    return RunReport(**values)


def front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text[4:text.index("\n---", 4)])


def test_flores_codes_map_to_hub_language_codes():
    assert hub_language_code("spa_Latn") == "es" and hub_language_code("ita_Latn") == "it"
    assert hub_language_code("zho_Hant") == "zh" and hub_language_code("arb_Arab") == "ar"
    assert hub_language_code("ary_Arab") == "ary"  # Moroccan Arabic has no two-letter code
    assert all(len(hub_language_code(code)) in (2, 3) for code in LANGUAGES)


def test_card_metadata_parses_and_carries_the_scores():
    text = render_card(report(), repo_id="me/nllb-spa-ita-lora", revision="v1")
    metadata = validate_card(text)
    raw = front_matter(text)
    assert raw["base_model"] == "facebook/nllb-200-distilled-600M"
    assert raw["library_name"] == "peft" and raw["pipeline_tag"] == "translation"
    assert raw["language"] == ["es", "it"] and raw["license"] == "cc-by-nc-4.0"
    assert {"lora", "nllb", "translation"} <= set(raw["tags"])
    assert raw["datasets"] == ["Helsinki-NLP/opus-100"]
    result = raw["model-index"][0]["results"][0]
    assert result["task"]["type"] == "translation"
    assert result["dataset"]["name"] == "dev.spa_Latn / dev.ita_Latn"
    metrics = {m["type"]: m for m in result["metrics"]}
    assert (metrics["bleu"]["value"], metrics["chrf"]["value"]) == (23.75, 52.5)  # the adapter's scores
    assert metrics["bleu"]["config"] == BLEU_SIG and metrics["chrf"]["name"] == "chrF++"
    assert metadata["model-index"] == raw["model-index"]


def test_card_body_has_training_scores_and_loading_instructions():
    text = render_card(report(), repo_id="me/nllb-spa-ita-lora", revision="v1")
    body = text[text.index("\n---", 4) + 4:]
    assert "| base model | 20.50 | 50.25 |" in body and "| with LoRA | 23.75 | 52.50 |" in body
    assert "| difference | +3.25 | +2.25 |" in body
    assert "beam search (4 beams)" in body and "997 sentences" in body
    assert "r=16, alpha=32, dropout=0.05" in body and "`out_proj`" in body
    assert "- steps: 2000" in body and "- learning rate: 0.0002" in body
    assert 'PeftModel.from_pretrained(base, "me/nllb-spa-ita-lora", revision="v1")' in body
    assert 'forced_bos_token_id=tokenizer.convert_tokens_to_ids("ita_Latn")' in body
    assert "NLLB_ADAPTER_REPO=me/nllb-spa-ita-lora NLLB_ADAPTER_REVISION=v1 python app.py" in body
    assert "loss_history" not in body


def test_local_base_model_is_not_written_as_a_hub_id(tmp_path):
    text = render_card(report(base_model=str(tmp_path), datasets=()), repo_id=None)
    raw = front_matter(text)
    assert "base_model" not in raw and "datasets" not in raw
    assert "NLLB_ADAPTER_REPO=OWNER/NAME NLLB_ADAPTER_REVISION=main" in text


def test_base_only_report_renders():
    text = render_card(report(lora=None, lora_settings=None, training={}))
    validate_card(text)
    assert "with LoRA" not in text and "## Training" not in text
    assert commit_summary(report(lora=None)).startswith("Base model spa_Latn->ita_Latn: BLEU 20.5")


def test_report_json_round_trip():
    original = report()
    assert RunReport.from_json(original.to_json()) == original
    with pytest.raises(ValueError, match="not a run report"):
        RunReport.from_json('{"base_model": "x"}')


def test_commit_summary_and_table_carry_both_scores():
    summary = commit_summary(report())
    assert summary == ("LoRA r=16 spa_Latn->ita_Latn: BLEU 23.8 (base 20.5), chrF++ 52.5 (base 50.2) "
                       "on dev.spa_Latn / dev.ita_Latn")
    assert scores_markdown(report()).splitlines()[0] == "| model | BLEU | chrF++ |"


def test_invalid_metadata_is_rejected():
    with pytest.raises(ValueError, match="no YAML metadata"):
        validate_card("# just a title\n")
    with pytest.raises(ValueError, match="does not parse"):
        validate_card("---\nlicense: [unclosed\n---\n# x\n")
    with pytest.raises(ValueError, match="lacks 'model-index'"):
        validate_card("---\nlibrary_name: peft\npipeline_tag: translation\nlanguage: [es]\nlicense: mit\n"
                      "tags: [lora]\n---\n# x\n")


def test_a_card_says_when_the_adapter_scores_below_the_base():
    worse = render_card(report(lora=Scores(19.0, 48.0, BLEU_SIG, CHRF_SIG, 997)))
    assert "This adapter scores below the base model** (chrF++ -2.25)" in worse
    assert "scores below the base model" not in render_card(report())
