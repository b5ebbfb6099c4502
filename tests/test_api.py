"""The public API through ``gradio_client``: the tabs' named endpoints returning what the page shows.

The demo is served in-process around the session's engine (the browser test starts ``python app.py`` itself), so
this costs no second model load.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from nllb_space.testing.serve import launch_local
from nllb_space.web.handlers import Handlers
from tests.model_fixtures import ADAPTER_REPO, BRANCH

SENTENCE = "Mañana vamos a la playa."
MAIN = f"{ADAPTER_REPO}@main"


@pytest.fixture(scope="module")
def client(engine):
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from gradio_client import Client

    from nllb_space.web.page import build_demo, launch_options

    demo = build_demo(engine)
    options = launch_options(engine.settings)  # as app.py launches it (MCP server included)
    options.pop("theme"), options.pop("css")
    try:
        yield Client(launch_local(demo, **options), verbose=False)
    finally:
        demo.close()


def test_only_the_tabs_endpoints_are_public_with_their_parameter_names(client):
    endpoints = client.view_api(return_format="dict", print_info=False)
    assert endpoints["unnamed_endpoints"] == {}
    named = {name: [p["parameter_name"] for p in info["parameters"]]
             for name, info in endpoints["named_endpoints"].items()}
    assert named == {
        "/translate": ["text", "src_lang", "tgt_lang", "model", "num_beams", "max_new_tokens", "adapter_scale"],
        "/compare": ["text", "src_lang", "tgt_lang", "left", "right", "reference", "num_beams", "max_new_tokens"],
        "/attention": ["text", "src_lang", "tgt_lang", "model", "translation", "num_beams", "max_new_tokens"],
        "/update_map": ["model"],
        "/token_probabilities": ["text", "src_lang", "tgt_lang", "model", "translation"],
    }


def test_the_teaching_views_return_plain_json(client, engine):
    """/update_map and /token_probabilities give the numbers, not only a figure (issue #13)."""
    _, summary, data = client.predict(MAIN, api_name="/update_map")
    update = engine.update_map(MAIN)
    assert data["relative_update"] == [[list(row) for row in block] for block in update.relative]
    assert data["r"] == update.r and "rank r" in summary
    _, _, tokens = client.predict(SENTENCE, "spa_Latn", "ita_Latn", MAIN, "", api_name="/token_probabilities")
    expected = engine.token_probabilities(SENTENCE, "spa_Latn", "ita_Latn", model=MAIN)
    assert [t["token"] for t in tokens["tokens"]] == [s.token for s in expected.steps]
    assert [t["lora"] for t in tokens["tokens"]] == pytest.approx([s.lora_probability for s in expected.steps])
    # Strength 0 through the API is the base model.
    assert client.predict(SENTENCE, "spa_Latn", "ita_Latn", MAIN, 1, 16, 0.0, api_name="/translate") == \
        engine.translate(SENTENCE, "spa_Latn", "ita_Latn", model="base", num_beams=1, max_new_tokens=16).text


def test_translate(client, engine):
    text = "Hola, ¿cómo estás?\n\nGracias por tu ayuda."
    result = client.predict(text, "spa_Latn", "ita_Latn", MAIN, api_name="/translate")
    assert result == engine.translate(text, "spa_Latn", "ita_Latn", model=MAIN).text
    # Only the text is required: languages, model and decoding default to what the page starts with.
    assert client.predict(text=text, api_name="/translate") == result


def test_a_long_text_streams_its_batches_to_the_caller(client, engine):
    """#14: /translate streams: a caller (and the page) gets the text as each batch finishes, then all of it."""
    text = " ".join(f"El gato número {i} duerme." for i in range(engine.settings.batch_size + 2))
    job = client.submit(text, "spa_Latn", "ita_Latn", "base", 1, 8, api_name="/translate")
    final = job.result()
    outputs = job.outputs()
    assert len(outputs) == 2 and outputs[0].count("…") == 2 and outputs[-1] == final
    assert final == engine.translate(text, "spa_Latn", "ita_Latn", max_new_tokens=8).text


def test_compare(client, engine, hub_adapters):
    left, right, scores = client.predict(SENTENCE, "spa_Latn", "ita_Latn", "base", f"{ADAPTER_REPO}@{BRANCH}",
                                         "Domani andiamo al mare.", api_name="/compare")
    expected = Handlers(engine).compare(SENTENCE, "spa_Latn", "ita_Latn", "base", f"{ADAPTER_REPO}@{BRANCH}",
                                        "Domani andiamo al mare.")
    assert (left, right) == expected[:2]
    # The scores are a dict, not Markdown (#14): numbers a program can use, equal to what the page shows.
    def timeless(data: dict) -> dict:  # the seconds are this run's own
        return {key: timeless(value) if isinstance(value, dict) else value for key, value in data.items()
                if key != "seconds"}

    assert timeless(scores) == timeless(expected.compare_scores) and scores["right"]["commit"] == hub_adapters["branch"]
    assert scores["right_minus_left"]["chrf"] == pytest.approx(scores["right"]["chrf"] - scores["left"]["chrf"],
                                                              abs=0.01)
    assert [row["source"] for row in scores["sentences"]] == [SENTENCE]


def test_the_api_page_documents_what_the_endpoints_take(client):
    """#14: models are strings (any revision works), numbers of beams are ints, examples are a Spanish sentence
    from spa_Latn, descriptions are written for callers (no RST markup), and /compare returns three values."""
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    translate = {p["parameter_name"]: p for p in endpoints["/translate"]["parameters"]}
    assert translate["model"]["python_type"]["type"] == "str"
    assert "owner/name@revision" in translate["model"]["python_type"]["description"]
    assert translate["src_lang"]["python_type"]["type"] == "str"
    assert translate["src_lang"]["example_input"] == "spa_Latn"
    assert translate["num_beams"]["python_type"]["type"] == translate["max_new_tokens"]["python_type"]["type"] == "int"
    assert translate["max_new_tokens"]["example_input"] == translate["max_new_tokens"]["parameter_default"] > 1
    assert translate["text"]["example_input"] != "Hello!!"
    assert len(endpoints["/compare"]["returns"]) == 3 and endpoints["/compare"]["returns"][2]["component"] == "Json"
    for name, info in endpoints.items():
        assert info["description"] and "``" not in info["description"], name


def test_the_endpoints_are_mcp_tools(client):
    """#14: an LLM agent can call translate and compare: Gradio's MCP server lists them with their arguments."""
    import httpx

    schema = httpx.get(client.src.rstrip("/") + "/gradio_api/mcp/schema", timeout=30).json()
    tools = {tool["name"]: tool for tool in schema}
    assert set(tools) == {"translate", "compare", "attention", "update_map", "token_probabilities"}
    properties = tools["translate"]["inputSchema"]["properties"]
    assert list(properties) == ["text", "src_lang", "tgt_lang", "model", "num_beams", "max_new_tokens", "adapter_scale"]
    # Each argument is described for the agent, from the handler's docstring.
    assert "owner/name@revision" in properties["model"]["description"]
    assert "spa_Latn" in properties["src_lang"]["description"]
    assert tools["compare"]["description"].startswith("Translate one text with two models")


def test_attention(client, engine):
    translation, plot, alignment, data = client.predict(SENTENCE, "spa_Latn", "ita_Latn", MAIN, api_name="/attention")
    assert data["target_tokens"] and len(data["cross_attention_mean"]) == len(data["target_tokens"])
    maps = engine.attention(SENTENCE, "spa_Latn", "ita_Latn", model=MAIN)[0]
    assert translation == maps.target_text
    figure = json.loads(plot["plot"])
    ticks = figure["layout"]["xaxis"]["ticktext"]
    assert "⟨spa_Latn⟩" in ticks[0] and "⟨/s⟩" in ticks[-1] and len(ticks) == len(maps.source_tokens)
    z = figure["data"][0]["z"]  # plotly ships numpy arrays base64-encoded, with their shape
    assert z["shape"].replace(" ", "") == f"{len(maps.target_tokens)},{len(maps.source_tokens)}"


def test_errors_reach_the_caller_as_messages(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Enter some text"):
        client.predict("  ", "spa_Latn", "ita_Latn", "base", api_name="/translate")
    with pytest.raises(AppError, match="Unknown language"):
        client.predict(SENTENCE, "xx_Latn", "ita_Latn", "base", api_name="/translate")
    with pytest.raises(AppError, match="no-such-rev"):
        client.predict(SENTENCE, "spa_Latn", "ita_Latn", f"{ADAPTER_REPO}@no-such-rev", api_name="/translate")
    # The server keeps serving after errors.
    assert client.predict(SENTENCE, "spa_Latn", "ita_Latn", "base", api_name="/translate")


def test_concurrent_callers_each_get_their_own_model(client, engine):
    """The model is chosen per call, never stored globally: interleaved base/adapter calls don't mix."""
    from nllb_space.testing.serve import visitor_client

    models = ["base", MAIN, "base", MAIN]
    callers = [visitor_client(client.src, index) for index in range(len(models))]  # four visitors
    with ThreadPoolExecutor(len(models)) as pool:
        results = list(pool.map(
            lambda caller, model: caller.predict(SENTENCE, "spa_Latn", "ita_Latn", model, api_name="/translate"),
            callers, models))
    base = engine.translate(SENTENCE, "spa_Latn", "ita_Latn").text
    adapted = engine.translate(SENTENCE, "spa_Latn", "ita_Latn", model=MAIN).text
    assert results == [base, adapted, base, adapted]


def test_a_slow_adapter_download_does_not_hold_up_a_base_visitor(client, engine, hub, adapter_dirs):
    """Hub look-ups and downloads happen before a request's model call, outside the model's slot."""
    import threading
    import time

    hub.commit_files("stranger/slow-lora", {p.name: p.read_bytes() for p in adapter_dirs["b"].iterdir()})
    hub.fail(r"stranger/slow-lora/resolve/.*/adapter_model\.safetensors", status=0, delay_s=8, method="GET")
    done: dict[str, float] = {}

    def slow():
        client.predict(SENTENCE, "spa_Latn", "ita_Latn", "stranger/slow-lora@main", api_name="/translate")
        done["slow"] = time.monotonic()

    thread = threading.Thread(target=slow)
    thread.start()
    deadline = time.monotonic() + 10
    while not any("slow-lora/resolve" in path for _, path in hub.requests) and time.monotonic() < deadline:
        time.sleep(0.05)  # the slow visitor is now inside its download
    base = client.predict(SENTENCE, "spa_Latn", "ita_Latn", "base", api_name="/translate")
    done["base"] = time.monotonic()
    thread.join(timeout=60)
    assert base == engine.translate(SENTENCE, "spa_Latn", "ita_Latn").text
    assert done["base"] < done["slow"]  # served while the other visitor's download was still running
