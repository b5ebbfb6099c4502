"""The model card (``README.md`` with Hub YAML metadata) of a LoRA adapter, and the run report it is made from.

A training run measures the base model and the adapter on one evaluation set with the same decoding and keeps the
result as a :class:`RunReport` (written as ``metrics.json`` next to the adapter). The card is rendered from that
report alone, so ``--push-only`` can re-render it for the repo and revision it is pushed to without re-training.

The metadata follows the Hub's model-card spec: ``base_model``, ``library_name: peft``, ``pipeline_tag:
translation``, ``language`` (ISO 639-1 where one exists, as the Hub's language filter expects, else the ISO 639-3
code), ``license``, ``tags`` and a ``model-index`` holding the measured BLEU and chrF++, built with
huggingface_hub's ``ModelCardData`` so the Hub parses it into evaluation results. :func:`validate_card` parses the
text back the way the Hub does.

Example::

    report = RunReport.from_json(Path("runs/x/metrics.json").read_text())
    text = render_card(report, repo_id="me/nllb-spa-ita-lora", revision="v1")
    validate_card(text)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from ..lora_config import LoraSettings
from ..text.languages import language_name
from ..text.scoring import Scores
from .ids import names_hub_repo

DEFAULT_LICENSE = "cc-by-nc-4.0"
"""NLLB-200's weights are CC-BY-NC 4.0, and an adapter is used together with them."""
CARD_TAGS: tuple[str, ...] = ("lora", "peft", "nllb", "translation", "nllb-space")
"""Tags every adapter card carries (``nllb-space`` finds the adapters made with this project)."""

# ISO 639-3 -> ISO 639-1 for the NLLB-200 languages that have a two-letter code. A macrolanguage's code is used for
# the member NLLB treats as the language itself (arb -> ar, zsm -> ms, pes -> fa, npi -> ne); dialects and sister
# languages (acm, ary, prs, azb, ckb, yue ...) keep their three letters, which the Hub accepts too.
_ISO_639_1: dict[str, str] = {
    "afr": "af", "aka": "ak", "als": "sq", "amh": "am", "arb": "ar", "asm": "as", "ayr": "ay", "azj": "az",
    "bak": "ba", "bam": "bm", "bel": "be", "ben": "bn", "bod": "bo", "bos": "bs", "bul": "bg", "cat": "ca",
    "ces": "cs", "cym": "cy", "dan": "da", "deu": "de", "dzo": "dz", "ell": "el", "eng": "en", "epo": "eo",
    "est": "et", "eus": "eu", "ewe": "ee", "fao": "fo", "fij": "fj", "fin": "fi", "fra": "fr", "gaz": "om",
    "gla": "gd", "gle": "ga", "glg": "gl", "grn": "gn", "guj": "gu", "hat": "ht", "hau": "ha", "heb": "he",
    "hin": "hi", "hrv": "hr", "hun": "hu", "hye": "hy", "ibo": "ig", "ind": "id", "isl": "is", "ita": "it",
    "jav": "jv", "jpn": "ja", "kan": "kn", "kas": "ks", "kat": "ka", "kaz": "kk", "khk": "mn", "khm": "km",
    "kik": "ki", "kin": "rw", "kir": "ky", "kmr": "ku", "kon": "kg", "kor": "ko", "lao": "lo", "lim": "li",
    "lin": "ln", "lit": "lt", "ltz": "lb", "lug": "lg", "lvs": "lv", "mal": "ml", "mar": "mr", "mkd": "mk",
    "mlt": "mt", "mri": "mi", "mya": "my", "nld": "nl", "nno": "nn", "nob": "nb", "npi": "ne", "nya": "ny",
    "oci": "oc", "ory": "or", "pan": "pa", "pbt": "ps", "pes": "fa", "plt": "mg", "pol": "pl", "por": "pt",
    "quy": "qu", "ron": "ro", "run": "rn", "rus": "ru", "sag": "sg", "san": "sa", "sin": "si", "slk": "sk",
    "slv": "sl", "smo": "sm", "sna": "sn", "snd": "sd", "som": "so", "sot": "st", "spa": "es", "srd": "sc",
    "srp": "sr", "ssw": "ss", "sun": "su", "swe": "sv", "swh": "sw", "tam": "ta", "tat": "tt", "tel": "te",
    "tgk": "tg", "tgl": "tl", "tha": "th", "tir": "ti", "tsn": "tn", "tso": "ts", "tuk": "tk", "tur": "tr",
    "twi": "tw", "uig": "ug", "ukr": "uk", "urd": "ur", "uzn": "uz", "vie": "vi", "wol": "wo", "xho": "xh",
    "ydd": "yi", "yor": "yo", "zho": "zh", "zsm": "ms", "zul": "zu",
}

def hub_language_code(flores_code: str) -> str:
    """The code the Hub's ``language`` metadata wants for a FLORES-200 code: ``spa_Latn`` -> ``es``, ``ary_Arab`` ->
    ``ary`` (no two-letter code exists)."""
    iso3 = flores_code.split("_", 1)[0]
    return _ISO_639_1.get(iso3, iso3)


@dataclass(frozen=True)
class RunReport:
    """What one run measured and how it was made; ``metrics.json`` is this object as JSON (see :meth:`to_json`)."""

    base_model: str
    """Hub id or local path of the base model the adapter belongs to."""
    src_lang: str
    """FLORES-200 code of the source language (``spa_Latn``)."""
    tgt_lang: str
    """FLORES-200 code of the target language (``ita_Latn``)."""
    eval_set: str
    """Human-readable name of the evaluation data (a dataset id and split, or file names)."""
    num_beams: int
    """Beam size used for both models' translations (1 = greedy)."""
    max_new_tokens: int
    """Generation length limit used for both models."""
    base: Scores
    """Scores of the base model without any adapter."""
    lora: Scores | None = None
    """Scores of the base model with the adapter; ``None`` when only the base model was scored."""
    lora_settings: LoraSettings | None = None
    """The adapter's LoRA hyper-parameters."""
    training: Mapping[str, Any] = field(default_factory=dict)
    """How the adapter was trained (steps, learning rate, data counts ...); empty for an eval-only run."""
    loss_history: tuple[tuple[int, float], ...] = ()
    """The logged training loss as (step, loss) pairs (kept in metrics.json; the card does not show it)."""
    datasets: tuple[str, ...] = ()
    """Hub dataset ids the adapter was trained on (local files are not listed: the Hub cannot link them)."""
    eval_dataset: str | None = None
    """Hub dataset id of the evaluation data, when it came from the Hub."""
    license: str = DEFAULT_LICENSE
    """SPDX-style license id for the card."""

    def to_json(self) -> str:
        data = asdict(self)
        data["training"] = dict(self.training)
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "RunReport":
        """Read :meth:`to_json`'s output back (``ValueError`` naming the problem if it is not a run report)."""
        try:
            data = json.loads(text)
            data["base"] = Scores(**data["base"])
            if data.get("lora") is not None:
                data["lora"] = Scores(**data["lora"])
            if data.get("lora_settings") is not None:
                settings = data["lora_settings"]
                data["lora_settings"] = LoraSettings(**{**settings, "targets": tuple(settings["targets"])})
            data["datasets"] = tuple(data.get("datasets") or ())
            data["loss_history"] = tuple((int(step), float(loss)) for step, loss in data.get("loss_history") or ())
            return cls(**data)
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"not a run report written by train/run.py ({type(error).__name__}: {error})") from None


def commit_summary(report: RunReport) -> str:
    """One line for a commit message: the adapter's scores next to the base model's."""
    pair = f"{report.src_lang}->{report.tgt_lang}"
    if report.lora is None:
        return f"Base model {pair}: BLEU {report.base.bleu:.1f}, chrF++ {report.base.chrf:.1f}"
    lora = report.lora_settings
    rank = f" r={lora.r}" if lora else ""
    return (
        f"LoRA{rank} {pair}: BLEU {report.lora.bleu:.1f} (base {report.base.bleu:.1f}), "
        f"chrF++ {report.lora.chrf:.1f} (base {report.base.chrf:.1f}) on {report.eval_set}"
    )


def scores_markdown(report: RunReport) -> str:
    """A Markdown table of BLEU and chrF++ for the base model and the adapter (and the difference)."""
    rows = [("base model", report.base.bleu, report.base.chrf)]
    if report.lora is not None:
        rows.append(("with LoRA", report.lora.bleu, report.lora.chrf))
    lines = ["| model | BLEU | chrF++ |", "|---|---:|---:|"]
    lines += [f"| {name} | {bleu:.2f} | {chrf:.2f} |" for name, bleu, chrf in rows]
    if report.lora is not None:
        lines.append(f"| difference | {report.lora.bleu - report.base.bleu:+.2f} | "
                     f"{report.lora.chrf - report.base.chrf:+.2f} |")
    return "\n".join(lines)


def render_card(report: RunReport, repo_id: str | None = None, revision: str | None = None) -> str:
    """The adapter's ``README.md``: YAML metadata, how it was trained, the scores, and how to load it.

    ``repo_id``/``revision`` fill the loading snippets; without them (not pushed yet) placeholders are shown.
    """
    from huggingface_hub import EvalResult, ModelCardData

    scores = report.lora or report.base
    model_name = (repo_id or "nllb-lora-adapter").split("/")[-1]
    task = f"Translation {language_name(report.src_lang)} to {language_name(report.tgt_lang)}"
    results = [
        EvalResult(
            task_type="translation",
            task_name=task,
            dataset_type=report.eval_dataset or "custom",
            dataset_name=report.eval_set,
            metric_type=metric,
            metric_name=name,
            metric_value=round(value, 2),
            metric_config=signature,
        )
        for metric, name, value, signature in (
            ("bleu", "BLEU", scores.bleu, scores.bleu_signature),
            ("chrf", "chrF++", scores.chrf, scores.chrf_signature),
        )
    ]
    # base_model must be a Hub id for the Hub to link the adapter to its model; a local path would be refused.
    base_id = report.base_model if names_hub_repo(report.base_model) else None
    data = ModelCardData(
        base_model=base_id,
        library_name="peft",
        pipeline_tag="translation",
        language=list(dict.fromkeys(hub_language_code(c) for c in (report.src_lang, report.tgt_lang))),
        license=report.license,
        datasets=list(report.datasets) or None,
        tags=list(CARD_TAGS),
        model_name=model_name,
        eval_results=results,
    )
    return f"---\n{data.to_yaml()}\n---\n\n{_body(report, repo_id, revision, model_name)}"


def validate_card(text: str) -> dict[str, Any]:
    """Parse the card as the Hub does and return its metadata; ``ValueError`` if the YAML or model-index is invalid."""
    import yaml
    from huggingface_hub import ModelCard

    if not text.startswith("---\n"):
        raise ValueError("the model card has no YAML metadata block at its top")
    try:
        card = ModelCard(text, ignore_metadata_errors=False)
    except (ValueError, yaml.YAMLError) as error:
        raise ValueError(f"the model card's metadata does not parse: {error}") from None
    metadata = card.data.to_dict()
    for key in ("library_name", "pipeline_tag", "language", "license", "tags", "model-index"):
        if key not in metadata:
            raise ValueError(f"the model card's metadata lacks '{key}'")
    return metadata


def _body(report: RunReport, repo_id: str | None, revision: str | None, model_name: str) -> str:
    src, tgt = language_name(report.src_lang), language_name(report.tgt_lang)
    repo = repo_id or "OWNER/NAME"
    rev = revision or "main"
    base = report.base_model
    decoding = "greedy decoding" if report.num_beams == 1 else f"beam search ({report.num_beams} beams)"
    lines = [
        f"# {model_name}",
        "",
        f"A LoRA adapter for {_link(base)} that translates {src} (`{report.src_lang}`) into {tgt} "
        f"(`{report.tgt_lang}`), made with `python train/run.py` of nllb-space.",
        "",
        "## Scores",
        "",
        f"Measured on **{report.eval_set}** ({report.base.sentences} sentences) with {decoding}, at most "
        f"{report.max_new_tokens} new tokens, the same for both models:",
        "",
        scores_markdown(report),
        "",
        f"sacreBLEU signatures: BLEU `{report.base.bleu_signature}`, chrF++ `{report.base.chrf_signature}`.",
        "",
    ]
    if report.lora is not None and report.lora.chrf < report.base.chrf:
        lines += [f"> **This adapter scores below the base model** (chrF++ {report.lora.chrf - report.base.chrf:+.2f}): "
                  "on this evaluation set it makes the translations worse.", ""]
    if report.training or report.lora_settings:
        lines += ["## Training", ""]
        if report.lora_settings is not None:
            lora = report.lora_settings
            lines.append(
                f"- LoRA: r={lora.r}, alpha={lora.alpha}, dropout={lora.dropout}, target modules "
                f"{', '.join(f'`{t}`' for t in lora.targets)} (encoder self-, decoder self- and cross-attention)"
            )
        lines += [f"- {key.replace('_', ' ')}: {_format(value)}" for key, value in report.training.items()]
        if report.datasets:
            lines.append(f"- datasets: {', '.join(report.datasets)}")
        lines.append("")
    lines += [
        "## How to use",
        "",
        "With PEFT:",
        "",
        "```python",
        "from peft import PeftModel",
        "from transformers import AutoModelForSeq2SeqLM, AutoTokenizer",
        "",
        f'tokenizer = AutoTokenizer.from_pretrained("{base}")',
        f'base = AutoModelForSeq2SeqLM.from_pretrained("{base}")',
        f'model = PeftModel.from_pretrained(base, "{repo}", revision="{rev}")',
        f'tokenizer.src_lang = "{report.src_lang}"',
        'inputs = tokenizer("...", return_tensors="pt")',
        "output = model.generate(",
        f'    **inputs, forced_bos_token_id=tokenizer.convert_tokens_to_ids("{report.tgt_lang}"),',
        f"    num_beams={report.num_beams}, max_new_tokens={report.max_new_tokens},",
        ")",
        "print(tokenizer.batch_decode(output, skip_special_tokens=True)[0])",
        "```",
        "",
        "In the nllb-space app (locally or as a Space's variables):",
        "",
        "```bash",
        f"NLLB_ADAPTER_REPO={repo} NLLB_ADAPTER_REVISION={rev} python app.py",
        "```",
        "",
        f"License: {report.license}, as the NLLB-200 weights the adapter is applied to.",
        "",
    ]
    return "\n".join(lines)


def _link(base_model: str) -> str:
    """A Markdown link to a Hub model; a local path as code (a link to it would be dead on the Hub)."""
    return f"[{base_model}](https://huggingface.co/{base_model})" if names_hub_repo(base_model) else f"`{base_model}`"


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)
