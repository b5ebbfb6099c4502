"""The 202 FLORES-200 languages NLLB-200 translates, and how user input maps onto them.

NLLB names a language by a FLORES-200 code: an ISO 639-3 language plus an ISO 15924 script, ``spa_Latn``. People
type "Spanish" or "español", the UI shows "Spanish (spa_Latn)" (the Spanish page "español (spa_Latn)", with the names
of text/language_names_es.py), and the tokenizer wants ``spa_Latn``; ``resolve_language`` turns any of those into
the code and, for anything else, fails with the closest real languages so that a typo in
an environment variable or an API call is a one-line fix.

The table is exactly ``FAIRSEQ_LANGUAGE_CODES`` of transformers' NLLB tokenizer, in its order (the test suite
checks it against the installed transformers). It is written out here rather than imported so that this module,
the settings and the UI's dropdown never pay for importing transformers. English names follow the FLORES-200
README; where NLLB knows one language in two scripts, the script is part of the name ("Kashmiri (Arabic)"), so
every name is unique and can be typed on its own.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Mapping
from types import MappingProxyType

from .language_aliases import ALIASES
from .language_names_es import SPANISH_NAMES

__all__ = [
    "LANGUAGES",
    "UnknownLanguageError",
    "language_choices",
    "language_label",
    "language_name",
    "resolve_language",
]

# Order = transformers' FAIRSEQ_LANGUAGE_CODES (mostly alphabetical, with the tokenizer's historical exceptions
# such as pes_Arab after fao_Latn). Keep it so: a diff against that list then stays readable.
_LANGUAGE_TABLE: dict[str, str] = {
    "ace_Arab": "Acehnese (Arabic)",
    "ace_Latn": "Acehnese (Latin)",
    "acm_Arab": "Mesopotamian Arabic",
    "acq_Arab": "Ta'izzi-Adeni Arabic",
    "aeb_Arab": "Tunisian Arabic",
    "afr_Latn": "Afrikaans",
    "ajp_Arab": "South Levantine Arabic",
    "aka_Latn": "Akan",
    "amh_Ethi": "Amharic",
    "apc_Arab": "North Levantine Arabic",
    "arb_Arab": "Modern Standard Arabic",
    "ars_Arab": "Najdi Arabic",
    "ary_Arab": "Moroccan Arabic",
    "arz_Arab": "Egyptian Arabic",
    "asm_Beng": "Assamese",
    "ast_Latn": "Asturian",
    "awa_Deva": "Awadhi",
    "ayr_Latn": "Central Aymara",
    "azb_Arab": "South Azerbaijani",
    "azj_Latn": "North Azerbaijani",
    "bak_Cyrl": "Bashkir",
    "bam_Latn": "Bambara",
    "ban_Latn": "Balinese",
    "bel_Cyrl": "Belarusian",
    "bem_Latn": "Bemba",
    "ben_Beng": "Bengali",
    "bho_Deva": "Bhojpuri",
    "bjn_Arab": "Banjar (Arabic)",
    "bjn_Latn": "Banjar (Latin)",
    "bod_Tibt": "Standard Tibetan",
    "bos_Latn": "Bosnian",
    "bug_Latn": "Buginese",
    "bul_Cyrl": "Bulgarian",
    "cat_Latn": "Catalan",
    "ceb_Latn": "Cebuano",
    "ces_Latn": "Czech",
    "cjk_Latn": "Chokwe",
    "ckb_Arab": "Central Kurdish",
    "crh_Latn": "Crimean Tatar",
    "cym_Latn": "Welsh",
    "dan_Latn": "Danish",
    "deu_Latn": "German",
    "dik_Latn": "Southwestern Dinka",
    "dyu_Latn": "Dyula",
    "dzo_Tibt": "Dzongkha",
    "ell_Grek": "Greek",
    "eng_Latn": "English",
    "epo_Latn": "Esperanto",
    "est_Latn": "Estonian",
    "eus_Latn": "Basque",
    "ewe_Latn": "Ewe",
    "fao_Latn": "Faroese",
    "pes_Arab": "Western Persian",
    "fij_Latn": "Fijian",
    "fin_Latn": "Finnish",
    "fon_Latn": "Fon",
    "fra_Latn": "French",
    "fur_Latn": "Friulian",
    "fuv_Latn": "Nigerian Fulfulde",
    "gla_Latn": "Scottish Gaelic",
    "gle_Latn": "Irish",
    "glg_Latn": "Galician",
    "grn_Latn": "Guarani",
    "guj_Gujr": "Gujarati",
    "hat_Latn": "Haitian Creole",
    "hau_Latn": "Hausa",
    "heb_Hebr": "Hebrew",
    "hin_Deva": "Hindi",
    "hne_Deva": "Chhattisgarhi",
    "hrv_Latn": "Croatian",
    "hun_Latn": "Hungarian",
    "hye_Armn": "Armenian",
    "ibo_Latn": "Igbo",
    "ilo_Latn": "Ilocano",
    "ind_Latn": "Indonesian",
    "isl_Latn": "Icelandic",
    "ita_Latn": "Italian",
    "jav_Latn": "Javanese",
    "jpn_Jpan": "Japanese",
    "kab_Latn": "Kabyle",
    "kac_Latn": "Jingpho",
    "kam_Latn": "Kamba",
    "kan_Knda": "Kannada",
    "kas_Arab": "Kashmiri (Arabic)",
    "kas_Deva": "Kashmiri (Devanagari)",
    "kat_Geor": "Georgian",
    "knc_Arab": "Central Kanuri (Arabic)",
    "knc_Latn": "Central Kanuri (Latin)",
    "kaz_Cyrl": "Kazakh",
    "kbp_Latn": "Kabiyè",
    "kea_Latn": "Kabuverdianu",
    "khm_Khmr": "Khmer",
    "kik_Latn": "Kikuyu",
    "kin_Latn": "Kinyarwanda",
    "kir_Cyrl": "Kyrgyz",
    "kmb_Latn": "Kimbundu",
    "kon_Latn": "Kikongo",
    "kor_Hang": "Korean",
    "kmr_Latn": "Northern Kurdish",
    "lao_Laoo": "Lao",
    "lvs_Latn": "Standard Latvian",
    "lij_Latn": "Ligurian",
    "lim_Latn": "Limburgish",
    "lin_Latn": "Lingala",
    "lit_Latn": "Lithuanian",
    "lmo_Latn": "Lombard",
    "ltg_Latn": "Latgalian",
    "ltz_Latn": "Luxembourgish",
    "lua_Latn": "Luba-Kasai",
    "lug_Latn": "Ganda",
    "luo_Latn": "Luo",
    "lus_Latn": "Mizo",
    "mag_Deva": "Magahi",
    "mai_Deva": "Maithili",
    "mal_Mlym": "Malayalam",
    "mar_Deva": "Marathi",
    "min_Latn": "Minangkabau",
    "mkd_Cyrl": "Macedonian",
    "plt_Latn": "Plateau Malagasy",
    "mlt_Latn": "Maltese",
    "mni_Beng": "Meitei",
    "khk_Cyrl": "Halh Mongolian",
    "mos_Latn": "Mossi",
    "mri_Latn": "Maori",
    "zsm_Latn": "Standard Malay",
    "mya_Mymr": "Burmese",
    "nld_Latn": "Dutch",
    "nno_Latn": "Norwegian Nynorsk",
    "nob_Latn": "Norwegian Bokmål",
    "npi_Deva": "Nepali",
    "nso_Latn": "Northern Sotho",
    "nus_Latn": "Nuer",
    "nya_Latn": "Nyanja",
    "oci_Latn": "Occitan",
    "gaz_Latn": "West Central Oromo",
    "ory_Orya": "Odia",
    "pag_Latn": "Pangasinan",
    "pan_Guru": "Eastern Panjabi",
    "pap_Latn": "Papiamento",
    "pol_Latn": "Polish",
    "por_Latn": "Portuguese",
    "prs_Arab": "Dari",
    "pbt_Arab": "Southern Pashto",
    "quy_Latn": "Ayacucho Quechua",
    "ron_Latn": "Romanian",
    "run_Latn": "Rundi",
    "rus_Cyrl": "Russian",
    "sag_Latn": "Sango",
    "san_Deva": "Sanskrit",
    "sat_Beng": "Santali",
    "scn_Latn": "Sicilian",
    "shn_Mymr": "Shan",
    "sin_Sinh": "Sinhala",
    "slk_Latn": "Slovak",
    "slv_Latn": "Slovenian",
    "smo_Latn": "Samoan",
    "sna_Latn": "Shona",
    "snd_Arab": "Sindhi",
    "som_Latn": "Somali",
    "sot_Latn": "Southern Sotho",
    "spa_Latn": "Spanish",
    "als_Latn": "Tosk Albanian",
    "srd_Latn": "Sardinian",
    "srp_Cyrl": "Serbian",
    "ssw_Latn": "Swati",
    "sun_Latn": "Sundanese",
    "swe_Latn": "Swedish",
    "swh_Latn": "Swahili",
    "szl_Latn": "Silesian",
    "tam_Taml": "Tamil",
    "tat_Cyrl": "Tatar",
    "tel_Telu": "Telugu",
    "tgk_Cyrl": "Tajik",
    "tgl_Latn": "Tagalog",
    "tha_Thai": "Thai",
    "tir_Ethi": "Tigrinya",
    "taq_Latn": "Tamasheq (Latin)",
    "taq_Tfng": "Tamasheq (Tifinagh)",
    "tpi_Latn": "Tok Pisin",
    "tsn_Latn": "Tswana",
    "tso_Latn": "Tsonga",
    "tuk_Latn": "Turkmen",
    "tum_Latn": "Tumbuka",
    "tur_Latn": "Turkish",
    "twi_Latn": "Twi",
    "tzm_Tfng": "Central Atlas Tamazight",
    "uig_Arab": "Uyghur",
    "ukr_Cyrl": "Ukrainian",
    "umb_Latn": "Umbundu",
    "urd_Arab": "Urdu",
    "uzn_Latn": "Northern Uzbek",
    "vec_Latn": "Venetian",
    "vie_Latn": "Vietnamese",
    "war_Latn": "Waray",
    "wol_Latn": "Wolof",
    "xho_Latn": "Xhosa",
    "ydd_Hebr": "Eastern Yiddish",
    "yor_Latn": "Yoruba",
    "yue_Hant": "Yue Chinese",
    "zho_Hans": "Chinese (Simplified)",
    "zho_Hant": "Chinese (Traditional)",
    "zul_Latn": "Zulu",
}

LANGUAGES: Mapping[str, str] = MappingProxyType(_LANGUAGE_TABLE)
"""FLORES-200 code -> English name, for all 202 languages NLLB-200 knows. Read-only: it is shared by every
request, so nobody may add or rename a language at run time."""

_SUGGESTIONS = 5
"""How many close matches an ``UnknownLanguageError`` names: enough to contain the intended one after a typo,
few enough to read in one line of a log or a toast."""

_CUTOFF = 0.6
"""``difflib`` similarity (0..1) a code, name or label needs to be suggested; difflib's own default, which keeps
"Italien" -> Italian and "spa_latin" -> spa_Latn while leaving out unrelated names."""

# Everyday names that are not the FLORES-200 name of any language -> the language a person typing them most likely
# means. Used only to rank suggestions (resolve_language never guesses): "Arabic" alone matches ten names, and
# Modern Standard Arabic, the one usually meant, would otherwise sort last among them.
_COMMON_NAMES: dict[str, str] = {
    "albanian": "als_Latn",
    "arabic": "arb_Arab",
    "azerbaijani": "azj_Latn",
    "bangla": "ben_Beng",
    "cantonese": "yue_Hant",
    "chinese": "zho_Hans",
    "farsi": "pes_Arab",
    "filipino": "tgl_Latn",
    "kurdish": "kmr_Latn",
    "latvian": "lvs_Latn",
    "malagasy": "plt_Latn",
    "malay": "zsm_Latn",
    "mandarin": "zho_Hans",
    "mongolian": "khk_Cyrl",
    "norwegian": "nob_Latn",
    "oromo": "gaz_Latn",
    "pashto": "pbt_Arab",
    "persian": "pes_Arab",
    "punjabi": "pan_Guru",
    "tibetan": "bod_Tibt",
    "uzbek": "uzn_Latn",
    "yiddish": "ydd_Hebr",
}

def _plain(text: str) -> str:
    """``text`` without accents (marks removed after NFD), for names typed on a keyboard without them."""
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


_NAMES: dict[str, Mapping[str, str]] = {"en": LANGUAGES, "es": MappingProxyType(SPANISH_NAMES)}
"""Each page language's name for every code: the pickers' labels."""

# Lookup tables for resolve_language, keyed by casefolded text so that "SPA_LATN", "spanish" and
# "spanish (spa_latn)" all hit. Plain dicts built once at import: a few x 202 short strings, no I/O.
_BY_CODE: dict[str, str] = {code.casefold(): code for code in _LANGUAGE_TABLE}
_BY_NAME: dict[str, str] = {name.casefold(): code for code, name in _LANGUAGE_TABLE.items()}
# Every page's labels, so that what either picker shows ("español (spa_Latn)") can be typed back.
_BY_LABEL: dict[str, str] = {f"{name} ({code})".casefold(): code for names in _NAMES.values()
                             for code, name in names.items()}
# Spanish names and other names people type (text/language_aliases.py), also without accents: "ingles" finds
# "inglés", "espanol (spa_latn)" finds "español (spa_Latn)".
_BY_ALIAS: dict[str, str] = {
    key: code for code, names in ALIASES.items() for name in names
    for key in (name.casefold(), _plain(name.casefold()))
} | {
    key: code for code, name in SPANISH_NAMES.items() for text in (name, f"{name} ({code})")
    for key in (text.casefold(), _plain(text.casefold()))
}

# What close matches are searched over: (casefolded text, code) for every code, name and label. Labels are in so
# that a mangled dropdown value ("Spanish (spa_Latin)") still finds its language.
_CANDIDATES: tuple[tuple[str, str], ...] = tuple(
    (text, code) for table in (_BY_CODE, _BY_NAME, _BY_LABEL, _BY_ALIAS) for text, code in table.items()
)

_CHOICES: dict[str, tuple[tuple[str, str], ...]] = {
    # Sorted as a reader of that language looks for a name: case and accents aside ("árabe" among the a's).
    language: tuple(sorted(((f"{name} ({code})", code) for code, name in names.items()),
                           key=lambda choice: (_plain(names[choice[1]].casefold()), choice[1])))
    for language, names in _NAMES.items()
}


class UnknownLanguageError(ValueError):
    """Input that names none of the 202 languages. The message quotes the input and lists up to five close matches
    as ``"Name (code)"``; ``suggestions`` holds their codes, best first, for callers that want to offer them.
    ``es`` is the same message in Spanish, for a visitor (request_limits passes it on), with the suggestions as the
    Spanish page's picker shows them."""

    def __init__(self, value: str, suggestions: tuple[str, ...] = ()) -> None:
        self.value = value
        self.suggestions = tuple(suggestions)
        if not value or not value.strip():
            message = "No language given: expected a FLORES-200 code such as 'spa_Latn' or a name such as 'Spanish'."
            self.es = ("No se indicó ningún idioma: se espera un código FLORES-200 como 'spa_Latn' o un nombre como "
                       "'español'.")
        elif self.suggestions:
            # The labels stay as each page's language picker shows them, so a visitor can find and type one.
            labels = ", ".join(language_label(code) for code in self.suggestions)
            message = f"Unknown language {value!r}. Did you mean: {labels}?"
            spanish = ", ".join(language_label(code, "es") for code in self.suggestions)
            self.es = f"Idioma desconocido {value!r}. ¿Quisiste decir: {spanish}?"
        else:
            message = (
                f"Unknown language {value!r}: expected one of the 202 FLORES-200 codes NLLB-200 knows, such as"
                " 'spa_Latn', or its English name, such as 'Spanish'."
            )
            self.es = (
                f"Idioma desconocido {value!r}: se espera uno de los 202 códigos FLORES-200 que conoce NLLB-200, como"
                " 'spa_Latn', o su nombre, como 'español'."
            )
        super().__init__(message)

    def __reduce__(self) -> tuple[type[UnknownLanguageError], tuple[str, tuple[str, ...]]]:
        # Exceptions pickle as cls(*self.args), and args holds the message, not our constructor's arguments; say
        # how to rebuild this one so it survives a trip through multiprocessing or a queue.
        return (type(self), (self.value, self.suggestions))


def resolve_language(value: str) -> str:
    """The canonical FLORES-200 code for ``value``.

    Accepts a code (``"spa_Latn"``), an English name (``"Spanish"``), a Spanish name (``"italiano"``, ``"inglés"``;
    text/language_names_es.py), another name (``"vasco"``, ``"Deutsch"``; text/language_aliases.py) or either page's
    label (``"Spanish (spa_Latn)"``, ``"español (spa_Latn)"``, the Spanish ones also without accents), all
    case-insensitively and with surrounding or repeated whitespace ignored. Anything else, including an empty
    string, raises ``UnknownLanguageError`` naming up to five close matches. No partial-name guessing: "Chinese"
    could mean three languages, so it is an error whose suggestions list them.
    """
    # `not value` also catches None, which a cleared gr.Dropdown sends despite the annotation.
    if not value or not isinstance(value, str) or not value.strip():
        raise UnknownLanguageError(value if isinstance(value, str) else "")
    key = " ".join(value.split()).casefold()
    code = _BY_CODE.get(key) or _BY_NAME.get(key) or _BY_LABEL.get(key) or _BY_ALIAS.get(key) \
        or _BY_ALIAS.get(_plain(key))
    if code is None:
        raise UnknownLanguageError(value, _close_matches(key))
    return code


def language_label(code: str, language: str = "en") -> str:
    """The UI's text for a language, ``"spa_Latn"`` -> ``"Spanish (spa_Latn)"`` (``"español (spa_Latn)"`` with
    ``language="es"``): the name people look for, then the code NLLB uses. Anything ``resolve_language`` accepts
    works; an unknown code raises ``UnknownLanguageError``."""
    code = _canonical(code)
    return f"{_NAMES[language][code]} ({code})"


def language_name(code: str, language: str = "en") -> str:
    """The name of a language in English, ``"spa_Latn"`` -> ``"Spanish"``, or in Spanish with ``language="es"``
    (``"español"``). Anything ``resolve_language`` accepts works; an unknown code raises ``UnknownLanguageError``."""
    return _NAMES[language][_canonical(code)]


def language_choices(language: str = "en") -> list[tuple[str, str]]:
    """``(label, code)`` pairs sorted by name, ready for ``gr.Dropdown(choices=...)``: the visitor sees and can type
    "Spanish (spa_Latn)" (with ``language="es"``, "español (spa_Latn)"), the handler receives ``"spa_Latn"`` either
    way. A new list each call, so callers may modify it."""
    return list(_CHOICES[language])


def _canonical(code: str) -> str:
    """``code`` itself when it already is a canonical code (the common, dictionary-lookup path), else whatever
    ``resolve_language`` makes of it."""
    return code if code in LANGUAGES else resolve_language(code)


def _close_matches(key: str) -> tuple[str, ...]:
    """Codes of up to ``_SUGGESTIONS`` languages whose code, name or label resembles ``key`` (casefolded), best first.

    The language an everyday name stands for (``_COMMON_NAMES``) ranks first; then names that contain ``key``
    ("Latvian" in "Standard Latvian"), because that is almost always what the person meant; then mere look-alikes.
    Within each group, difflib's ratio orders.
    """
    scores: dict[str, float] = {}
    matcher = difflib.SequenceMatcher()
    matcher.set_seq2(key)  # difflib caches details about seq2, so the fixed query goes there
    for text, code in _CANDIDATES:
        matcher.set_seq1(text)
        # The cheap upper bounds first, as difflib.get_close_matches does: ratio() is the slow part.
        if matcher.real_quick_ratio() < _CUTOFF or matcher.quick_ratio() < _CUTOFF:
            continue
        ratio = matcher.ratio()
        if ratio >= _CUTOFF and ratio > scores.get(code, 0.0):
            scores[code] = ratio
    if len(key) >= 3:  # shorter substrings ("ar") match too much to help
        for name, code in _BY_NAME.items():
            if key in name:
                matcher.set_seq1(name)
                scores[code] = max(scores.get(code, 0.0), 1.0 + matcher.ratio())
    if key in _COMMON_NAMES:
        scores[_COMMON_NAMES[key]] = 3.0
    ranked = sorted(scores, key=lambda code: (-scores[code], LANGUAGES[code].casefold()))
    return tuple(ranked[:_SUGGESTIONS])
