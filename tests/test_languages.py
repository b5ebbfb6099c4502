"""The language table against transformers' NLLB tokenizer, and how user input resolves to codes."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from nllb_space.text.language_names_es import SPANISH_NAMES
from nllb_space.text.languages import (
    LANGUAGES,
    UnknownLanguageError,
    language_choices,
    language_label,
    language_name,
    resolve_language,
)


def test_table_has_202_unique_codes_and_names() -> None:
    assert len(LANGUAGES) == 202
    assert len(set(LANGUAGES)) == 202
    assert len(set(LANGUAGES.values())) == 202
    # Names must also be unique ignoring case, since resolve_language matches them case-insensitively.
    assert len({name.casefold() for name in LANGUAGES.values()}) == 202
    assert all(name and name == name.strip() for name in LANGUAGES.values())


def test_codes_are_exactly_the_nllb_tokenizer_codes_in_order() -> None:
    tokenization_nllb = pytest.importorskip("transformers.models.nllb.tokenization_nllb")
    assert list(LANGUAGES) == list(tokenization_nllb.FAIRSEQ_LANGUAGE_CODES)


def test_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        LANGUAGES["xxx_Latn"] = "Made-up"  # type: ignore[index]


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("spa_Latn", "Spanish"),
        ("ita_Latn", "Italian"),
        ("zho_Hans", "Chinese (Simplified)"),
        ("zho_Hant", "Chinese (Traditional)"),
        ("arb_Arab", "Modern Standard Arabic"),
        ("ary_Arab", "Moroccan Arabic"),
        ("kas_Arab", "Kashmiri (Arabic)"),
        ("kas_Deva", "Kashmiri (Devanagari)"),
    ],
)
def test_known_names(code: str, name: str) -> None:
    assert language_name(code) == name
    assert language_label(code) == f"{name} ({code})"


@pytest.mark.parametrize(
    "value",
    ["spa_Latn", "SPA_LATN", "spa_latn", "Spanish", "spanish", "SPANISH", "Spanish (spa_Latn)",
     "spanish (SPA_LATN)", "  Spanish  "],
)
def test_resolve_code_name_label_any_case(value: str) -> None:
    assert resolve_language(value) == "spa_Latn"


def test_resolve_names_with_parentheses_and_spaces() -> None:
    assert resolve_language("Kashmiri (Devanagari)") == "kas_Deva"
    assert resolve_language("Kashmiri (Devanagari) (kas_Deva)") == "kas_Deva"
    assert resolve_language("modern  standard arabic") == "arb_Arab"
    assert resolve_language("Norwegian Bokmål") == "nob_Latn"


def test_every_code_name_and_label_round_trips() -> None:
    for code, name in LANGUAGES.items():
        assert resolve_language(code) == code
        assert resolve_language(name) == code
        assert resolve_language(language_label(code)) == code


def test_unknown_code_suggests_close_matches() -> None:
    with pytest.raises(UnknownLanguageError) as caught:
        resolve_language("spa_latin")
    assert caught.value.suggestions[0] == "spa_Latn"
    assert "'spa_latin'" in str(caught.value)
    assert "Spanish (spa_Latn)" in str(caught.value)
    assert len(caught.value.suggestions) <= 5


def test_misspelt_name_suggests_it() -> None:
    with pytest.raises(UnknownLanguageError) as caught:
        resolve_language("Italien")
    assert caught.value.suggestions[0] == "ita_Latn"
    assert "Italian (ita_Latn)" in str(caught.value)


def test_ambiguous_everyday_name_is_an_error_that_lists_the_candidates() -> None:
    with pytest.raises(UnknownLanguageError) as caught:
        resolve_language("Chinese")
    assert {"zho_Hans", "zho_Hant", "yue_Hant"} <= set(caught.value.suggestions)
    with pytest.raises(UnknownLanguageError) as caught:
        resolve_language("Arabic")
    assert caught.value.suggestions[0] == "arb_Arab"


def test_unknown_language_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        resolve_language("Klingon")


@pytest.mark.parametrize("value", ["", "   ", "\n"])
def test_empty_is_rejected(value: str) -> None:
    with pytest.raises(UnknownLanguageError) as caught:
        resolve_language(value)
    assert caught.value.suggestions == ()
    assert "No language given" in str(caught.value)


def test_none_from_a_cleared_dropdown_is_rejected_cleanly() -> None:
    with pytest.raises(UnknownLanguageError):
        resolve_language(None)  # type: ignore[arg-type]


def test_language_name_of_unknown_code_raises() -> None:
    with pytest.raises(UnknownLanguageError):
        language_name("xyz_Latn")


def test_error_survives_pickling() -> None:
    with pytest.raises(UnknownLanguageError) as caught:
        resolve_language("Italien")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert str(copy) == str(caught.value)
    assert copy.suggestions == caught.value.suggestions


def test_a_request_in_an_unknown_language_gets_the_same_suggestions_in_spanish() -> None:
    from nllb_space.errors import InputError
    from nllb_space.service.request_limits import languages
    from nllb_space.settings import Settings

    with pytest.raises(InputError) as caught:
        languages(Settings(), "Italien", "spa_Latn")
    english, spanish = str(caught.value), caught.value.in_language("es")
    assert english.startswith("Unknown language 'Italien'. Did you mean: Italian (ita_Latn), ")
    # The suggestions as each page's picker shows them (#26): Spanish names in Spanish, the same codes.
    with pytest.raises(UnknownLanguageError) as unknown:
        resolve_language("Italien")
    codes = unknown.value.suggestions
    suggested = ", ".join(language_label(code, "es") for code in codes)
    assert codes and spanish == f"Idioma desconocido 'Italien'. ¿Quisiste decir: {suggested}?"
    assert spanish.startswith("Idioma desconocido 'Italien'. ¿Quisiste decir: italiano (ita_Latn), ")


def test_a_request_for_one_language_twice_names_it_in_each_language() -> None:
    from nllb_space.errors import InputError
    from nllb_space.service.request_limits import languages
    from nllb_space.settings import Settings

    with pytest.raises(InputError) as caught:
        languages(Settings(), "italiano", "ita_Latn")
    assert "Italian (ita_Latn)" in str(caught.value) and "italiano (ita_Latn)" in caught.value.in_language("es")


def test_choices_are_labels_sorted_by_name() -> None:
    choices = language_choices()
    assert len(choices) == 202
    assert {code for _, code in choices} == set(LANGUAGES)
    assert all(label == language_label(code) for label, code in choices)
    names = [LANGUAGES[code].casefold() for _, code in choices]
    assert names == sorted(names)
    choices.clear()  # callers get their own list
    assert len(language_choices()) == 202


def test_import_pulls_in_no_heavy_library() -> None:
    # A fresh interpreter, because this test session may already have imported transformers.
    code = (
        "import sys, nllb_space.text.languages\n"
        "heavy = {'torch', 'transformers', 'gradio'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


def test_spanish_and_native_names_are_accepted_with_or_without_accents():
    from nllb_space.text.language_aliases import ALIASES

    assert set(ALIASES) <= set(LANGUAGES)
    for name, code in (("italiano", "ita_Latn"), ("inglés", "eng_Latn"), ("ingles", "eng_Latn"),
                       ("alemán", "deu_Latn"), ("Deutsch", "deu_Latn"), ("Français", "fra_Latn"),
                       ("日本語", "jpn_Jpan"), ("  Español ", "spa_Latn"), ("chino", "zho_Hans")):
        assert resolve_language(name) == code, name
    with pytest.raises(UnknownLanguageError, match="Italian"):
        resolve_language("italano")


def test_every_language_has_a_spanish_name_that_resolves_to_it() -> None:
    """#26: the Spanish page names every language in Spanish; what it shows can be typed back, with or without
    accents, and the English names, labels and codes keep working."""
    assert set(SPANISH_NAMES) == set(LANGUAGES) and len(set(SPANISH_NAMES.values())) == 202
    for code, name in SPANISH_NAMES.items():
        assert language_name(code, "es") == name and language_label(code, "es") == f"{name} ({code})"
        for typed in (name, name.upper(), language_label(code, "es"), _plain(name)):
            assert resolve_language(typed) == code, typed
        assert resolve_language(LANGUAGES[code]) == code and resolve_language(language_label(code)) == code
    assert language_label("spa_Latn", "es") == "español (spa_Latn)"
    assert language_label("Italian", "es") == "italiano (ita_Latn)"
    assert language_label("ita_Latn") == "Italian (ita_Latn)"  # English stays the default


def test_spanish_choices_are_spanish_labels_over_the_same_codes_sorted_by_spanish_name() -> None:
    english, spanish = language_choices(), language_choices("es")
    assert [code for _, code in sorted(spanish, key=lambda c: c[1])] == [code for _, code in sorted(english,
                                                                                                   key=lambda c: c[1])]
    assert ("español (spa_Latn)", "spa_Latn") in spanish and ("italiano (ita_Latn)", "ita_Latn") in spanish
    assert ("Spanish (spa_Latn)", "spa_Latn") in english
    keys = [_plain(label).casefold() for label, _ in spanish]
    assert keys == sorted(keys)  # "árabe" sorts among the a's, not after "zulú"
    assert spanish[0][1] != "arb_Arab" or keys[0].startswith("a")
    assert all(label == language_label(code, "es") for label, code in spanish)


def _plain(text: str) -> str:
    import unicodedata

    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))
