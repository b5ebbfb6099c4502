import pytest

from nllb_space.text.scoring import corpus_scores, sentence_scores


def test_perfect_and_wrong_translations_score_apart():
    refs = ["Il gatto dorme sul divano.", "Oggi fa molto caldo."]
    perfect = corpus_scores(refs, refs)
    wrong = corpus_scores(["Il cane corre.", "Domani piove."], refs)
    assert perfect.bleu == pytest.approx(100.0) and perfect.chrf == pytest.approx(100.0)
    assert wrong.bleu < 20 and wrong.chrf < perfect.chrf
    assert "nrefs:1" in perfect.bleu_signature and "nw:2" in perfect.chrf_signature  # chrF++ = word order 2


def test_sentence_scores_and_misaligned_input():
    bleu, chrf = sentence_scores("Il gatto dorme.", "Il gatto dorme sul divano.")
    assert 0 < bleu < 100 and 0 < chrf < 100
    with pytest.raises(ValueError, match="align"):
        corpus_scores(["a"], ["a", "b"])
