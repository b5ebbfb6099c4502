"""The app's handlers against the tiny model, without a browser: what each button returns, and errors as messages."""

from __future__ import annotations

import csv
from dataclasses import replace

import gradio as gr
import pytest

from nllb_space.web.handler_inputs import MEAN
from nllb_space.web.handlers import Handlers
from nllb_space.web.markdown import code, escape, revision_choices, word_diff
from tests.model_fixtures import ADAPTER_REPO, BRANCH, TAG

SENTENCE = "El gato duerme en el sofá."
MAIN = f"{ADAPTER_REPO}@main"
EXP = f"{ADAPTER_REPO}@{BRANCH}"


@pytest.fixture(scope="module")
def h(engine) -> Handlers:
    return Handlers(engine)


def error_message(call, *args, **kwargs) -> str:
    with pytest.raises(gr.Error) as caught:
        call(*args, **kwargs)
    return caught.value.message


def test_translate_returns_the_engines_text_and_says_which_commit(h, engine, hub_adapters):
    text = "Hola, ¿cómo estás?\n\nMañana vamos a la playa."
    output, result = h.translate_text(text, "spa_Latn", "ita_Latn", MAIN)
    assert output == engine.translate(text, "spa_Latn", "ita_Latn", model=MAIN).text
    assert output.count("\n\n") == 1  # paragraphs kept
    info = h.translation_info(result)
    assert hub_adapters["main"][:7] in info and "2 sentence(s)" in info
    base, _ = h.translate_text(text, "Spanish", "Italian (ita_Latn)", "base", num_beams=1.0, max_new_tokens=8.0)
    assert base == engine.translate(text, "spa_Latn", "ita_Latn", max_new_tokens=8).text != output


@pytest.mark.parametrize(
    "args, message",
    [
        (("   ", "spa_Latn", "ita_Latn", "base"), "Enter some text"),
        (("x" * 5001, "spa_Latn", "ita_Latn", "base"), "NLLB_MAX_CHARS"),
        ((SENTENCE, "klingon", "ita_Latn", "base"), "Unknown language 'klingon'"),
        ((SENTENCE, "spa_Latn", "spa_Latn", "base"), "both Spanish"),
        ((SENTENCE, "spa_Latn", "ita_Latn", f"{ADAPTER_REPO}@no-such-branch"), "no-such-branch"),
        ((SENTENCE, "spa_Latn", "ita_Latn", "nobody/nothing@main"), "nobody/nothing"),
    ],
)
def test_bad_requests_become_messages(h, hub_adapters, args, message):
    assert message in error_message(h.translate_text, *args)


def test_error_messages_escape_what_the_visitor_typed(h):
    message = error_message(h.translate_text, SENTENCE, "<img src=x onerror=alert(1)>", "ita_Latn", "base")
    assert "<img" not in message and "&lt;img" in message


def test_html_typed_by_a_visitor_comes_back_as_text(h, engine):
    text = "<script>alert('hola')</script> <b>El gato</b>"
    output, _ = h.translate_text(text, "spa_Latn", "ita_Latn", "base")
    assert output == engine.translate(text, "spa_Latn", "ita_Latn").text  # a Textbox shows it literally
    assert escape("<b>x</b> *y* `z` | _w_") == r"&lt;b&gt;x&lt;/b&gt; \*y\* \`z\` \| \_w\_"
    assert code("a`<i>") == r"<code>a\`&lt;i&gt;</code>"
    # Markdown built from user text (the attention caption quotes the sentence) carries it escaped.
    view = h.attention(text, "spa_Latn", "ita_Latn", "base").attention_view
    caption = h.attention_views(view, "cross", MEAN, MEAN).attention_caption
    assert "<script>" not in caption and "&lt;script&gt;" in caption


def test_compare_shows_both_sides_times_and_scores(h, engine, hub_adapters):
    reference = "Il gatto dorme sul divano."
    left, right, scores, last = h.compare(SENTENCE, "spa_Latn", "ita_Latn", "base", EXP, reference)
    expected = engine.compare(SENTENCE, "spa_Latn", "ita_Latn", left="base", right=EXP)
    assert (left, right) == (expected.left.text, expected.right.text) and left != right
    summary, rows = h.compare_views(last)
    assert "one batch" in summary and "chrF++" in summary and "BLEU" in summary
    assert hub_adapters["branch"][:7] in summary
    no_reference, _ = h.compare_views(h.compare(SENTENCE, "spa_Latn", "ita_Latn", MAIN, "base").last_comparison)
    assert "chrF++ |" not in no_reference and "Add a reference" in no_reference


def test_compare_reads_one_row_per_sentence_with_the_better_side_marked(h, engine):
    """#14: a paragraph's word diff was one merged stream; now each sentence is a row: source, left, right,
    reference, each side's chrF++ and right − left, and the scores table has a "right − left" column."""
    from nllb_space.text.scoring import sentence_scores

    text = "Hola, ¿cómo estás? Gracias por tu ayuda."
    references = ["Ciao, come stai?", "Grazie per il tuo aiuto."]
    result = h.compare(text, "spa_Latn", "ita_Latn", "base", EXP, " ".join(references))
    rows = result.compare_scores["sentences"]
    assert [row["source"] for row in rows] == ["Hola, ¿cómo estás?", "Gracias por tu ayuda."]
    assert [row["reference"] for row in rows] == references
    for row in rows:
        assert row["left_chrf"] == round(sentence_scores(row["left"], row["reference"])[1], 2)
        assert row["right_minus_left"] == pytest.approx(row["right_chrf"] - row["left_chrf"], abs=0.011)
    assert " ".join(row["right"] for row in rows) == result.right_output
    summary, html_rows = h.compare_views(result.last_comparison)
    assert "right − left" in summary.splitlines()[0]
    chrf_line = next(line for line in summary.splitlines() if line.startswith("| chrF++"))
    better = result.compare_scores["better"]
    assert f"{better} is better" in chrf_line if better != "same" else "a tie" in chrf_line
    assert html_rows.count("<tr") == 3 and "Ciao, come stai?" in html_rows  # a header and two sentences
    assert ("diff-left" in html_rows) == any(row["left"] != row["right"] for row in rows)
    # A reference that does not split like the text is scored whole only, and the page says why.
    unsplit = h.compare(text, "spa_Latn", "ita_Latn", "base", EXP, "Ciao e grazie.")
    assert unsplit.compare_scores["reference_aligned"] is False
    assert all(row["reference"] is None for row in unsplit.compare_scores["sentences"])
    assert "does not split into the same 2 sentence(s)" in h.compare_views(unsplit.last_comparison).compare_summary


def test_word_diff_marks_changed_words_and_keeps_layout():
    assert word_diff("il gatto dorme\n\nsì", "il cane dorme\n\nsì") == [
        ("il ", None), ("gatto", "only left"), ("cane", "only right"), (" dorme\n\nsì", None)]
    assert word_diff("", "nuovo") == [("nuovo", "only right")]


def test_attention_heatmaps_and_lora_minus_base(h, engine, hub_adapters):
    target, figure, view, alignment, data = h.attention(SENTENCE, "spa_Latn", "ita_Latn", MAIN)
    assert isinstance(view, str) and len(view) == 32  # the session keeps a key; the maps stay on the server
    assert target == engine.translate(SENTENCE, "spa_Latn", "ita_Latn", model=MAIN, num_beams=1).text
    ticks = list(figure.layout.xaxis.ticktext)
    assert ticks[0] == '<span style="color:#9ca3af">⟨spa_Latn⟩</span>' and ticks[1] == "El"
    # Rows are named by what they predict: the decoder input is the translation shifted right by one.
    rows = list(figure.layout.yaxis.ticktext)
    assert "predicting" in rows[0] and "⟨ita_Latn⟩" in rows[0] and "⟨/s⟩" in rows[-1]
    assert data["source_tokens"][0] == "spa_Latn" and len(data["cross_attention_mean"]) == len(rows)
    assert alignment.data and data["alignment"]["target_words"]
    assert h.views.get(view).difference is not None
    heat, difference, caption, grid = h.attention_views(view, "encoder", "1", MEAN)
    assert "Encoder self-attention" in heat.layout.title.text and "layer 2, mean over heads" in heat.layout.title.text
    assert difference["visible"] and difference["value"].data[0].zmid == 0
    layer, head = h.attention_controls(view, "encoder", "1", MEAN)
    assert layer["value"] == "1" and (MEAN, MEAN) == (layer["choices"][0][1], head["choices"][0][1])
    # An index the map does not have falls back to the mean instead of failing.
    assert h.attention_controls(view, "decoder", "99", "0")[0]["value"] == MEAN
    assert "mean over layers, head 1" in h.attention_views(view, "decoder", "99", "0")[0].layout.title.text
    # The base model has nothing to subtract.
    base_view = h.attention(SENTENCE, "spa_Latn", "ita_Latn", "base").attention_view
    assert h.views.get(base_view).difference is None and h.attention_views(base_view, "cross", MEAN, MEAN)[1]["visible"] is False
    assert "Enter a sentence" in error_message(h.attention, " ", "spa_Latn", "ita_Latn", "base")


def test_attention_reuses_the_last_translation(h):
    _, last = h.translate_text("Gracias por tu ayuda. Mañana vamos a la playa.", "spa_Latn", "ita_Latn", MAIN)
    source, target, model = h.reuse_translation(last)
    assert (source, target, model) == (last.sentences[0].source, last.sentences[0].target, MAIN)
    target_shown, _, view, *_ = h.attention(source, "spa_Latn", "ita_Latn", model, translation=target)
    assert h.views.get(view).maps.target_text == target_shown
    assert "Translate something" in error_message(h.reuse_translation, None)


def test_translate_txt_and_csv_files(h, engine, tmp_path):
    txt = tmp_path / "carta.txt"
    txt.write_text("Hola, ¿cómo estás?\n\nGracias por tu ayuda.\n", encoding="utf-8")
    path, message = h.translate_file(str(txt), "spa_Latn", "ita_Latn", "base")
    expected = engine.translate(txt.read_text(encoding="utf-8"), "spa_Latn", "ita_Latn").text
    assert open(path, encoding="utf-8").read() == expected and "carta.txt" in message

    rows = ["Hola, ¿cómo estás?", "", "El gato duerme en el sofá. Mañana vamos a la playa.",
            "Gracias por tu ayuda."]
    table = tmp_path / "rows.csv"
    table.write_text("id,text\n" + "".join(f'{i},"{row}"\n' for i, row in enumerate(rows)), encoding="utf-8")
    batches = []
    real_run = engine.run_generate
    engine.run_generate = lambda call: batches.append(len(call.ids)) or real_run(call)
    try:
        path, message = h.translate_file(str(table), "spa_Latn", "ita_Latn", MAIN)
    finally:
        engine.run_generate = real_run
    written = list(csv.DictReader(open(path, encoding="utf-8")))
    assert [r["text"] for r in written] == rows and "4 rows" in message
    # The rows' four sentences share one model call (a call per row would run batches of one)...
    assert batches == [4]
    # ...and each row comes back as that row translated on its own, in its own layout; an empty row stays empty.
    expected = [engine.translate(row, "spa_Latn", "ita_Latn", model=MAIN).text if row else "" for row in rows]
    assert [r["translation"] for r in written] == expected


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\xff\xfeH\x00\xd8", "not valid UTF-16"),
        (b"Ma\xf1ana\n", "not UTF-8"),
        (b"\x00\x01\x02binary", "binary"),
        (b"x\n" * 201, "NLLB_MAX_ROWS"),
    ],
)
def test_bad_files_become_messages(h, tmp_path, content, message):
    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    assert message in error_message(h.translate_file, str(path), "spa_Latn", "ita_Latn", "base")


def test_too_big_file_and_no_file(h, tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"a" * (h.settings.max_file_bytes + 1))
    assert "NLLB_MAX_FILE_BYTES" in error_message(h.translate_file, str(path), "spa_Latn", "ita_Latn", "base")
    assert "Upload" in error_message(h.translate_file, None, "spa_Latn", "ita_Latn", "base")


def test_batch_scoring_file(h, engine, tmp_path):
    lines = [("Hola, ¿cómo estás?", "Ciao, come stai?"), ("Gracias por tu ayuda.", ""),
             ("El gato duerme en el sofá.", "Il gatto dorme sul divano.")]
    path = tmp_path / "dev.tsv"
    path.write_text("".join(f"{s}\t{r}\n" for s, r in lines), encoding="utf-8")
    summary, shown, csv_path = h.compare_file(str(path), "spa_Latn", "ita_Latn", "base", MAIN)
    table = shown["data"]
    # #14: the score columns come first, in view, with the difference to sort by; the signatures are labelled.
    assert shown["headers"][:6] == ["#", "right − left chrF++", "left chrF++", "right chrF++", "left BLEU",
                                    "right BLEU"]
    assert shown["headers"][6:8] == ["source", "reference"]
    assert "2 of 3 lines" in summary and "| right − left |" in summary
    assert "sacreBLEU signatures" in summary and "chrF++ <code>nrefs:1" in summary and "BLEU <code>nrefs:1" in summary
    assert [row[6] for row in table] == [s for s, _ in lines]
    assert table[0][8] == engine.translate(lines[0][0], "spa_Latn", "ita_Latn").text
    assert table[0][9] == engine.translate(lines[0][0], "spa_Latn", "ita_Latn", model=MAIN).text
    assert table[1][1:6] == [None] * 5 and all(isinstance(v, float) for v in table[2][1:6])
    assert table[2][1] == pytest.approx(table[2][3] - table[2][2], abs=0.011)
    written = list(csv.reader(open(csv_path, encoding="utf-8")))
    assert written[0][:2] == ["#", "right − left chrF++"] and len(written) == 4


def test_revisions_are_listed_and_offered(h, hub_adapters):
    table, dropdown, rows, message = h.list_revisions("")
    names = [row[1] for row in table["data"]]
    assert {"main", BRANCH, TAG} <= set(names) and hub_adapters["main"][:7] in names
    values = [value for _, value in dropdown["choices"]]
    assert {MAIN, EXP, f"{ADAPTER_REPO}@{TAG}", f"{ADAPTER_REPO}@{hub_adapters['main']}"} <= set(values)
    assert set(rows.values()) == set(values) and "tester/nllb-lora" in message
    # At page load every model picker is offered base plus the configured repo's revisions.
    loaded = h.page_load([])
    assert loaded.revision["value"] == loaded.revision_loaded == MAIN  # starts on the live revision (#14)
    assert hub_adapters["main"][:7] in loaded.status and loaded.choices[0][1] == "base"
    assert EXP in [v for _, v in loaded.choices]
    assert all(getattr(loaded, p)["choices"] == loaded.choices for p in ("model", "left", "right", "lora_model"))


def test_picking_a_revision_loads_it_and_selects_it_everywhere(h, engine, hub_adapters):
    status, message, loaded, choices, translate, left, right, attention, lora = h.use_revision(EXP, h.initial_choices())
    assert hub_adapters["branch"][:7] in message and hub_adapters["branch"][:7] in status and loaded == EXP
    assert translate["value"] == right["value"] == attention["value"] == EXP and "value" not in left
    assert EXP in [value for _, value in choices]
    assert "no-such" in error_message(h.use_revision, f"{ADAPTER_REPO}@no-such", [])


def test_other_repos_can_be_turned_off(engine):
    locked = Handlers(engine)
    locked.engine = type(engine).__new__(type(engine))
    locked.engine.__dict__.update(engine.__dict__, settings=replace(engine.settings, allow_custom_repos=False))
    assert r"NLLB\_ALLOW\_CUSTOM\_REPOS" in locked.list_revisions("someone/else").revisions_message  # Markdown
    assert "NLLB_ALLOW_CUSTOM_REPOS" in error_message(locked.translate_text, SENTENCE, "spa_Latn", "ita_Latn", "a/b@main")


def test_revision_choices_qualify_slashed_branches(hub_adapters, engine):
    revisions = engine.list_revisions()
    labels = dict((value, label) for label, value in revision_choices(revisions))
    assert labels[EXP].startswith(f"{BRANCH} · branch · {hub_adapters['branch'][:7]}")


def test_sentences_that_stop_at_the_token_limit_are_flagged(h, engine):
    text = "Hola, ¿cómo estás? Gracias por tu ayuda."
    _, short = h.translate_text(text, "spa_Latn", "ita_Latn", "base", 1, 2)
    assert short.stopped_at_limit == 2  # two tokens is never a whole sentence
    assert "2 of 2 sentence(s) stopped at the 2-token limit" in h.translation_info(short)
    _, roomy = h.translate_text(text, "spa_Latn", "ita_Latn", "base", 1, 3)
    assert roomy.new_tokens == 4 and roomy.stopped_at_limit == 2  # the language tag is one of the 3


def test_comparing_a_model_with_itself_is_said_before_running(h):
    assert "will be the same" in h.same_model_note("base", " base ")
    assert "will be the same" in h.same_model_note(MAIN, MAIN)
    assert h.same_model_note("base", MAIN) == ""


def test_an_unknown_language_is_said_when_its_field_loses_focus(h):
    """#14: validated on blur, before any button is pressed (the page wires this to the fields' blur event)."""
    assert "Unknown language 'klingon'" in h.check_languages("klingon", "ita_Latn")
    assert "both Spanish" in h.check_languages("español", "spa_Latn")
    assert h.check_languages("Spanish", "italiano") == ""


def test_attention_explains_the_translation_the_visitor_saw(h, engine):
    """#14: Attention re-generated greedily, so its translation could differ from Translate's. Now it takes the
    visitor's last translation of that sentence by that model, else translates with the visitor's options."""
    _, short = h.translate_text(SENTENCE, "spa_Latn", "ita_Latn", MAIN, 1, 3)  # cut at 3 tokens: unlike any default
    shown = h.attention(SENTENCE, "Spanish", "italiano", MAIN, "", None, None, short)
    assert shown.attention_target == short.text
    other_model = h.attention(SENTENCE, "spa_Latn", "ita_Latn", "base", "", 1, 3, short)
    assert other_model.attention_target == engine.translate(SENTENCE, model="base", max_new_tokens=3).text
    beams = engine.translate(SENTENCE, model=MAIN, num_beams=4, max_new_tokens=12).text
    assert h.attention(SENTENCE, "spa_Latn", "ita_Latn", MAIN, "", 4, 12).attention_target == beams


def test_a_long_text_streams_into_the_output_batch_by_batch(h, engine):
    """#14: a long text showed a spinner, then everything at once; now each finished batch reaches the page."""
    import gradio as gr

    sentences = [f"El gato número {i} duerme en el sofá." for i in range(engine.settings.batch_size + 4)]
    steps = list(h.translate(" ".join(sentences), "spa_Latn", "ita_Latn", "base", 1, 8))
    assert len(steps) == 2  # two batches: one partial answer, then the whole translation
    partial, final = steps
    assert isinstance(partial.last_translation, type(gr.skip())) and final.last_translation.text == final.output
    assert partial.output.count("…") == 4  # the shortest sentences come last: four still to do
    done = [piece for piece in partial.output.split(" ") if piece != "…"]
    assert " ".join(done) in final.output or all(word in final.output for word in done)
    assert final.output == engine.translate(" ".join(sentences), "spa_Latn", "ita_Latn", max_new_tokens=8).text
