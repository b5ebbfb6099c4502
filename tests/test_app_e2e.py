"""End to end: ``python app.py`` in a subprocess (tiny model, adapters on the Hub emulator) driven by headless
Chromium through Playwright. Each test asserts on what the page shows and saves a screenshot under its tmp_path.

Expected texts come from the same server's engine through its API (``gradio_client``), not from the engine in this
test process: the tiny model has random weights, so its greedy choices are near-ties that float rounding can flip,
and BLAS rounding may differ between two processes (memory alignment). ``test_api.py`` checks, in one process, that
the API returns exactly what the engine gives; here we check the page shows exactly what the API returns.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from nllb_space.testing.serve import free_port
from tests.model_fixtures import ADAPTER_REPO, BRANCH, PUBLISHED_BASE

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
MAIN = f"{ADAPTER_REPO}@main"
EXP = f"{ADAPTER_REPO}@{BRANCH}"
TEXT = "Hola, ¿cómo estás?\n\nMañana vamos a la playa."
TIMEOUT_MS = 60_000
SERVER_LOG: list[Path] = []  # the module's app.py log, read when a test fails


@pytest.fixture(scope="module")
def app_url(published_base, hub_adapters, tmp_path_factory):
    """``python app.py`` serving the tiny model and the Hub emulator's adapters, killed at the end whatever happens.

    The base is downloaded from the emulator's ``facebook/nllb-200-distilled-600M``, laid out as the real one is
    (``pytorch_model.bin`` on main, no safetensors), so the app starts the way it does on a Space.
    """
    port = free_port()
    env = dict(
        os.environ,  # HF_ENDPOINT/HF_TOKEN/HF_HOME of the session's Hub emulator (tests/conftest.py)
        NLLB_BASE_MODEL=PUBLISHED_BASE, NLLB_DEVICE="cpu", NLLB_ADAPTER_REPO=ADAPTER_REPO,
        NLLB_MAX_NEW_TOKENS="16", NLLB_NUM_BEAMS="1",  # short greedy outputs: the tiny model never stops early
        # Room for a run that lasts: the page shows each step after the trainer took it, seconds late under load,
        # and a Stop must land while the run still goes (tests/test_train_e2e.py).
        NLLB_TRAIN_MAX_STEPS="3000",
        OMP_NUM_THREADS="1",  # the tiny model gains nothing from 2 threads, and loses a lot on a busy machine
        GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False",
    )
    log_path = tmp_path_factory.mktemp("app") / "server.log"
    SERVER_LOG[:] = [log_path]
    with log_path.open("w") as log:
        server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                pytest.fail(f"app.py exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not answer within 120 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def server(app_url):
    """The app's own engine, through its public API."""
    from gradio_client import Client

    return Client(app_url, verbose=False)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("The browser tests need Debian's chromium at /usr/bin/chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(autouse=True)
def server_log_on_failure(request):
    """A failed browser test prints what the app logged meanwhile: the page alone rarely says why it waited."""
    start = SERVER_LOG[0].stat().st_size if SERVER_LOG and SERVER_LOG[0].exists() else 0
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed and SERVER_LOG:
        with SERVER_LOG[0].open(encoding="utf-8", errors="replace") as log:
            log.seek(start)
            print("app.py logged during the test:\n" + log.read()[-6000:])


@pytest.fixture
def page(browser, app_url, tmp_path, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app_url)
    page.wait_for_selector("#translate-button")
    # The page-load event fills the status and the model pickers; wait for it before clicking anything.
    page.wait_for_selector("#status >> text=Live adapter")
    try:
        yield page
    finally:
        page.screenshot(path=str(tmp_path / "final.png"), full_page=True)
        if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
            for panel in ("#revisions-message", "#status", ".toast-body"):
                texts = [element.inner_text() for element in page.query_selector_all(panel)]
                print(f"{panel} at the failure: {texts}")
        context.close()


def fill_field(field, value: str) -> None:
    """Type ``value`` into ``field`` and wait until the page holds it. A field inside an accordion that has just opened
    can be drawn once more right after it appears, and a value typed before that was lost on a busy machine (CI saw
    the revisions panel list the configured repo instead of the typed one, and a beam box never clamp)."""
    for _ in range(5):
        field.fill(value)
        field.page.wait_for_timeout(300)  # let a late redraw happen before checking
        if field.input_value() == value:
            return
    raise AssertionError(f"the page did not keep {value!r} typed in {field}")


def wait_for_value(page, selector: str) -> str:
    page.wait_for_function("s => document.querySelector(s) && document.querySelector(s).value.length > 0",
                           arg=selector)
    return page.input_value(selector)


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def pick(page, dropdown: str, option: str) -> None:
    page.click(f"{dropdown} input")
    page.get_by_role("option", name=option).first.click()


def test_translate_tab(page, server, hub_adapters, tmp_path):
    status = page.inner_text("#status")
    assert f"{MAIN} at commit {hub_adapters['main'][:7]}" in status
    page.fill("#translate-input textarea", TEXT)
    page.click("#translate-button")
    output = wait_for_value(page, "#translate-output textarea")
    assert output == server.predict(TEXT, "spa_Latn", "ita_Latn", MAIN, api_name="/translate")
    assert output.count("\n\n") == 1  # the paragraph break survives
    page.wait_for_selector("#translate-info >> text=Translated by")
    assert hub_adapters["main"][:7] in page.inner_text("#translate-info")
    page.screenshot(path=str(tmp_path / "translate.png"), full_page=True)


def test_the_attention_tab_reuses_the_translation_the_session_kept(page):
    """/translate returns only the text (#22: no gr.State output, which MCP callers could not take); the page's
    session still keeps the whole translation, through the private event chained after it."""
    page.fill("#translate-input textarea", TEXT)
    page.click("#translate-button")
    output = wait_for_value(page, "#translate-output textarea")
    page.wait_for_selector("#translate-info >> text=Translated by")
    model = page.input_value("#translate-model input")
    open_tab(page, "Attention")
    page.click("#attention-reuse")
    page.wait_for_function("s => document.querySelector('#attention-input textarea')?.value === s",
                           arg="Hola, ¿cómo estás?")
    assert page.input_value("#attention-pair textarea") == output.split("\n\n")[0]
    assert page.input_value("#attention-model input") == model


def test_swap_and_language_search(page):
    page.fill("#tgt-lang input", "fra")
    page.get_by_role("option", name="French (fra_Latn)").click()
    page.click("#swap-languages")
    # `?.`: the predicate must keep polling (not throw) while Gradio has not rendered the element yet.
    page.wait_for_function("document.querySelector('#src-lang input')?.value.startsWith('French')")
    assert page.input_value("#tgt-lang input") == "Spanish (spa_Latn)"


def test_number_boxes_are_clamped_to_their_limits(page):
    """#14: the beam box took 20 when the limit is 8, and the request then failed (NLLB_MAX_BEAMS is 8 here)."""
    page.get_by_text("Decoding options").click()
    beams = page.locator("#decoding-beams input[type=number]")
    fill_field(beams, "20")
    beams.press("Tab")
    page.wait_for_function("() => document.querySelector('#decoding-beams input[type=number]').value === '8'")


def test_an_unknown_language_is_said_when_the_field_loses_focus(page):
    page.fill("#src-lang input", "klingon")
    page.keyboard.press("Tab")
    page.wait_for_selector("#language-note >> text=Unknown language 'klingon'")
    page.fill("#src-lang input", "español")
    page.keyboard.press("Tab")
    page.wait_for_function("() => !document.querySelector('#language-note').innerText.includes('klingon')")


def test_compare_tab(page, server, hub_adapters, tmp_path):
    open_tab(page, "Compare")
    # #14: the two model pickers sit side by side at one height on a desktop.
    left_box, right_box = (page.locator(f"{side} input").bounding_box() for side in ("#compare-left", "#compare-right"))
    assert abs(left_box["y"] - right_box["y"]) < 2 and left_box["x"] < right_box["x"]
    page.fill("#compare-input textarea", TEXT)
    page.fill("#compare-reference textarea", "Ciao, come stai?\n\nDomani andiamo al mare.")
    page.click("#compare-button")
    left = wait_for_value(page, "#compare-left-output textarea")
    right = wait_for_value(page, "#compare-right-output textarea")
    expected = server.predict(TEXT, "spa_Latn", "ita_Latn", "base", MAIN, "", api_name="/compare")
    assert (left, right) == expected[:2] and left != right
    page.wait_for_selector("#compare-summary >> text=one batch")
    summary = page.inner_text("#compare-summary")
    assert "chrF++" in summary and "BLEU" in summary and hub_adapters["main"][:7] in summary
    # One row per sentence (#14), with each side's chrF++ against its reference sentence.
    page.wait_for_selector("#compare-rows table.compare-rows")
    assert page.locator("#compare-rows tbody tr").count() == 2
    assert "Domani andiamo al mare." in page.inner_text("#compare-rows")
    assert "right − left" in summary
    page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)


def test_attention_tab(page, server, tmp_path):
    open_tab(page, "Attention")
    page.click("#attention-button")
    page.wait_for_selector("#attention-plot .xtick text")
    sentence = page.input_value("#attention-input textarea")
    target, figure, _, _ = server.predict(sentence, "spa_Latn", "ita_Latn", MAIN, api_name="/attention")
    shown = page.input_value("#attention-target textarea")
    assert shown == target, f"page shows {shown!r}, the API gives {target!r}"
    x_labels = [t.text_content() for t in page.query_selector_all("#attention-plot .xtick text")]
    y_labels = [t.text_content() for t in page.query_selector_all("#attention-plot .ytick text")]
    assert x_labels[0] == "⟨spa_Latn⟩" and sentence.startswith(x_labels[1]) and x_labels[-1] == "⟨/s⟩"
    rows = int(json.loads(figure["plot"])["data"][0]["z"]["shape"].split(",")[0])
    # Rows are named by the token they predict (the decoder input shifted by one).
    assert y_labels[0] == "predicting ⟨ita_Latn⟩" and y_labels[-1] == "predicting ⟨/s⟩" and len(y_labels) == rows
    # An adapter also shows "LoRA minus base".
    page.wait_for_selector("#attention-difference .xtick text")
    # Hovering a cell shows the token pair and the weight.
    cells = page.locator("#attention-plot .nsewdrag").first
    cells.scroll_into_view_if_needed()
    box = cells.bounding_box()  # in viewport coordinates, which mouse.move takes
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3, steps=5)
    hover = page.wait_for_selector("#attention-plot .hovertext", timeout=10_000).text_content()
    assert "→" in hover and "weight" in hover
    # One layer of encoder self-attention.
    page.get_by_label("Encoder self-attention").check()
    pick(page, "#attention-layer", "layer 1")
    page.wait_for_function(
        "() => (t => t.includes('Encoder self-attention') && t.includes('layer 1, mean over heads'))"
        "(document.querySelector('#attention-plot .gtitle')?.textContent ?? '')")  # the plot may be re-rendering
    assert page.input_value("#attention-layer input") == "layer 1"
    page.screenshot(path=str(tmp_path / "attention.png"), full_page=True)


def test_each_attention_pick_redraws_once(page, app_url):
    """#22: the map kind and the layer and head pickers redraw on .change, so one pick is one redraw (on .input, each
    pick redrew twice: Gradio's dropdown sends input when an option is picked and again when it loses focus), and
    the layer and head choices that ``attention_controls`` sets start no redraw of their own."""
    with urllib.request.urlopen(app_url + "config", timeout=30) as response:
        config = json.load(response)
    ids = {component["props"].get("elem_id"): component["id"] for component in config["components"]}
    draws = {d["id"] for d in config["dependencies"] if ids["attention-caption"] in d["outputs"]}
    controls = {d["id"] for d in config["dependencies"] if ids["attention-layer"] in d["outputs"]}
    [shown] = [d["id"] for d in config["dependencies"] if d.get("api_name") == "attention"]
    assert draws and controls
    events: list[int] = []  # each of the tab's events the page sends to the queue (the page load's may come late)

    def on_request(request) -> None:
        if request.method == "POST" and "/queue/join" in request.url:
            event = json.loads(request.post_data)["fn_index"]
            if event in draws | controls | {shown}:
                events.append(event)

    page.on("request", on_request)

    def settled(title: str, sent: int) -> tuple[int, int]:
        """Waits until the page has sent at least ``sent`` events in all, shows a heatmap titled ``title``, and sends
        nothing more for 2 s; returns how many redraws and controls' updates it sent."""
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while len(events) < sent and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        page.wait_for_function("t => (document.querySelector('#attention-plot .gtitle')?.textContent ?? '')"
                               ".includes(t)", arg=title)
        count = -1
        while count != len(events):
            count = len(events)
            page.wait_for_timeout(2000)
        return sum(e in draws for e in events), sum(e in controls for e in events)

    open_tab(page, "Attention")
    page.wait_for_selector("#attention-kind")
    page.wait_for_timeout(2000)
    assert events == []  # showing the tab draws nothing (a radio's .change fires when it is first shown)
    page.click("#attention-button")
    assert settled("Cross-attention", 3) == (1, 1)  # the maps, their controls, then one drawing
    pick(page, "#attention-layer", "layer 1")
    page.click("#attention-caption")  # the picker loses focus
    assert settled("layer 1, mean over heads", 4) == (2, 1)
    pick(page, "#attention-head", "head 2")
    page.click("#attention-caption")
    assert settled("layer 1, head 2", 5) == (3, 1)
    page.get_by_label("Encoder self-attention").check()
    assert settled("Encoder self-attention", 7) == (4, 2)  # its controls keep layer 1 and head 2: one drawing
    assert page.input_value("#attention-layer input") == "layer 1"
    page.click("#attention-button")  # new maps of the same model: the controls keep the picks, one drawing
    assert settled("Encoder self-attention", 10) == (5, 3)


def test_switching_revision_selects_it_in_every_tab(page, server, hub_adapters, tmp_path):
    page.get_by_text("Adapters and revisions").click()
    # The accordion renders the table when it opens: poll until it exists and is filled.
    page.wait_for_function("document.querySelector('#revisions-table')?.innerText.includes('exp/run-1')")
    # On load the Revision picker already shows the live revision (#14), not an empty box.
    assert page.input_value("#revision-picker input").startswith(f"main · branch · {hub_adapters['main'][:7]}")
    pick(page, "#revision-picker", f"{BRANCH} · branch · {hub_adapters['branch'][:7]}")
    page.wait_for_selector("#revisions-message >> text=Loaded")
    assert hub_adapters["branch"][:7] in page.inner_text("#status")
    page.screenshot(path=str(tmp_path / "revisions.png"), full_page=True)
    page.fill("#translate-input textarea", TEXT)
    page.click("#translate-button")
    output = wait_for_value(page, "#translate-output textarea")
    assert output == server.predict(TEXT, "spa_Latn", "ita_Latn", EXP, api_name="/translate")
    assert output != server.predict(TEXT, "spa_Latn", "ita_Latn", MAIN, api_name="/translate")
    assert hub_adapters["branch"][:7] in page.inner_text("#translate-info")
    open_tab(page, "Compare")
    assert page.input_value("#compare-right input").startswith(f"{BRANCH} · branch")


def open_revisions(page) -> None:
    page.get_by_text("Adapters and revisions").click()
    page.wait_for_function("document.querySelector('#revisions-table')?.innerText.includes('exp/run-1')")


def list_repo(page, repo: str) -> None:
    fill_field(page.locator("#revisions-repo").locator("input, textarea").first, repo)
    page.click("#revisions-list")


def test_clicking_a_row_of_the_revisions_table_loads_it(page, hub_adapters, tmp_path):
    """#14: a row of the table loads its revision exactly as picking it in the Revision dropdown does."""
    open_revisions(page)
    sha = hub_adapters["branch"][:7]
    page.locator("#revisions-table [role=gridcell]", has_text=BRANCH).first.click()
    page.wait_for_selector("#revisions-message >> text=Loaded")
    assert sha in page.inner_text("#revisions-message") and sha in page.inner_text("#status")
    page.wait_for_function("document.querySelector('#revision-picker input')?.value.startsWith('exp/run-1 · branch')")
    assert page.input_value("#translate-model input").startswith(f"{BRANCH} · branch · {sha}")
    page.screenshot(path=str(tmp_path / "row-click.png"), full_page=True)


def test_a_failed_listing_keeps_the_table_and_says_why_in_the_panel(page, tmp_path):
    """#14: it replaced the panel with red "Error" badges and a toast, and left the last listing's message."""
    open_revisions(page)
    list_repo(page, "nobody/nothing")
    page.wait_for_selector("#revisions-message >> text=Could not list the revisions of")
    assert "nobody/nothing" in page.inner_text("#revisions-message")
    assert "exp/run-1" in page.inner_text("#revisions-table")  # the previous listing is still there
    assert page.locator("#revisions-panel").get_by_text("Error", exact=True).count() == 0
    assert page.locator(".toast-body").count() == 0
    page.screenshot(path=str(tmp_path / "list-failed.png"), full_page=True)


def test_a_revision_that_cannot_load_says_so_once(page, hub, adapter_dirs):
    """#14: a failing pick showed its error twice, as toasts (Gradio's dropdown sends `input` on the pick and again
    on blur) that marked every tab's picker "Error": now one message, in the panel."""
    files = {p.name: p.read_bytes() for p in adapter_dirs["a"].iterdir()}
    files["adapter_config.json"] = json.dumps({**json.loads(files["adapter_config.json"]), "peft_type": "IA3"})
    hub.commit_files("tester/ia3-adapter", files, message="an IA3 adapter")
    joined = []  # the events the page sends the server
    page.on("request", lambda r: joined.append(r.post_data or "") if "/queue/join" in r.url else None)
    open_revisions(page)
    list_repo(page, "tester/ia3-adapter")
    page.wait_for_selector("#revisions-message >> text=tester/ia3-adapter")
    pick(page, "#revision-picker", "main · branch")
    page.wait_for_selector("#revisions-message >> text=Could not load")
    assert page.inner_text("#revisions-message").count("only LoRA") == 1
    assert sum("tester/ia3-adapter@main" in body for body in joined) == 1  # one request, one answer
    assert page.locator(".toast-body").count() == 0 and page.get_by_text("Error", exact=True).count() == 0


def test_errors_are_messages_and_html_stays_text(page, server):
    page.click("#translate-button")  # empty text
    page.wait_for_selector("text=Enter some text to translate.")
    html = '<img src=x id=injected onerror="document.title=1"><b>El gato</b>'
    page.fill("#translate-input textarea", html)
    page.click("#translate-button")
    output = wait_for_value(page, "#translate-output textarea")
    assert output == server.predict(html, "spa_Latn", "ita_Latn", MAIN, api_name="/translate")
    assert page.query_selector("#injected") is None


@pytest.mark.parametrize(
    "env, message",
    [
        ({"NLLB_DEVICE": "quantum"}, "NLLB_DEVICE='quantum'"),
        ({"NLLB_BASE_MODEL": "nobody/no-such-model"}, "nobody/no-such-model"),
    ],
)
def test_start_up_failures_exit_1_with_the_message_only(monkeypatch, capsys, env, message):
    """A bad setting or a model that cannot load stops ``python app.py`` with its message, not a traceback."""
    import app

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NLLB_DEVICE", env.get("NLLB_DEVICE", "cpu"))
    assert app.main() == 1
    err = capsys.readouterr().err
    assert "nllb-space cannot start: " in err and message in err and "Traceback" not in err


def test_a_spanish_browser_gets_the_spanish_interface(browser, app_url, tmp_path):
    """The page follows the browser's language (Gradio's i18n): a Spanish browser reads Spanish labels."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="es-ES")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(app_url)
        page.wait_for_selector("#translate-button")
        page.get_by_role("tab", name="Traducir").wait_for()
        for tab in ("Comparar", "Atención", "Qué cambió LoRA"):
            assert page.get_by_role("tab", name=tab).count() == 1, tab
        assert page.inner_text("#translate-button").strip() == "Traducir"
        assert "Fuerza del adaptador" in page.inner_text("#translate-strength")
        assert "Texto" in page.inner_text("#translate-input")
        assert "destilado" in page.inner_text("body")  # the sentence on distillation, in Spanish
        page.wait_for_selector("#status >> text=Adaptador activo")  # the server's messages are in Spanish too
        page.click("#translate-button")  # no text yet: the error toast says so in Spanish
        page.get_by_text("Escribe algún texto para traducir.").first.wait_for()
        page.fill("#translate-input textarea", TEXT)
        page.click("#translate-button")
        page.wait_for_selector("#translate-info >> text=Traducido por")
        page.get_by_role("tab", name="Qué cambió LoRA").click()
        assert page.inner_text("#lora-update-button").strip() == "¿Dónde cambió el modelo?"
        page.click("#lora-update-button")  # the server's explanation follows the browser's language too
        page.wait_for_selector("#lora-update-summary >> text=rango r")
        page.screenshot(path=str(tmp_path / "spanish.png"), full_page=True)
    finally:
        context.close()


VISIBLE_TEXT = """() => {
  const shown = el => el.offsetParent !== null || el.getClientRects().length > 0;
  const literal = document.createElement('style');  // code and the API's JSON read the same in both pages
  literal.textContent = 'code, #compare-scores, #attention-data, #lora-update-data, #lora-token-data '
    + '{ display: none !important; }';
  document.head.appendChild(literal);
  const out = [document.body.innerText];
  literal.remove();
  for (const el of document.querySelectorAll('input, textarea')) {
    if (shown(el) && !['file', 'hidden', 'checkbox', 'radio'].includes(el.type)) out.push(el.value || el.placeholder);
  }
  for (const el of document.querySelectorAll('svg text')) if (shown(el)) out.push(el.textContent);
  return out.join('\\n');
}"""
"""What a visitor can read: the page's text, what its fields show (a dropdown shows its choice's label in an input)
and the figures' text (SVG). Left out: inline code (column names, model ids, commits) and the JSON the API returns,
whose keys are the API's and the same for every visitor."""

ALLOWED_ENGLISH = {
    "LoRA", "NLLB-200", "chrF++", "BLEU", "sacreBLEU", "Hub", "Space", "Hugging Face Hub", "commit", "tokens", "token",
    "UTF-8", "Meta",
}
"""Proper names and terms both pages use as they are (also where an English text is made only of them)."""


def english_fragments() -> dict[str, str]:
    """Every piece of English the page's tables hold that its Spanish text does not share, by the key it comes from:
    each text cut at its placeholders and Markdown marks, pieces of three or more letters, minus ALLOWED_ENGLISH."""
    import re

    from nllb_space.web.i18n import TEXTS
    from nllb_space.web.messages import MESSAGES

    fragments = {}
    for key, (english, spanish) in {**TEXTS, **MESSAGES}.items():
        for piece in re.split(r"\{[^}]*\}|<[^>]*>|[*`#\n⚠️ℹ️▼|]| · ", english):
            piece = " ".join(piece.split()).strip(" .,:;()!?\"'")
            if sum(ch.isalpha() for ch in piece) >= 3 and piece not in spanish and piece not in ALLOWED_ENGLISH:
                fragments[piece] = key
    return fragments


def test_the_spanish_page_has_no_english_from_the_english_table(browser, app_url, tmp_path):
    """#26: the language pickers, the model pickers and the examples' descriptions read English in the Spanish page.
    A Spanish browser finds Spanish names in both language pickers, Spanish model-picker entries and examples, and,
    on every tab after using it, no text of the English table (nor an English language label)."""
    import re

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="es-ES")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(app_url)
        page.wait_for_selector("#status >> text=Adaptador activo")
        page.wait_for_function("document.querySelector('#src-lang input')?.value === 'español (spa_Latn)'")
        assert page.input_value("#tgt-lang input") == "italiano (ita_Latn)"
        page.fill("#tgt-lang input", "alem")
        page.get_by_role("option", name="alemán (deu_Latn)").wait_for()
        assert page.get_by_role("option", name="German (deu_Latn)").count() == 0
        page.get_by_role("option", name="alemán (deu_Latn)").click()
        page.keyboard.press("Tab")
        assert page.input_value("#tgt-lang input") == "alemán (deu_Latn)"
        for typed in ("Italian", "ita_Latn"):  # English names and codes still find their language
            page.fill("#tgt-lang input", typed)
            page.get_by_role("option", name="italiano (ita_Latn)").first.click()
            page.keyboard.press("Tab")
            assert page.input_value("#tgt-lang input") == "italiano (ita_Latn)"
        assert page.input_value("#translate-model input") == "main (configurada)"
        page.click("#translate-model input")
        page.get_by_role("option", name="base: NLLB-200 sin adaptador").wait_for()
        page.keyboard.press("Escape")
        assert "concordancia: cansadas → stanche (femenino plural)" in page.inner_text("body")
        page.fill("#translate-input textarea", TEXT)
        page.click("#translate-button")
        page.wait_for_selector("#translate-info >> text=Traducido por")

        def open_accordions() -> None:
            for closed in page.query_selector_all("button.label-wrap:not(.open)"):
                if closed.is_visible():
                    closed.click()
            page.wait_for_timeout(300)

        seen = []
        open_accordions()
        seen.append(page.evaluate(VISIBLE_TEXT))
        for tab, button, done in (("Comparar", "#compare-button", "#compare-rows table.compare-rows"),
                                  ("Atención", "#attention-button", "#attention-heads .xtick text"),
                                  ("Qué cambió LoRA", "#lora-update-button", "#lora-update-plot .xtick text"),
                                  ("Entrenar", "#train-button", "#train-result >> text=mi adaptador")):
            page.get_by_role("tab", name=tab).click()
            page.click(button)
            page.wait_for_selector(done, timeout=240_000)
            open_accordions()
            seen.append(page.evaluate(VISIBLE_TEXT))
        page.screenshot(path=str(tmp_path / "spanish.png"), full_page=True)
        text = "\n".join(seen)
        found = {f"{key}: {text[max(0, m.start() - 40):m.end() + 40]!r}": piece
                 for piece, key in english_fragments().items()
                 if (m := re.search(rf"(?<!\w){re.escape(piece)}(?!\w)", text))}
        assert not found, f"English in the Spanish page (key: where): {found}"
        assert not re.search(r"\b(Spanish|Italian|English|German) \(\w{3}_\w{4}\)", text)
    finally:
        context.close()


def test_what_lora_changed_tab(page, server, tmp_path):
    open_tab(page, "What LoRA changed")
    page.click("#lora-update-button")
    page.wait_for_selector("#lora-update-plot .xtick text")
    summary = page.inner_text("#lora-update-summary")
    assert "rank r = 4" in summary and "trainable parameters" in summary and "largest update" in summary
    # Every panel's x axis (plotly names them .xtick, .x2tick, ...).
    columns = {t.text_content() for t in page.query_selector_all("#lora-update-plot .xaxislayer-above text")}
    # #26: the feed-forward blocks are drawn too; this adapter leaves them alone, so they read "not adapted".
    assert columns == {"q", "k", "v", "out", "fc1", "fc2"}
    titles = " ".join(t.text_content() for t in page.query_selector_all("#lora-update-plot .annotation-text"))
    assert "Encoder" in titles and "feed-forward" in titles and "Cross-attention" in titles
    page.click("#lora-token-button")
    page.wait_for_selector("#lora-token-plot .xtick text")
    assert "Both models read" in page.inner_text("#lora-token-summary")
    page.screenshot(path=str(tmp_path / "lora.png"), full_page=True)


def test_a_phone_gets_one_column_with_the_button_under_the_input(browser, app_url):
    """At 390 px (a phone) the controls stack: full-width inputs, the Translate button right under the text,
    pickers wide enough to read their labels (#14)."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(app_url)
        page.wait_for_selector("#status >> text=Live adapter")
        text = page.locator("#translate-input textarea").bounding_box()
        button = page.locator("#translate-button").bounding_box()
        picker = page.locator("#translate-model input").bounding_box()
        output = page.locator("#translate-output textarea").bounding_box()
        assert text["width"] > 300 and picker["width"] > 250, (text, picker)
        assert 0 < button["y"] - (text["y"] + text["height"]) < 260, (text, button)  # one picker in between
        assert output["y"] > button["y"]  # the translation comes after the button, not beside the input
    finally:
        context.close()
