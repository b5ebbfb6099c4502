"""Uploaded files in, result files out: ``.txt`` (one text), ``.csv``/``.tsv`` (one text per row).

No torch, no gradio: bytes and paths in, plain dataclasses out, so every rule here is tested without a browser.

Rules a visitor can predict (the UI states them next to the upload box):

- ``.txt`` is translated as one text, paragraphs and line breaks kept.
- ``.csv``/``.tsv``: if the first row has a cell named ``text`` or ``source`` (any case), that row is a header and
  that column is translated; otherwise every row is data and the first column is translated. The result is the
  same table with a ``translation`` column appended, in the same format.
- Text must be UTF-8 (a UTF-8 byte-order mark is fine) or UTF-16 with a byte-order mark (what spreadsheet programs
  write as "Unicode text"). Anything else, and anything with NUL bytes (a binary file), is refused with a message
  saying how to fix it, never guessed at: a wrong guess would translate mojibake.
- ``max_bytes`` and ``max_rows`` come from the settings (``NLLB_MAX_FILE_BYTES``, ``NLLB_MAX_ROWS``).
"""

from __future__ import annotations

import codecs
import csv
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import InputError
from ..text.tables import table_records
from .disk import results_folder

KINDS = ("txt", "csv", "tsv")
"""File types accepted, by suffix."""
TEXT_COLUMNS = ("text", "source")
"""Header names that pick the column to translate (case-insensitive), in order of preference."""
REFERENCE_COLUMNS = ("reference", "target", "ref")
"""Header names of the reference column of a scoring file."""
DELIMITERS = {"csv": ",", "tsv": "\t"}


class FileError(InputError):
    """An uploaded file cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class Upload:
    """An uploaded file, decoded and split into what to translate."""

    name: str
    """The file name as uploaded (no folders)."""
    kind: str
    """``txt``, ``csv`` or ``tsv``."""
    texts: tuple[str, ...]
    """What to translate: the whole text of a ``.txt``; one cell per data row of a table."""
    header: tuple[str, ...] | None = None
    """The header row of a table, when it has one."""
    rows: tuple[tuple[str, ...], ...] = ()
    """Every data row of a table, all columns (written back with the translation appended)."""
    column: int = 0
    """Index of the translated column in ``rows``."""


@dataclass(frozen=True)
class ScoringRow:
    """One line of a scoring file: a source and, optionally, its reference translation."""

    source: str
    reference: str | None


def read_text(data: bytes, name: str, max_bytes: int) -> str:
    """Decode an uploaded file's bytes, refusing binary data and encodings other than UTF-8/UTF-16 (with BOM)."""
    if len(data) > max_bytes:
        raise _too_big(name, len(data), max_bytes)
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Spreadsheet programs export "Unicode text" as UTF-16 with a BOM; NUL bytes are normal there.
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise FileError(
                f"{name} starts like UTF-16 text but is not valid UTF-16. Save it as UTF-8.",
                es=f"{name} empieza como texto UTF-16 pero no es UTF-16 válido. Guárdalo como UTF-8.",
            ) from None
    if b"\x00" in data:
        raise FileError(
            f"{name} looks like a binary file, not text. Upload a .txt, .csv or .tsv saved as UTF-8.",
            es=f"{name} parece un archivo binario, no texto. Sube un .txt, .csv o .tsv guardado como UTF-8.",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise FileError(
            f"{name} is not UTF-8 text (undecodable byte 0x{data[error.start]:02x} on line {line}). "
            "Save it as UTF-8 (in most editors: Save as… → Encoding: UTF-8) and upload it again.",
            es=f"{name} no es texto UTF-8 (el byte 0x{data[error.start]:02x} de la línea {line} no se puede "
               "decodificar). Guárdalo como UTF-8 (en la mayoría de los editores: Guardar como… → Codificación: "
               "UTF-8) y vuelve a subirlo.",
        ) from None
    if _CONTROL_RE.search(text):
        raise FileError(f"{name} contains control characters, so it looks like a binary file rather than text.",
                        es=f"{name} contiene caracteres de control, así que parece un archivo binario y no texto.")
    return text


def read_upload(path: str | Path, max_bytes: int, max_rows: int) -> Upload:
    """Read an uploaded ``.txt``, ``.csv`` or ``.tsv`` (see the module docstring for the rules)."""
    path = Path(path)
    kind = _kind(path)
    text = read_text(_read_bytes(path, max_bytes), path.name, max_bytes)
    if kind == "txt":
        if not text.strip():
            raise FileError(f"{path.name} is empty: there is nothing to translate.",
                            es=f"{path.name} está vacío: no hay nada que traducir.")
        return Upload(name=path.name, kind=kind, texts=(text,))
    rows = _table(text, DELIMITERS[kind], path.name)
    header, column = None, 0
    lowered = [cell.strip().casefold() for cell in rows[0]] if rows else []
    for wanted in TEXT_COLUMNS:
        if wanted in lowered:
            header, column = tuple(rows[0]), lowered.index(wanted)
            rows = rows[1:]
            break
    if not rows:
        raise FileError(f"{path.name} has no rows to translate.", es=f"{path.name} no tiene filas que traducir.")
    _check_row_limit(path, len(rows), max_rows, ("rows", "filas"))
    texts = tuple(row[column].strip() if column < len(row) else "" for row in rows)
    if not any(texts):
        raise FileError(f"Column {column + 1} of {path.name} is empty in every row: there is nothing to translate.",
                        es=f"La columna {column + 1} de {path.name} está vacía en todas las filas: no hay nada que "
                           "traducir.")
    return Upload(name=path.name, kind=kind, texts=texts, header=header, rows=tuple(map(tuple, rows)), column=column)


def _check_row_limit(path: Path, count: int, max_rows: int, noun: tuple[str, str]) -> None:
    """Refuse a file of more than ``max_rows`` rows; ``noun`` is what they are called, in English and Spanish."""
    if count > max_rows:
        raise FileError(
            f"{path.name} has {count:,} {noun[0]}; the limit is {max_rows:,} (NLLB_MAX_ROWS). "
            "Split it into smaller files.",
            es=f"{path.name} tiene {count:,} {noun[1]}; el límite es {max_rows:,} (NLLB_MAX_ROWS). "
               "Divídelo en archivos más pequeños.",
        )


def read_scoring_rows(path: str | Path, max_bytes: int, max_rows: int) -> list[ScoringRow]:
    """Read a scoring file: ``source<TAB>reference`` per line (``.tsv``/``.txt``), or ``.csv`` with the same columns.

    A header row is recognised (and skipped) when its first cell is ``source`` or ``text``. Lines without a
    reference are translated but not scored.
    """
    path = Path(path)
    kind = _kind(path)
    text = read_text(_read_bytes(path, max_bytes), path.name, max_bytes)
    rows = _table(text, DELIMITERS.get(kind, "\t"), path.name)
    if rows and rows[0] and rows[0][0].strip().casefold() in TEXT_COLUMNS:
        rows = rows[1:]
    rows = [row for row in rows if row and row[0].strip()]
    if not rows:
        raise FileError(
            f"{path.name} has no lines to translate: expected source<TAB>reference on each line.",
            es=f"{path.name} no tiene líneas que traducir: se espera origen<TAB>referencia en cada línea.",
        )
    _check_row_limit(path, len(rows), max_rows, ("lines", "líneas"))
    return [ScoringRow(row[0].strip(), row[1].strip() if len(row) > 1 and row[1].strip() else None) for row in rows]


def write_translation(upload: Upload, translations: Sequence[str], tgt_lang: str,
                      folder: str | Path | None = None) -> Path:
    """Write the translated file next to nothing the user can see: a fresh temporary folder per request.

    ``.txt`` gets the translation; a table gets its rows back with a ``translation`` column appended. The name says
    the target language: ``letter.txt`` → ``letter.ita_Latn.txt``.
    """
    if len(translations) != len(upload.texts):
        raise ValueError(f"{len(translations)} translations for {len(upload.texts)} texts.")
    stem = Path(upload.name).stem or "translation"
    target = _fresh_folder(folder) / f"{stem}.{tgt_lang}.{upload.kind}"
    if upload.kind == "txt":
        target.write_text(translations[0], encoding="utf-8")
        return target
    header = (*upload.header, "translation") if upload.header else None
    rows = [(*row, translation) for row, translation in zip(upload.rows, translations)]
    return write_table(target, rows, header, DELIMITERS[upload.kind])


def write_table(path: str | Path, rows: Sequence[Sequence[object]], header: Sequence[str] | None = None,
                delimiter: str = ",") -> Path:
    """Write rows as CSV/TSV in UTF-8, quoting only where needed (RFC 4180 style, ``\\n`` line ends).

    Cells a spreadsheet would run as a formula are neutralised (:func:`spreadsheet_safe`).
    """
    path = Path(path)
    tsv = delimiter == "\t"
    with path.open("w", encoding="utf-8", newline="") as handle:
        # A TSV is written the way table_records reads it: no quoting, so a tab or line break inside a cell
        # becomes a space (a TSV has no way to hold one).
        writer = (csv.writer(handle, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_NONE, quotechar=None)
                  if tsv else csv.writer(handle, delimiter=delimiter, lineterminator="\n"))
        clean = _one_line if tsv else (lambda cell: cell)
        if header:
            writer.writerow([clean(spreadsheet_safe(cell)) for cell in header])
        writer.writerows([clean(spreadsheet_safe(cell)) for cell in row] for row in rows)
    return path


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as the start of a formula (OWASP, "CSV Injection")."""


def _one_line(cell: object) -> object:
    return re.sub(r"[\t\r\n]+", " ", cell) if isinstance(cell, str) else cell


def spreadsheet_safe(cell: object) -> object:
    """``cell``, with a leading ``'`` if it is text a spreadsheet would run as a formula (``=HYPERLINK(...)``)."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def new_result_path(name: str, folder: str | Path | None = None) -> Path:
    """A path for a result file in a fresh temporary folder (so concurrent users never share a file)."""
    return _fresh_folder(folder) / name


# -- internals ---------------------------------------------------------------------------------------------------------

# C0 controls other than tab, line feed, carriage return and form feed: text editors never write these.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def _kind(path: Path) -> str:
    kind = path.suffix.lower().lstrip(".")
    if kind not in KINDS:
        raise FileError(f"{path.name}: only .txt, .csv and .tsv files can be translated here.",
                        es=f"{path.name}: aquí solo se pueden traducir archivos .txt, .csv y .tsv.")
    return kind


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, without reading more than ``max_bytes + 1`` of them (a huge upload costs no memory)."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:  # removed by the clean-up (web/uploads.py) while the page still showed it
        raise FileError(f"{path.name} is no longer on the server: uploads are kept only a while. Please upload it "
                        "again.", es=f"{path.name} ya no está en el servidor: los archivos subidos se guardan solo un "
                        "tiempo. Por favor, súbelo de nuevo.") from None
    with handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise _too_big(path.name, path.stat().st_size, max_bytes)
    return data


def _too_big(name: str, size: int, max_bytes: int) -> FileError:
    return FileError(
        f"{name} is {_size(size)}; the limit is {_size(max_bytes)} (NLLB_MAX_FILE_BYTES). "
        "Split it into smaller files.",
        es=f"{name} ocupa {_size(size)}; el límite es {_size(max_bytes)} (NLLB_MAX_FILE_BYTES). "
           "Divídelo en archivos más pequeños.",
    )


def _table(text: str, delimiter: str, name: str) -> list[list[str]]:
    """Rows of a CSV/TSV text, blank lines dropped."""
    try:
        return [row for row in table_records(text, delimiter) if any(cell.strip() for cell in row)]
    except csv.Error as error:
        kind = "CSV" if delimiter == "," else "TSV"
        # csv's own reason stays in English: it names the parser's rule, in its words.
        raise FileError(f"{name} is not a valid {kind} file ({error}).",
                        es=f"{name} no es un archivo {kind} válido ({error}).") from None


def _fresh_folder(folder: str | Path | None) -> Path:
    return Path(tempfile.mkdtemp(prefix="nllb-space-", dir=folder)) if folder else results_folder()


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n} GB"  # pragma: no cover
