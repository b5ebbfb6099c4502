"""Issue 25 in the browser: train an adapter from the Train tab on the tiny model, watch the loss fall, then find the
adapter in every model picker, in Compare beside the base model and in the update map. In Spanish too."""

from __future__ import annotations

import pytest

from nllb_space.testing.pairs import PAIRS
from tests.test_app_e2e import (  # noqa: F401,F811 - the browser tests' fixtures: one app.py and browser per module
    TIMEOUT_MS,
    app_url,
    browser,
    fill_field,
    open_tab,
    page,
    server_log_on_failure,
    wait_for_value,
)

WATCH_STATUS = """() => {
    window.statuses = [];
    const status = document.querySelector('#train-status');
    new MutationObserver(() => window.statuses.push(status.innerText)).observe(
        status, {subtree: true, childList: true, characterData: true});
}"""
"""Record every text the Train tab's status line shows, however fast the run goes."""


def train_pasted_pairs(page) -> None:
    open_tab(page, "Train")
    page.locator("#train-source").get_by_text("Paste pairs").click()
    fill_field(page.locator("#train-pasted textarea"), "\n".join(f"{es}\t{it}" for es, it in PAIRS))
    page.evaluate(WATCH_STATUS)
    page.click("#train-button")


def test_train_in_the_browser_then_compare_and_map_the_new_adapter(page, tmp_path):
    train_pasted_pairs(page)
    page.wait_for_selector("#train-result >> text=my adapter", timeout=240_000)
    seen = page.evaluate("window.statuses")
    steps = sorted({text for text in seen if text.startswith("Step ")})
    assert len(steps) >= 2, seen  # the curve and the step counter moved while it trained
    points = page.evaluate("document.querySelector('#train-plot .js-plotly-plot').data[0].x.length")
    assert points >= 2
    assert "python train/run.py" in page.inner_text("#train-result")
    page.screenshot(path=str(tmp_path / "train.png"), full_page=True)

    open_tab(page, "Compare")  # the run picked base against the new adapter
    assert page.input_value("#compare-left input") == "base: NLLB-200 without adapter"
    assert page.input_value("#compare-right input").startswith("my adapter (")
    page.fill("#compare-input textarea", PAIRS[0][0])
    page.click("#compare-button")
    assert wait_for_value(page, "#compare-right-output textarea")

    open_tab(page, "What LoRA changed")
    assert page.input_value("#lora-model input").startswith("my adapter (")
    page.click("#lora-update-button")
    page.wait_for_selector("#lora-update-summary >> text=rank r")
    page.wait_for_selector("#lora-update-plot .js-plotly-plot")

    open_tab(page, "Translate")  # offered in the other pickers too
    page.click("#translate-model input")
    assert page.get_by_role("option", name="my adapter (").count() >= 1
    page.reload()  # and still there after a reload: the visitor's work is kept for an hour
    page.wait_for_selector("#translate-button")
    assert offered(page, "#translate-model").count("my adapter (") == 1


def offered(page, picker: str) -> str:
    """The options a model picker offers now, one per line (they are in the page only while its list is open)."""
    page.wait_for_function("document.querySelector('#status') && !document.querySelector('.pending')")
    page.click(f"{picker} input")
    options = page.get_by_role("option").all_inner_texts()
    page.keyboard.press("Escape")
    return "\n".join(options)


def test_stop_ends_the_run_and_keeps_nothing(page):
    before = offered(page, "#translate-model")  # what this visitor trained earlier is kept (the test above)
    page.get_by_role("tab", name="Train").click()
    page.get_by_text("LoRA settings").click()
    steps = page.locator("#train-steps input[type=number]")
    fill_field(steps, "3000")  # ~2.5 minutes of the tiny model: the Stop below lands while it trains
    steps.press("Tab")
    train_pasted_pairs(page)
    page.wait_for_function("window.statuses.some(s => s.startsWith('Step '))", timeout=240_000)
    page.click("#train-stop")
    page.wait_for_selector("#train-status >> text=Stopped: nothing was kept.")
    assert "my adapter" not in page.inner_text("#train-result")
    # A run that went on would show its next steps: the curve stops growing once the run has stopped.
    page.wait_for_timeout(3_000)
    points = page.evaluate("document.querySelector('#train-plot .js-plotly-plot').data[0].x.length")
    page.wait_for_timeout(5_000)
    assert page.evaluate("document.querySelector('#train-plot .js-plotly-plot').data[0].x.length") == points
    page.reload()
    page.wait_for_selector("#translate-button")
    assert offered(page, "#translate-model") == before


@pytest.mark.parametrize("locale", ["es-ES"])
def test_the_train_tab_reads_spanish_in_a_spanish_browser(browser, app_url, locale):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(app_url)
        page.get_by_role("tab", name="Entrenar").click()
        assert page.inner_text("#train-button").strip() == "Entrenar"
        assert page.inner_text("#train-stop").strip() == "Detener"
        assert "Pares de entrenamiento" in page.inner_text("#train-source")
        assert "Qué buscar" in page.inner_text("#train-look-for")
        assert page.input_value("#train-set input") == "Registro: tú → Lei"
    finally:
        context.close()
