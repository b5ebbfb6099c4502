"""Uploaded files: what is translated, what is refused and how, and the files written back. No model needed."""

from __future__ import annotations

import codecs
import csv

import pytest

from nllb_space.service.files import FileError, read_scoring_rows, read_upload, write_table, write_translation

LIMITS = dict(max_bytes=10_000, max_rows=5)


def write(tmp_path, name: str, content: str | bytes):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_txt_is_one_text_with_its_layout(tmp_path):
    text = "Hola.\n\nEl gato duerme.\r\nAdiós.\n"
    upload = read_upload(write(tmp_path, "carta.txt", text), **LIMITS)
    assert (upload.kind, upload.texts) == ("txt", (text,))
    out = write_translation(upload, ["Ciao.\n\nIl gatto dorme."], "ita_Latn")
    assert out.name == "carta.ita_Latn.txt" and out.read_text(encoding="utf-8") == "Ciao.\n\nIl gatto dorme."


def test_csv_without_header_uses_the_first_column(tmp_path):
    upload = read_upload(write(tmp_path, "f.csv", 'Hola,1\n"Sí, claro",2\n\n'), **LIMITS)
    assert upload.header is None and upload.texts == ("Hola", "Sí, claro")
    out = write_translation(upload, ["Ciao", "Sì, certo"], "ita_Latn")
    assert list(csv.reader(out.open(encoding="utf-8"))) == [["Hola", "1", "Ciao"], ["Sí, claro", "2", "Sì, certo"]]


@pytest.mark.parametrize("name", ["text", "Source"])
def test_table_header_named_text_or_source_picks_the_column(tmp_path, name):
    upload = read_upload(write(tmp_path, "f.tsv", f"id\t{name}\n1\tHola\n2\t\n3\tAdiós\n"), **LIMITS)
    assert upload.header == ("id", name) and upload.column == 1
    assert upload.texts == ("Hola", "", "Adiós")  # an empty cell is kept (its row stays), translated as ""
    out = write_translation(upload, ["Ciao", "", "Addio"], "ita_Latn")
    rows = list(csv.reader(out.open(encoding="utf-8"), delimiter="\t"))
    assert rows == [["id", name, "translation"], ["1", "Hola", "Ciao"], ["2", "", ""], ["3", "Adiós", "Addio"]]


def test_utf8_bom_and_utf16_are_read(tmp_path):
    assert read_upload(write(tmp_path, "a.txt", codecs.BOM_UTF8 + "Mañana".encode()), **LIMITS).texts == ("Mañana",)
    utf16 = "text\tid\nMañana\t1\n".encode("utf-16")  # with BOM, as spreadsheet programs export
    assert read_upload(write(tmp_path, "b.tsv", utf16), **LIMITS).texts == ("Mañana",)


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("latin1.txt", "Mañana".encode("latin-1"), "not UTF-8 text .* line 1"),
        ("junk.txt", bytes(range(256)) * 4, "binary"),
        ("ctrl.csv", b"Hola\x07,1\n", "control characters"),
        ("empty.txt", b"  \n", "empty"),
        ("blank.csv", b"\n\n", "no rows"),
        ("nocol.tsv", b"id\ttext\n1\t\n", "empty in every row"),
        ("image.png", b"\x89PNG", "only .txt, .csv and .tsv"),
        ("broken.csv", b'"unterminated,1\n', "not a valid CSV"),
    ],
)
def test_unusable_files_get_a_clear_message(tmp_path, name, content, message):
    with pytest.raises(FileError, match=message):
        read_upload(write(tmp_path, name, content), **LIMITS)


def test_a_refused_file_is_explained_in_spanish_too(tmp_path):
    with pytest.raises(FileError) as caught:
        read_upload(write(tmp_path, "junk.txt", bytes(range(256))), **LIMITS)
    assert str(caught.value) == (
        "junk.txt looks like a binary file, not text. Upload a .txt, .csv or .tsv saved as UTF-8."
    )
    assert caught.value.in_language("es") == (
        "junk.txt parece un archivo binario, no texto. Sube un .txt, .csv o .tsv guardado como UTF-8."
    )


def test_limits_name_their_setting(tmp_path):
    with pytest.raises(FileError, match="NLLB_MAX_FILE_BYTES"):
        read_upload(write(tmp_path, "big.txt", "a" * 10_001), **LIMITS)
    with pytest.raises(FileError, match="6 rows; the limit is 5 .NLLB_MAX_ROWS"):
        read_upload(write(tmp_path, "many.csv", "x\n" * 6), **LIMITS)
    with pytest.raises(FileError, match="NLLB_MAX_ROWS"):
        read_scoring_rows(write(tmp_path, "many.tsv", "x\ty\n" * 6), **LIMITS)


def test_scoring_rows_with_and_without_references(tmp_path):
    path = write(tmp_path, "s.tsv", "source\treference\nHola.\tCiao.\nAdiós.\n\nGracias.\t \n")
    rows = read_scoring_rows(path, **LIMITS)
    assert [(r.source, r.reference) for r in rows] == [("Hola.", "Ciao."), ("Adiós.", None), ("Gracias.", None)]


def test_written_tables_quote_what_needs_it(tmp_path):
    path = write_table(tmp_path / "t.csv", [[1, 'a "b", c', "x\ny"]], ["n", "text", "more"])
    rows = list(csv.reader(path.open(encoding="utf-8", newline="")))
    assert rows == [["n", "text", "more"], ["1", 'a "b", c', "x\ny"]]


def test_the_app_and_the_trainer_read_a_tsv_with_quotes_the_same_way(tmp_path):
    """``"Hola", dijo.<TAB>"Ciao", disse.`` was refused by the app's batch scoring and read by the trainer."""
    from nllb_space.training.pairs import load_table

    path = tmp_path / "pairs.tsv"
    path.write_text('"Hola", dijo.\t"Ciao", disse.\nSí.\t"Sì".\n', encoding="utf-8")
    app = [(row.source, row.reference) for row in read_scoring_rows(path, 10_000, 10)]
    trainer = load_table(path, "spa_Latn", "ita_Latn")
    assert app == [('"Hola", dijo.', '"Ciao", disse.'), ("Sí.", '"Sì".')]
    assert list(zip(trainer["source"], trainer["target"])) == app


def test_a_tsv_written_by_the_app_reads_back_the_same(tmp_path):
    path = write_table(tmp_path / "t.tsv", [['"Hola", dijo.', 'a\tb\nc']], ["source", "translation"], "\t")
    upload = read_upload(path, 10_000, 10)
    assert upload.rows == (('"Hola", dijo.', "a b c"),)
