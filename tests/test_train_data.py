"""Loading parallel data from files and the Hub, and the clean-up before training (nllb_space/training/pairs.py)."""

from __future__ import annotations

import json

import pytest

from nllb_space.testing.pairs import PAIRS
from nllb_space.training.pairs import (
    DataError, clean_pairs, column_names_for, hold_out, load_table, load_text_pair, overlap, pair_dataset,
)

WORDS = lambda texts: [len(t.split()) for t in texts]  # noqa: E731 - a stand-in for the tokenizer's token counts


def pairs_of(data) -> list[tuple[str, str]]:
    return list(zip(data["source"], data["target"]))


def write_lines(path, lines) -> str:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return str(path)


def test_aligned_text_files_load_line_by_line_keeping_unicode_line_separators(tmp_path):
    sources = ["Hola.", "Dijo:\u2028«adiós».", "  Con espacios  "]
    targets = ["Ciao.", "Disse:\u2028«addio».", "Con spazi"]
    src = write_lines(tmp_path / "train.spa", sources)
    (tmp_path / "train.ita").write_bytes(("\ufeff" + "\r\n".join(targets) + "\r\n").encode())  # BOM + CRLF
    data = load_text_pair(src, tmp_path / "train.ita")
    # U+2028 is data, not a line break (splitlines() would have shifted every later line); BOM and CR are gone.
    assert pairs_of(data) == list(zip(sources, targets))


def test_misaligned_files_name_both_files_and_line_counts(tmp_path):
    src = write_lines(tmp_path / "a.spa", ["uno", "dos", "tres"])
    tgt = write_lines(tmp_path / "b.ita", ["uno", "due"])
    with pytest.raises(DataError) as error:
        load_text_pair(src, tgt)
    message = str(error.value)
    assert f"{src} has 3 lines" in message and f"{tgt} has 2" in message


def test_missing_and_non_utf8_files_are_named(tmp_path):
    with pytest.raises(DataError, match="nope.spa does not exist"):
        load_text_pair(tmp_path / "nope.spa", tmp_path / "nope.ita")
    (tmp_path / "latin1.tsv").write_bytes("Hola\tCiao caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="latin1.tsv is not UTF-8"):
        load_table(tmp_path / "latin1.tsv", "spa_Latn", "ita_Latn")


@pytest.mark.parametrize("header", ["spa_Latn\tita_Latn", "es\tit", "source\ttarget", None])
def test_tsv_with_language_header_or_no_header(tmp_path, header):
    rows = [f"{es}\t{it}" for es, it in PAIRS[:5]] + ['Dijo "hola".\tHa detto "ciao".']
    path = write_lines(tmp_path / "pairs.tsv", ([header] if header else []) + rows)
    data = load_table(path, "spa_Latn", "ita_Latn")
    # Quotes in a TSV are text, never CSV quoting.
    assert pairs_of(data) == list(PAIRS[:5]) + [('Dijo "hola".', 'Ha detto "ciao".')]


def test_csv_with_quoted_commas_and_named_columns(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text('id,es_text,it_text\n1,"Hola, amigo.","Ciao, amico."\n2,Sí.,Sì.\n', encoding="utf-8")
    data = load_table(path, "spa_Latn", "ita_Latn", source_column="es_text", target_column="it_text")
    assert pairs_of(data) == [("Hola, amigo.", "Ciao, amico."), ("Sí.", "Sì.")]


def test_missing_column_names_the_columns_found(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("english,german\nhello,hallo\n", encoding="utf-8")
    with pytest.raises(DataError) as error:
        load_table(path, "spa_Latn", "ita_Latn")
    assert "pairs.csv" in str(error.value) and "columns found: english, german" in str(error.value)
    with pytest.raises(DataError, match=r"no column 'es_text'; columns found: english, german"):
        load_table(path, "spa_Latn", "ita_Latn", source_column="es_text", target_column="german")


def test_jsonl_flat_and_opus_style(tmp_path):
    flat = tmp_path / "flat.jsonl"
    flat.write_text("\n".join(json.dumps({"es": es, "it": it}) for es, it in PAIRS[:3]) + "\n", encoding="utf-8")
    assert pairs_of(load_table(flat, "spa_Latn", "ita_Latn")) == list(PAIRS[:3])
    opus = tmp_path / "opus.jsonl"
    rows = [{"id": i, "translation": {"it": it, "es": es, "fr": "x"}} for i, (es, it) in enumerate(PAIRS[:3])]
    opus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    assert pairs_of(load_table(opus, "spa_Latn", "ita_Latn")) == list(PAIRS[:3])
    # The other direction comes from the same rows.
    assert pairs_of(load_table(opus, "ita_Latn", "spa_Latn")) == [(it, es) for es, it in PAIRS[:3]]


def test_opus_rows_without_the_language_name_the_keys_found(tmp_path):
    path = tmp_path / "de-en.jsonl"
    path.write_text(json.dumps({"translation": {"de": "Hallo", "en": "Hello"}}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"keys de, en.*none for spa_Latn \(spa_Latn, es, spa\)"):
        load_table(path, "spa_Latn", "ita_Latn")


def test_bad_jsonl_line_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"es": "a", "it": "b"}\n{"es": "c",\n', encoding="utf-8")
    with pytest.raises(DataError, match="bad.jsonl, line 2, is not valid JSON"):
        load_table(path, "spa_Latn", "ita_Latn")


def test_hub_dataset_with_opus_style_rows(hub):
    from nllb_space.training.sources import HubSplit, check_hub

    rows = [{"translation": {"es": es, "it": it}} for es, it in PAIRS[:6]]
    hub.commit_files(
        "tester/opus-es-it",
        {"data/train.jsonl": "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"},
        repo_type="dataset",
    )
    source = check_hub("tester/opus-es-it", None, "train", ("spa_Latn", "ita_Latn"), "--dataset", "--split")
    assert source == HubSplit("tester/opus-es-it", "train", ("default",), "--dataset")
    assert pairs_of(source.read("spa_Latn", "ita_Latn")) == list(PAIRS[:6])
    with pytest.raises(DataError, match="--dataset tester/no-such-dataset: no such dataset on the Hub"):
        check_hub("tester/no-such-dataset", None, "train", ("spa_Latn", "ita_Latn"), "--dataset", "--split")


def test_cleanup_counts_each_reason_once(tmp_path):

    rows = [
        ("Hola.", "Ciao."),
        ("  Hola.  ", "Ciao."),                      # duplicate once trimmed
        ("", "Vuoto"),                               # empty source
        ("Solo fuente", "   "),                      # empty target
        ("uno dos tres cuatro cinco seis", "uno due tre quattro cinque sei"),   # 6 words: over the limit of 5
        ("Sí.", "Sì, certo, lo farò domani"),        # 1 vs 5 words: ratio (5+1)/(1+1) = 3 > 2.5
        ("El gato duerme.", "Il gatto dorme."),
    ]
    data, report = clean_pairs(pair_dataset(*zip(*rows)), "train", WORDS, max_length=5, max_ratio=2.5)
    assert pairs_of(data) == [("Hola.", "Ciao."), ("El gato duerme.", "Il gatto dorme.")]
    assert (report.loaded, report.empty, report.duplicates, report.too_long, report.bad_ratio, report.kept) == (
        7, 2, 1, 1, 1, 2)
    assert report.summary() == ("train: 7 pairs loaded; dropped 2 empty, 1 duplicate, 1 over 5 tokens, "
                                "1 with length ratio over 2.5 -> 2 kept")


def test_held_out_pairs_are_counted_so_the_numbers_add_up():
    from nllb_space.training.pairs import CleanupReport

    train = CleanupReport("train", 42, empty=1, duplicates=1, max_length=256, max_ratio=3.0, held_out=4)
    assert (train.kept, train.trained) == (40, 36)
    assert train.summary() == ("train: 42 pairs loaded; dropped 1 empty, 1 duplicate, 0 over 256 tokens, "
                               "0 with length ratio over 3 -> 40 kept; 4 held out for evaluation -> 36 to train on")
    # Evaluation data is not de-duplicated (duplicates=None), so the line does not claim "0 duplicate".
    evaluation = CleanupReport("eval", 4, duplicates=None, origin="held out of the training pairs")
    assert evaluation.summary() == "eval: 4 pairs held out of the training pairs; dropped 0 empty -> 4 kept"
    assert evaluation.counts() == evaluation.summary().removeprefix("eval: ")


def test_eval_cleanup_keeps_duplicates_and_long_pairs():

    data, report = clean_pairs(pair_dataset(["a", "a", ""], ["b", "b", "c"]), "eval", dedupe=False)
    assert pairs_of(data) == [("a", "b"), ("a", "b")]
    assert report.summary() == "eval: 3 pairs loaded; dropped 1 empty -> 2 kept"


def test_hold_out_is_seeded_capped_and_disjoint():

    data = pair_dataset(*zip(*PAIRS))
    train, evaluation = hold_out(data, share=0.25, max_pairs=6, seed=3)
    again = hold_out(data, share=0.25, max_pairs=6, seed=3)[1]
    assert (len(train), len(evaluation)) == (34, 6)
    assert evaluation["source"] == again["source"]
    assert overlap(train, evaluation) == 0
    with pytest.raises(DataError, match="too few to hold some out"):
        hold_out(pair_dataset(["a"], ["b"]), share=0.5, max_pairs=10, seed=0)


def test_column_names_for_a_language():
    assert column_names_for("spa_Latn") == ("spa_Latn", "es", "spa")
    assert column_names_for("ary_Arab") == ("ary_Arab", "ary")
