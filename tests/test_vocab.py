"""NLLB_RESTRICT_VOCAB: the output layer cut to the target language's script (issue 5's optional speed-up).

A tiny model whose tokenizer learnt Latin, Cyrillic, Greek and Han pieces: cutting the output to Italian's script
keeps every token of Italian text, drops the other scripts' pieces, and the engine then never generates them.
"""

from __future__ import annotations

import unicodedata

import pytest
import torch
from torch import nn

from nllb_space.model.quantization import Int8Linear
from nllb_space.model.vocab import RestrictedHead, kept_vocabulary, scripts_for
from nllb_space.testing.pairs import SOURCES, TARGETS
from tests.model_fixtures import tiny_settings, train_on_pairs

OTHER_SCRIPTS = (
    "Кошка спит на диване.", "Завтра мы пойдём на пляж.", "Сколько стоит это платье?", "Я не понимаю вопрос.",
    "Η γάτα κοιμάται στον καναπέ.", "Αύριο πάμε στη θάλασσα.",
    "猫在沙发上睡觉。", "明天我们去海边。", "这件衣服多少钱？", "我不明白这个问题。",
)
NON_LATIN = ("CYRILLIC", "GREEK", "CJK")


def _is_foreign(piece: str, scripts: tuple[str, ...] = NON_LATIN) -> bool:
    """Whether ``piece`` holds a letter of one of ``scripts`` (by Unicode character name)."""
    return any(unicodedata.name(ch, "").startswith(scripts) for ch in piece)


@pytest.fixture(scope="module")
def mixed_model_dir(tmp_path_factory):
    from nllb_space.testing.synthetic import save_synthetic_nllb

    return save_synthetic_nllb(tmp_path_factory.mktemp("mixed-scripts"), SOURCES + TARGETS + OTHER_SCRIPTS * 3)


@pytest.fixture(scope="module")
def tokenizer(mixed_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(mixed_model_dir)


def test_scripts_come_from_the_flores_code():
    assert scripts_for("ita_Latn") == ("Latn", "Zyyy", "Zinh")
    assert scripts_for("rus_Cyrl") == ("Latn", "Zyyy", "Zinh", "Cyrl")
    assert scripts_for("jpn_Jpan") == ("Latn", "Zyyy", "Zinh", "Hani", "Hira", "Kana")
    assert scripts_for("xxx_Qaaa") is None  # a script Unicode has no property for: no cut
    from nllb_space.text.languages import LANGUAGES

    assert all(scripts_for(code) for code in LANGUAGES)  # every NLLB language can be cut


def test_italian_keeps_every_token_of_italian_text_and_drops_other_scripts(tokenizer):
    rows = len(tokenizer)
    italian = kept_vocabulary(tokenizer, "ita_Latn", rows)
    used = {i for row in tokenizer(list(TARGETS), add_special_tokens=False)["input_ids"] for i in row}
    assert used <= set(italian.ids)
    pieces = tokenizer.convert_ids_to_tokens(list(range(rows)))
    foreign = {i for i, piece in enumerate(pieces) if _is_foreign(piece)}
    assert len(foreign) > 20  # the tokenizer did learn other scripts, so the cut is real
    assert not foreign & set(italian.ids)
    assert set(tokenizer.all_special_ids) <= set(italian.ids)
    assert italian.total == rows and len(italian.ids) + len(foreign) == rows

    russian = set(kept_vocabulary(tokenizer, "rus_Cyrl", rows).ids)
    cyrillic = {i for i in foreign if _is_foreign(pieces[i], ("CYRILLIC",))}
    han = {i for i in foreign if _is_foreign(pieces[i], ("CJK",))}
    assert cyrillic and han
    assert cyrillic <= russian and set(italian.ids) <= russian and not han & russian
    assert kept_vocabulary(tokenizer, "xxx_Qaaa", rows) is None


@pytest.mark.parametrize("int8", [False, True])
def test_restricted_head_gives_the_full_heads_logits_on_kept_rows_and_minus_inf_elsewhere(tokenizer, int8):
    torch.manual_seed(0)
    full = nn.Linear(16, len(tokenizer), bias=False)
    head = Int8Linear(full) if int8 else full
    kept = kept_vocabulary(tokenizer, "ita_Latn", len(tokenizer))
    restricted = RestrictedHead(head, kept)
    hidden = torch.randn(3, 5, 16)
    want, got = head(hidden), restricted(hidden)
    assert got.shape == want.shape
    ids = torch.tensor(kept.ids)
    torch.testing.assert_close(got[..., ids], want[..., ids])
    dropped = torch.ones(len(tokenizer), dtype=torch.bool)
    dropped[ids] = False
    assert torch.isneginf(got[..., dropped]).all()


def test_engine_never_generates_another_scripts_token_with_the_setting_on(mixed_model_dir, tokenizer, monkeypatch):
    from nllb_space.model import decoding
    from nllb_space.service.engine import Engine

    text = " ".join(SOURCES[:8])
    full = Engine(tiny_settings(mixed_model_dir, max_new_tokens=16, restrict_vocab=False))
    cut = Engine(tiny_settings(mixed_model_dir, max_new_tokens=16, restrict_vocab=True))
    kept = set(kept_vocabulary(tokenizer, "ita_Latn", len(tokenizer)).ids)
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    foreign = sorted(i for i, piece in enumerate(pieces) if _is_foreign(piece))
    seen: list[list[list[int]]] = []
    heads: list[bool] = []
    original = decoding.decode

    def spy(model, input_ids, attention_mask, prefix, search, head):
        heads.append(head.ids is not None)  # a cut output layer names the token ids it kept
        seen.append(original(model, input_ids, attention_mask, prefix, search, head))
        return seen[-1]

    monkeypatch.setattr(decoding, "decode", spy)

    def generated(engine, **options) -> set[int]:
        seen.clear()
        engine.translate(text, "spa_Latn", "ita_Latn", **options)
        return {i for batch in seen for row in batch for i in row}

    # Same outputs while the model's choices are all Italian-script tokens anyway.
    assert full.translate(text, "spa_Latn", "ita_Latn").text == cut.translate(text, "spa_Latn", "ita_Latn").text
    favourites = sorted(generated(full) - set(tokenizer.all_special_ids))
    # Make other scripts' tokens win: each gets twice the output row of a token the model picks (tied weights,
    # so the change reaches both engines' models before the cut layer is built from them).
    for engine in (full, cut):
        weight = engine.load().model.lm_head.weight
        with torch.no_grad():
            for k, token in enumerate(foreign):
                weight[token] = 2 * weight[favourites[k % len(favourites)]]
    assert generated(full) & set(foreign)
    assert heads[-1:] == [False]
    heads.clear()
    for options in ({}, {"num_beams": 3}):
        assert generated(cut, **options) <= kept
    # The cut layer is what every model call ran with (beam 3 on a CPU: more, smaller calls).
    assert len(heads) >= 2 and set(heads) == {True}
    assert not isinstance(cut.load().model.lm_head, RestrictedHead)  # the model's own layer is never swapped


def test_the_cut_is_on_by_default_and_changes_no_output_where_the_model_is_confident(mixed_model_dir, tmp_path):
    """Issue 27: the cut serves by default. A model whose vocabulary holds other scripts' pieces, trained until it
    translates its pairs (confident): greedy translations are all the full layer's, beam 4 nearly all, float32 and
    int8."""
    trained_model_dir = train_on_pairs(mixed_model_dir, tmp_path / "trained")
    from nllb_space.service.engine import Engine
    from nllb_space.settings import Settings

    assert Settings().restrict_vocab and not Settings.from_env({"NLLB_RESTRICT_VOCAB": "false"}).restrict_vocab
    text = "\n".join(SOURCES)
    from transformers import AutoTokenizer

    tokens = AutoTokenizer.from_pretrained(trained_model_dir)
    assert len(kept_vocabulary(tokens, "ita_Latn", len(tokens)).ids) < 0.9 * len(tokens)  # the cut drops rows here
    for dtype in ("float32", "int8"):
        engines = [Engine(tiny_settings(trained_model_dir, dtype=dtype, restrict_vocab=cut)) for cut in (False, True)]
        for beams in (1, 4):
            full, cut = (engine.translate(text, "spa_Latn", "ita_Latn", num_beams=beams) for engine in engines)
            same = sum(a.target == b.target for a, b in zip(cut.sentences, full.sentences))
            # Greedy picks the same token whenever the full layer's pick is kept: every sentence. Beam search ranks
            # beams by log-probabilities normalised over the kept tokens, a hair higher than over all of them, which
            # can reorder a near-tie between beams (int8's rounding makes some): nearly every sentence.
            assert same == len(SOURCES) if beams == 1 else same >= 0.9 * len(SOURCES), (dtype, beams, same)
