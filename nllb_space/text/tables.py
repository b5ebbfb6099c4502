"""Delimited text as rows: the one way the app's uploads and the trainer's pair files read CSV and TSV."""

from __future__ import annotations

import csv
import io


def table_records(text: str, delimiter: str) -> list[list[str]]:
    """The rows of a CSV or TSV text, read the one way the app and the trainer both read them.

    In a TSV, quotes are data, not quoting (OPUS and Moses TSVs are written that way, and sentences hold quotes:
    ``"Hola", dijo.<TAB>"Ciao", disse.``); a CSV is quoted RFC 4180 style. ``newline=""``: csv handles line ends,
    so a quoted CSV cell may span lines and U+2028 inside a cell stays data. Raises ``csv.Error``.
    """
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quoting=quoting, strict=True))
