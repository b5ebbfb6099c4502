"""Where a run's sentence pairs come from: the data flags checked before the base model loads, then read.

:func:`check_sources` turns the data flags into :class:`Sources` in about a second: a local file must exist, and a Hub
dataset must resolve (its name, your access to it, its config and its split) through ``datasets``' own builder
resolution, which reads the dataset card and lists the files but downloads no data. So a typo fails with a message
that says what to fix, not after a 2.5 GB model load. Each source's ``read`` then reads the pairs, still before the
model; ``nllb_space/training/pairs.py`` cleans them once the tokenizer can count their tokens.

A Hub dataset has one of two layouts, told apart by its configs:

- paired: one config holds both languages, as OPUS-style ``translation`` rows or one column per language. Without
  training data the trainer reads ``nllb_space.training.config.DEFAULT_DATASET``, config ``DEFAULT_DATASET_CONFIG``;
- one config per language, named by its FLORES-200 code (or ISO 639 code), rows paired by their :data:`ID_COLUMN`:
  FLORES+ (``openlanguagedata/flores_plus``: configs ``spa_Latn``, ``ita_Latn`` ..., splits ``dev`` and ``devtest``,
  the sentence in ``text``). Ids found in one language's config only raise :class:`DataError`: a pair that is not a
  translation would make every score that follows meaningless.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from ..hub.card import hub_language_code
from .config import DEFAULT_DATASET, DataArguments
from .pairs import DataError, column_names_for, load_table, load_text_pair, pair_dataset, pick_columns, select_pairs

if TYPE_CHECKING:  # pragma: no cover - typing only
    from datasets import Dataset

ID_COLUMN = "id"
"""What pairs the rows of two one-language configs: FLORES+'s sentence id."""
TEXT_COLUMNS = ("text", "sentence")
"""Where a one-language config holds its sentence: ``text`` in FLORES+, ``sentence`` in copies of FLORES-200."""
_SHOWN = 12
"""Configs or ids named in a message before ``...``: FLORES+ has over 200 configs."""


@dataclass(frozen=True)
class TableFile:
    """A ``.tsv``, ``.csv`` or ``.jsonl`` file of pairs (``--train-file``, ``--eval-file``)."""

    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    def read(self, src_lang: str, tgt_lang: str, source_column: str | None = None,
             target_column: str | None = None) -> "Dataset":
        return load_table(self.path, src_lang, tgt_lang, source_column, target_column)


@dataclass(frozen=True)
class TextFiles:
    """Two line-aligned plain-text files (``--source-file``/``--target-file`` or their ``--eval-`` pair)."""

    source: Path
    target: Path

    @property
    def name(self) -> str:
        return f"{self.source.name} / {self.target.name}"

    def read(self, src_lang: str, tgt_lang: str, source_column: str | None = None,
             target_column: str | None = None) -> "Dataset":
        return load_text_pair(self.source, self.target)


@dataclass(frozen=True)
class HubSplit:
    """A split of a Hub dataset (or of a local dataset folder) and the config(s) to read it from."""

    dataset: str
    split: str
    configs: tuple[str | None, ...]
    """``(config,)``: one config holds both languages; ``(source language's, target language's)``: one config per
    language, rows paired by :data:`ID_COLUMN`."""
    flag: str
    """The flag that named the dataset (``--dataset``, ``--eval-dataset``), for messages."""

    @property
    def name(self) -> str:
        return f"{self.dataset} ({self.split})"

    @property
    def hub_id(self) -> str | None:
        """The id a model card can link; ``None`` for a local folder."""
        return None if Path(self.dataset).exists() else self.dataset

    def read(self, src_lang: str, tgt_lang: str, source_column: str | None = None,
             target_column: str | None = None) -> "Dataset":
        """The pairs, downloading them if needed. ``source_column``/``target_column`` name paired data's columns."""
        if len(self.configs) == 2:
            return self._read_per_language()
        data, where = self._load(self.configs[0]), self._where(self.configs[0])
        columns = list(data.column_names)
        sample = data[0] if len(data) else {}
        kind, source_key, target_key = pick_columns(columns, sample.get("translation"), where, src_lang, tgt_lang,
                                                    source_column, target_column)
        needed = ["translation"] if kind == "translation" else list(dict.fromkeys((source_key, target_key)))
        # Two columns as lists is fine at LoRA data sizes (a million pairs is a few hundred MB).
        rows = data.select_columns(needed).to_list()
        return select_pairs(rows, columns, where, src_lang, tgt_lang, source_column, target_column)

    def _read_per_language(self) -> "Dataset":
        (first, sources), (second, targets) = ((config, self._sentences(config)) for config in self.configs)
        unpaired = [f"{len(ids)} only in {config} ({_listing(ids)})"
                    for config, ids in ((first, [i for i in sources if i not in targets]),
                                        (second, [i for i in targets if i not in sources])) if ids]
        if unpaired:
            raise DataError(f"{self.dataset}, split '{self.split}': configs {first} and {second} are not aligned. "
                            f"Their rows are paired by '{ID_COLUMN}', but some ids are in one of them only: "
                            f"{', '.join(unpaired)}.")
        return pair_dataset(list(sources.values()), [targets[key] for key in sources])

    def _sentences(self, config: str) -> dict[Any, str]:
        data, where = self._load(config), self._where(config)
        text = next((column for column in TEXT_COLUMNS if column in data.column_names), None)
        if ID_COLUMN not in data.column_names or text is None:
            raise DataError(f"{where} has no '{ID_COLUMN}' and sentence column ({' or '.join(TEXT_COLUMNS)}) to pair "
                            f"its rows with the other language's; columns found: {', '.join(data.column_names)}.")
        sentences: dict[Any, str] = {}
        for key, sentence in zip(data[ID_COLUMN], data[text]):
            if key in sentences:
                raise DataError(f"{where}: id {key} appears twice, so its rows cannot be paired by id.")
            sentences[key] = "" if sentence is None else str(sentence)
        return sentences

    def _load(self, config: str | None) -> "Dataset":
        import datasets

        try:
            return datasets.load_dataset(self.dataset, config, split=self.split)
        except Exception as error:  # noqa: BLE001 - datasets raises many types; hub_error tells them apart
            raise hub_error(self.flag, self.dataset, error) from None

    def _where(self, config: str | None) -> str:
        return f"dataset '{self.dataset}'" + (f" (config '{config}')" if config else "") + f", split '{self.split}'"


Source = Union[TableFile, TextFiles, HubSplit]


@dataclass(frozen=True)
class Sources:
    """A run's data, checked: where its training pairs and its evaluation pairs come from."""

    train: Source | None
    """``None`` with ``--eval-only``."""
    evaluation: Source | None
    """``None``: ``--eval-share`` of the training pairs are held out and scored."""

    @property
    def eval_name(self) -> str:
        """What the card and metrics.json call the evaluation data."""
        return self.evaluation.name if self.evaluation else "pairs held out of the training data"

    @property
    def train_dataset(self) -> str | None:
        """The Hub id of the training data, if it came from the Hub."""
        return self.train.hub_id if isinstance(self.train, HubSplit) else None

    @property
    def eval_dataset(self) -> str | None:
        """The Hub id of the evaluation data, if it came from the Hub."""
        return self.evaluation.hub_id if isinstance(self.evaluation, HubSplit) else None


def check_sources(data: "DataArguments", src_lang: str, tgt_lang: str, eval_only: bool) -> Sources:
    """The data flags as :class:`Sources`, or :class:`DataError` saying what to fix: files must exist, Hub datasets
    must resolve to a config and split this account can read. Downloads no data."""
    languages = (src_lang, tgt_lang)
    train: Source | None = None
    if eval_only:
        pass
    elif data.train_file:
        train = TableFile(_existing(data.train_file, "--train-file"))
    elif data.source_file:
        train = TextFiles(_existing(data.source_file, "--source-file"), _existing(data.target_file, "--target-file"))
    else:
        train = check_hub(data.dataset, data.dataset_config, data.split, languages, "--dataset", "--split")
    evaluation: Source | None = None
    if data.eval_file:
        evaluation = TableFile(_existing(data.eval_file, "--eval-file"))
    elif data.eval_source_file:
        evaluation = TextFiles(_existing(data.eval_source_file, "--eval-source-file"),
                               _existing(data.eval_target_file, "--eval-target-file"))
    elif data.eval_dataset:
        evaluation = check_hub(data.eval_dataset, data.eval_dataset_config, data.eval_split, languages,
                               "--eval-dataset", "--eval-split")
    elif data.eval_split:
        evaluation = check_hub(data.dataset, data.dataset_config, data.eval_split, languages, "--dataset",
                               "--eval-split")
    return Sources(train, evaluation)


def check_hub(dataset: str, config: str | None, split: str, languages: tuple[str, str], flag: str,
              split_flag: str) -> HubSplit:
    """``split`` of ``dataset`` resolved to the config(s) to read, or :class:`DataError` saying what to fix.

    Without ``config``, a dataset with a config for each of ``languages`` (FLORES+) is read one config per language;
    one with a single config reads that; one with several must be told which (a config holding both languages is
    suggested)."""
    import datasets
    from datasets.load import dataset_module_factory

    config_flag = f"{flag}-config"
    try:
        cached = dataset_module_factory(dataset).module_path.endswith(".cache")
        names = datasets.get_dataset_config_names(dataset)
    except Exception as error:  # noqa: BLE001 - datasets raises many types; hub_error tells them apart
        raise hub_error(flag, dataset, error) from None
    if cached:  # offline, datasets reads what it cached before and lists one "default": ask it about those needed
        wanted = [config] if config else [column_names_for(lang)[0] for lang in languages]
        names = [name for name in wanted if _in_cache(dataset, name)]
    if config is not None:
        if cached and config not in names:
            raise DataError(f"{config_flag} {config}: the Hub is out of reach, and datasets' cache holds no such "
                            f"config of {dataset}. Run once with a network, or train on local files (--train-file).")
        if config not in names:
            raise DataError(f"{config_flag} {config}: {dataset} has no such config; it has {_listing(names)}.")
        configs: tuple[str | None, ...] = (config,)
    elif all(per_language := [next((n for n in column_names_for(lang) if n in names), None) for lang in languages]):
        configs = tuple(per_language)
    elif cached:
        configs = (None,)  # datasets reads the config it cached last
    elif len(names) <= 1:
        configs = (names[0] if names else None,)
    else:
        codes = {hub_language_code(lang) for lang in languages}
        pair = next((n for n in names if set(n.replace("_", "-").split("-")) == codes), None)
        hint = f" ({pair} holds {' and '.join(languages)})" if pair else ""
        raise DataError(f"{flag} {dataset} has {len(names)} configs: pick one with {config_flag}{hint}; it has "
                        f"{_listing(names)}.")
    for name in configs:
        try:
            builder = datasets.load_dataset_builder(dataset, name)
        except Exception as error:  # noqa: BLE001
            raise hub_error(flag, dataset, error) from None
        splits = list(builder.config.data_files or builder.info.splits or {})
        if splits and split not in splits:
            where = dataset + (f" (config {name})" if name else "")
            raise DataError(f"{split_flag} {split}: {where} has no such split; it has {', '.join(splits)}.")
    return HubSplit(dataset, split, configs, flag)


def hub_error(flag: str, dataset: str, error: BaseException) -> DataError:
    """What a failed ``datasets`` call means for the user, and what to do about it."""
    from huggingface_hub import constants
    from huggingface_hub.errors import GatedRepoError

    text = " ".join(str(error).split()) or type(error).__name__
    causes = [error]
    while (cause := causes[-1].__cause__ or causes[-1].__context__) is not None and cause not in causes:
        causes.append(cause)
    gated = next((cause for cause in causes if isinstance(cause, GatedRepoError)), None)
    # datasets 5 drops the GatedRepoError and says "is a gated dataset" instead.
    if gated is not None or "is a gated dataset" in text or "Cannot access gated repo" in text:
        page = f"{constants.ENDPOINT}/datasets/{dataset}"
        if "ask for access" in text or getattr(getattr(gated, "response", None), "status_code", None) == 403:
            return DataError(f"{flag} {dataset} is gated, and the account of your token has no access yet: open "
                             f"{page}, accept its conditions as that account (and wait for approval if asked), then "
                             "run again.")
        return DataError(f"{flag} {dataset} is gated: open {page}, log in and accept its conditions, then give this "
                         "machine a token of that account (`hf auth login`, or set HF_TOKEN) and run again.")
    if isinstance(error, ConnectionError) or "Couldn't reach" in text:
        return DataError(f"{flag} {dataset}: the Hub cannot be reached ({text}). Without a network, train on local "
                         "files: --train-file and --base-model FOLDER (the README's offline walk-through).")
    if isinstance(error, FileNotFoundError):
        return DataError(f"{flag} {dataset}: no such dataset on the Hub (or it is private, or a local folder that "
                         f"does not exist). Check the name, e.g. {DEFAULT_DATASET}.")
    return DataError(f"{flag} {dataset}: {text}")


def _in_cache(dataset: str, config: str) -> bool:
    import datasets

    try:
        datasets.load_dataset_builder(dataset, config)
    except ValueError:  # "Couldn't find cache for <dataset> for config <config>"
        return False
    return True


def _existing(path: str, flag: str) -> Path:
    found = Path(path)
    if not found.is_file():
        what = "a folder, not a file" if found.is_dir() else "no such file"
        raise DataError(f"{flag} {path}: {what} (a relative path starts from {Path.cwd()}).")
    return found


def _listing(items) -> str:
    items = [str(item) for item in items]
    return ", ".join(items[:_SHOWN]) + (f" ... ({len(items)} in all)" if len(items) > _SHOWN else "")
