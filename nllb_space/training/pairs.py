"""Parallel data for training and evaluation: reading local files, finding the two languages in rows, and the
clean-up before training.

Every loader returns a ``datasets.Dataset`` with two string columns, :data:`SOURCE` and :data:`TARGET`, whatever the
input looked like (Hub datasets are read by ``nllb_space/training/sources.py``, through :func:`select_pairs`):

- rows with OPUS-style pairs, ``{"translation": {"es": ..., "it": ...}}``, or one column per language, or columns
  named by ``--source-column``/``--target-column``;
- a local table: ``.tsv`` (a header row, or no header and exactly two columns: source, target), ``.csv`` (a header
  row), ``.jsonl`` (one object per line, flat or OPUS-style);
- two aligned plain-text files, one sentence per line.

A language column or ``translation`` key may be named by the FLORES-200 code (``spa_Latn``), the ISO 639-1 code
(``es``) or the ISO 639-3 code (``spa``). Misaligned files and missing columns raise :class:`DataError` saying which
file and what was found, because a silent mis-pairing trains a model on noise.

:func:`clean_pairs` drops empty pairs, exact duplicates, over-long pairs and pairs whose two sides differ absurdly in
length (usually misalignments), and counts each in a :class:`CleanupReport`, which also counts the pairs
:func:`hold_out` sets aside, so the numbers add up from the pairs loaded to the pairs trained on.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..hub.card import hub_language_code

if TYPE_CHECKING:  # pragma: no cover - typing only; datasets is imported when data is loaded
    from datasets import Dataset

logger = logging.getLogger(__name__)

SOURCE = "source"
"""Column of the source sentences in every dataset this module returns."""
TARGET = "target"
"""Column of the reference translations."""
TABLE_SUFFIXES = (".tsv", ".csv", ".jsonl")
"""Local table formats ``--train-file`` / ``--eval-file`` accept."""

Lengths = Callable[[list[str]], list[int]]
"""Lengths of a batch of sentences (the trainer counts tokens of the model's tokenizer)."""


class DataError(ValueError):
    """The data cannot be used as given; the message names the file or dataset and what was found in it."""


@dataclass(frozen=True)
class CleanupReport:
    """How many pairs one clean-up pass received, dropped for each reason, kept, and held out of training."""

    name: str
    """Which data this is (``train`` or ``eval``)."""
    loaded: int
    """Pairs before clean-up."""
    empty: int = 0
    """Pairs with an empty (or whitespace-only) side."""
    duplicates: int | None = 0
    """Exact repeats of an earlier (source, target) pair, after trimming spaces; ``None``: not looked for."""
    too_long: int = 0
    """Pairs with a side longer than the length limit."""
    bad_ratio: int = 0
    """Pairs whose longer side is more than the ratio limit times the shorter one."""
    max_length: int | None = None
    """The length limit applied (``None``: none)."""
    max_ratio: float | None = None
    """The ratio limit applied (``None``: none)."""
    held_out: int = 0
    """Kept pairs then set aside as the evaluation data (none was given): scored, never trained on."""
    origin: str = "loaded"
    """Where the pairs came from, as the summary says it: ``loaded``, or ``held out of the training pairs``."""

    @property
    def kept(self) -> int:
        """Pairs left after clean-up (held-out pairs included)."""
        return self.loaded - self.empty - (self.duplicates or 0) - self.too_long - self.bad_ratio

    @property
    def trained(self) -> int:
        """Pairs left to train on: the kept ones less the held-out ones."""
        return self.kept - self.held_out

    def counts(self) -> str:
        """``120 pairs loaded; dropped 2 empty, 3 duplicate, ... -> 113 kept[; 6 held out ... -> 107 to train on]``."""
        dropped = [f"{self.empty} empty"] + ([] if self.duplicates is None else [f"{self.duplicates} duplicate"])
        if self.max_length is not None:
            dropped.append(f"{self.too_long} over {self.max_length} tokens")
        if self.max_ratio is not None:
            dropped.append(f"{self.bad_ratio} with length ratio over {self.max_ratio:g}")
        line = f"{self.loaded} pairs {self.origin}; dropped {', '.join(dropped)} -> {self.kept} kept"
        return line + (f"; {self.held_out} held out for evaluation -> {self.trained} to train on"
                       if self.held_out else "")

    def summary(self) -> str:
        """One line: ``train: 120 pairs loaded; dropped 2 empty, 3 duplicate, ... -> 113 kept``."""
        return f"{self.name}: {self.counts()}"


def column_names_for(lang: str) -> tuple[str, ...]:
    """Names a column or ``translation`` key for ``lang`` may have: ``spa_Latn`` -> ``spa_Latn, es, spa``."""
    return tuple(dict.fromkeys((lang, hub_language_code(lang), lang.split("_", 1)[0])))


# -- loaders ----------------------------------------------------------------------------------------------------------


def load_text_pair(source_file: str | Path, target_file: str | Path) -> "Dataset":
    """Two aligned plain-text files, line *i* of one translating line *i* of the other."""
    sources, targets = _read_lines(Path(source_file)), _read_lines(Path(target_file))
    if len(sources) != len(targets):
        raise DataError(
            f"The files are not aligned: {source_file} has {len(sources)} lines but {target_file} has "
            f"{len(targets)}. Line i of one must translate line i of the other."
        )
    return pair_dataset(sources, targets)


def load_table(
    path: str | Path, src_lang: str, tgt_lang: str, source_column: str | None = None, target_column: str | None = None
) -> "Dataset":
    """A ``.tsv``, ``.csv`` or ``.jsonl`` file of sentence pairs (see the module docstring for the columns)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(f"{path} is not a {', '.join(TABLE_SUFFIXES)} file; use --source-file/--target-file for "
                        "plain-text files with one sentence per line.")
    text = _read_text(path)
    if suffix == ".jsonl":
        rows = _jsonl_rows(path, text)
    else:
        rows = _delimited_rows(path, text, "\t" if suffix == ".tsv" else ",", src_lang, tgt_lang,
                               source_column, target_column)
    columns = list(dict.fromkeys(key for row in rows[:1] for key in row))
    return select_pairs(rows, columns, str(path), src_lang, tgt_lang, source_column, target_column)


# -- clean-up and splits --------------------------------------------------------------------------------------------


def clean_pairs(data: "Dataset", name: str, lengths: Lengths | None = None, max_length: int | None = None,
                max_ratio: float | None = None, dedupe: bool = True) -> tuple["Dataset", CleanupReport]:
    """Trim spaces, then drop empty pairs, duplicates (``dedupe``), pairs with a side over ``max_length`` and pairs
    whose ``(longer + 1) / (shorter + 1)`` exceeds ``max_ratio`` (the +1 keeps one-word lines from being judged on a
    single token). Lengths come from ``lengths`` (required with either limit). Each pair counts once, for the first
    reason that applies, in that order.
    """
    if (max_length is not None or max_ratio is not None) and lengths is None:
        raise ValueError("clean_pairs needs a lengths function to apply max_length or max_ratio")
    empty = duplicates = 0
    seen: set[tuple[str, str]] = set()
    pairs: list[tuple[str, str]] = []
    for source, target in zip(data[SOURCE], data[TARGET]):
        source, target = (source or "").strip(), (target or "").strip()
        if not source or not target:
            empty += 1
        elif dedupe and (source, target) in seen:
            duplicates += 1
        else:
            seen.add((source, target))
            pairs.append((source, target))
    too_long = bad_ratio = 0
    if pairs and lengths is not None and (max_length is not None or max_ratio is not None):
        source_lengths = lengths([s for s, _ in pairs])
        target_lengths = lengths([t for _, t in pairs])
        kept = []
        for pair, a, b in zip(pairs, source_lengths, target_lengths):
            longer, shorter = max(a, b), min(a, b)
            if max_length is not None and longer > max_length:
                too_long += 1
            elif max_ratio is not None and (longer + 1) / (shorter + 1) > max_ratio:
                bad_ratio += 1
            else:
                kept.append(pair)
        pairs = kept
    report = CleanupReport(name, len(data), empty, duplicates if dedupe else None, too_long, bad_ratio, max_length,
                           max_ratio)
    return pair_dataset([s for s, _ in pairs], [t for _, t in pairs]), report


def hold_out(data: "Dataset", share: float, max_pairs: int, seed: int) -> tuple["Dataset", "Dataset"]:
    """Split off ``share`` of ``data`` (at most ``max_pairs``, at least one pair) as evaluation data, at random."""
    n_eval = min(max_pairs, max(1, round(len(data) * share)))
    if len(data) - n_eval < 1:
        raise DataError(
            f"Only {len(data)} pair(s) are left after clean-up: too few to hold some out for evaluation. "
            "Give evaluation data with --eval-file or --eval-source-file/--eval-target-file."
        )
    split = data.train_test_split(test_size=n_eval, seed=seed, shuffle=True)
    return split["train"], split["test"]


def overlap(train: "Dataset", evaluation: "Dataset") -> int:
    """How many evaluation sources also occur in the training data (scores on those are not a fair test)."""
    seen = set(train[SOURCE])
    return sum(source in seen for source in evaluation[SOURCE])


# -- internals --------------------------------------------------------------------------------------------------------


def pair_dataset(sources: Sequence[str], targets: Sequence[str]) -> "Dataset":
    """The pairs as every loader returns them: string columns :data:`SOURCE` and :data:`TARGET`."""
    from datasets import Dataset, Features, Value

    features = Features({SOURCE: Value("string"), TARGET: Value("string")})
    return Dataset.from_dict({SOURCE: list(sources), TARGET: list(targets)}, features=features)


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise DataError(f"{path} does not exist (or is not a file).")
    try:
        # utf-8-sig: a byte-order mark from a Windows editor must not end up glued to the first sentence.
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text (byte {error.start}: {error.reason}).") from None


def _read_lines(path: Path) -> list[str]:
    # Split on "\n" only: str.splitlines() also splits on U+2028, U+0085 ..., which occur inside sentences of web
    # text and would silently shift every later line against the other file.
    lines = _read_text(path).split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start an empty one
    return [line.rstrip("\r") for line in lines]


def _jsonl_rows(path: Path, text: str) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}, line {number}, is not valid JSON ({error.msg}).") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}, line {number}, is not a JSON object but {type(row).__name__}.")
        rows.append(row)
    return rows


def _delimited_rows(path: Path, text: str, delimiter: str, src_lang: str, tgt_lang: str, source_column: str | None,
                    target_column: str | None) -> list[dict[str, str]]:
    from ..text.tables import table_records  # the app's reader: one rule for quotes in TSV and CSV

    try:
        records = table_records(text, delimiter)
    except csv.Error as error:
        raise DataError(f"{path} is not a valid {'TSV' if delimiter == chr(9) else 'CSV'} file ({error}).") from None
    if not records:
        return []
    header = [cell.strip() for cell in records[0]]
    body, first_row = records[1:], 2
    try:
        pick_columns(header, None, str(path), src_lang, tgt_lang, source_column, target_column)
    except DataError:
        # No recognisable header: a two-column TSV is source<TAB>target, the common OPUS/Moses layout.
        if delimiter != "\t" or source_column or target_column or len(header) != 2:
            raise
        logger.info("%s has no header row naming the languages: reading it as source<TAB>target", path)
        header, body, first_row = [SOURCE, TARGET], records, 1
    rows = []
    for number, record in enumerate(body, start=first_row):
        if not record:  # a blank line: an empty pair, which the clean-up counts
            record = [""] * len(header)
        if len(record) != len(header):
            raise DataError(f"{path}, row {number}, has {len(record)} fields; the header has {len(header)} "
                            f"({', '.join(header)}).")
        rows.append(dict(zip(header, record)))
    return rows


def select_pairs(
    rows: list[dict[str, Any]], columns: list[str], where: str, src_lang: str, tgt_lang: str,
    source_column: str | None, target_column: str | None,
) -> "Dataset":
    """The source and target strings of ``rows``, wherever they are (see :func:`pick_columns`)."""
    if not rows:
        return pair_dataset([], [])
    translation = next((r.get("translation") for r in rows if r.get("translation") is not None), None)
    kind, source_key, target_key = pick_columns(columns, translation, where, src_lang, tgt_lang, source_column,
                                                target_column)
    text = lambda value: "" if value is None else str(value)  # noqa: E731 - missing values count as empty
    if kind == "translation":
        pairs = [row.get("translation") or {} for row in rows]
        return pair_dataset([text(p.get(source_key)) for p in pairs], [text(p.get(target_key)) for p in pairs])
    return pair_dataset([text(r.get(source_key)) for r in rows], [text(r.get(target_key)) for r in rows])


def pick_columns(
    columns: Sequence[str], translation: Any, where: str, src_lang: str, tgt_lang: str,
    source_column: str | None, target_column: str | None,
) -> tuple[str, str, str]:
    """``("columns", source, target)`` or ``("translation", source key, target key)``; ``DataError`` naming what was
    found when neither fits."""
    keys = list(translation) if isinstance(translation, dict) else []
    if source_column or target_column:
        if not (source_column and target_column):
            raise DataError("--source-column and --target-column go together: give both.")
        if source_column in columns and target_column in columns:
            return "columns", source_column, target_column
        if source_column in keys and target_column in keys:
            return "translation", source_column, target_column
        missing = [c for c in (source_column, target_column) if c not in columns and c not in keys]
        found = ", ".join(columns) or "none"
        inside = f"; keys of its 'translation' column: {', '.join(keys)}" if keys else ""
        raise DataError(f"{where} has no column {', '.join(repr(m) for m in missing)}; columns found: {found}{inside}.")
    source_names, target_names = column_names_for(src_lang), column_names_for(tgt_lang)
    if "translation" in columns:
        source_key = next((k for k in source_names if k in keys), None)
        target_key = next((k for k in target_names if k in keys), None)
        if source_key and target_key:
            return "translation", source_key, target_key
        raise DataError(
            f"{where}: its 'translation' column has keys {', '.join(keys) or '(none)'}, but "
            f"{'none for ' + src_lang + ' (' + ', '.join(source_names) + ')' if not source_key else ''}"
            f"{' and ' if not source_key and not target_key else ''}"
            f"{'none for ' + tgt_lang + ' (' + ', '.join(target_names) + ')' if not target_key else ''}. "
            "Check --src-lang/--tgt-lang, or name the keys with --source-column/--target-column."
        )
    source_key = next((c for c in (SOURCE, "src", *source_names) if c in columns), None)
    target_key = next((c for c in (TARGET, "tgt", *target_names) if c in columns), None)
    if source_key and target_key:
        return "columns", source_key, target_key
    raise DataError(
        f"{where} has no columns for {src_lang} -> {tgt_lang}; columns found: {', '.join(columns) or 'none'}. "
        f"Expected 'translation' (OPUS style), source/target, or language columns ({', '.join(source_names)} / "
        f"{', '.join(target_names)}); otherwise name them with --source-column and --target-column."
    )
