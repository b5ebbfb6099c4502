"""Settings come from the environment; bad values fail at start-up naming the variable."""

import pytest

from nllb_space.settings import ENV_NAMES, Settings, SettingsError


def test_defaults_match_the_documented_product():
    settings = Settings.from_env({})
    assert settings.base_model == "facebook/nllb-200-distilled-600M"
    assert settings.adapter_repo is None and settings.adapter_revision == "main"
    assert (settings.src_lang, settings.tgt_lang) == ("spa_Latn", "ita_Latn")


def test_every_field_has_an_environment_variable():
    from dataclasses import fields

    assert {f.name for f in fields(Settings)} == set(ENV_NAMES)


def test_values_are_read_and_converted():
    settings = Settings.from_env({
        "NLLB_BASE_MODEL": "/models/nllb", "NLLB_ADAPTER_REPO": "me/lora", "NLLB_ADAPTER_REVISION": "v2",
        "NLLB_SRC_LANG": "French", "NLLB_TGT_LANG": "deu_latn", "NLLB_NUM_BEAMS": "2", "NLLB_REVISION_TTL": "0.5",
        "NLLB_ALLOW_CUSTOM_REPOS": "false", "NLLB_DEVICE": "cuda:1", "HF_TOKEN": "hf_secret",
    })
    assert settings.adapter_repo == "me/lora" and settings.adapter_revision == "v2"
    assert (settings.src_lang, settings.tgt_lang) == ("fra_Latn", "deu_Latn")
    assert settings.num_beams == 2 and settings.revision_ttl_s == 0.5
    assert settings.allow_custom_repos is False and settings.device == "cuda:1"
    assert "hf_secret" not in repr(settings)


@pytest.mark.parametrize("variable, value, message", [
    ("NLLB_NUM_BEAMS", "four", "NLLB_NUM_BEAMS"),
    ("NLLB_NUM_BEAMS", "0", "NLLB_NUM_BEAMS"),
    ("NLLB_NUM_BEAMS", "12", "NLLB_MAX_BEAMS"),
    ("NLLB_MAX_CHARS", "-5", "NLLB_MAX_CHARS"),
    ("NLLB_SRC_LANG", "spanish_Latn", "NLLB_SRC_LANG"),
    ("NLLB_TGT_LANG", "klingon", "NLLB_TGT_LANG"),
    ("NLLB_DEVICE", "tpu", "NLLB_DEVICE"),
    ("NLLB_DEVICE", "cuda:x", "NLLB_DEVICE"),
    ("NLLB_DTYPE", "float8", "NLLB_DTYPE"),
    ("NLLB_ALLOW_CUSTOM_REPOS", "maybe", "NLLB_ALLOW_CUSTOM_REPOS"),
    ("NLLB_REVISION_TTL", "-1", "NLLB_REVISION_TTL"),
])
def test_bad_values_name_the_variable(variable, value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({variable: value})
