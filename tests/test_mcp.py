"""The MCP server as an agent drives it: the real ``mcp`` SDK over Streamable HTTP against the app on loopback.

Every tool is called, with and without a progress token (Gradio answers the two on different paths), and each answer
is checked against the same call made through ``gradio_client``; wrong calls get their message. Gradio's MCP server
answers a tool with one text per output when the client sent a progress token, and with a single text (the outputs'
Python ``repr``, a tuple when there are several) when it did not; :func:`values` reads both.

The demo is served in-process around the session's engine, as in ``test_api.py``.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re

import pytest

from nllb_space.testing.serve import launch_local
from tests.model_fixtures import ADAPTER_REPO, BRANCH

SENTENCE = "Mañana vamos a la playa."
MAIN = f"{ADAPTER_REPO}@main"
TOOLS = {"translate", "compare", "attention", "update_map", "token_probabilities"}


@pytest.fixture(scope="module")
def app(engine):
    """The app as ``app.py`` launches it (MCP server included): its demo, URL and a ``gradio_client`` of it."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from gradio_client import Client

    from nllb_space.web.page import build_demo, launch_options

    demo = build_demo(engine)
    options = launch_options(engine.settings)
    options.pop("theme"), options.pop("css")
    try:
        url = launch_local(demo, **options)
        yield demo, url, Client(url, verbose=False)
    finally:
        demo.close()


def call_tools(url: str, calls: list[tuple[str, dict]], progress: bool = False) -> tuple[list, list]:
    """One MCP session over Streamable HTTP: the tools it lists, and the result of each ``(tool, arguments)`` call
    (with a progress callback, which makes the SDK send a progress token, when ``progress``)."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    updates: list = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        updates.append(message)

    async def session() -> tuple[list, list]:
        async with streamable_http_client(url.rstrip("/") + "/gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as mcp:
                await mcp.initialize()
                tools = (await mcp.list_tools()).tools
                results = [await mcp.call_tool(name, arguments, progress_callback=on_progress if progress else None)
                           for name, arguments in calls]
                return tools, results

    tools, results = asyncio.run(asyncio.wait_for(session(), timeout=300))
    if progress:
        assert updates, "the server sent no progress notification"
    return tools, results


def values(result, expected: tuple | str) -> list:
    """A successful tool result as the values ``gradio_client`` gave (``expected``: its answer, for the shape)."""
    assert not result.isError, result.content
    texts = [content.text for content in result.content]
    if isinstance(expected, str):  # one output: its text
        assert len(texts) == 1
        return [texts[0]]
    if len(texts) == 1:  # no progress token: the outputs' repr, as one text
        return list(ast.literal_eval(texts[0]))
    assert len(texts) == len(expected)
    return [text if isinstance(value, str) else ast.literal_eval(text) for text, value in zip(texts, expected)]


def timeless(data):
    """Compare's scores without their timings (each run's own)."""
    if isinstance(data, dict):
        return {key: timeless(value) for key, value in data.items() if key != "seconds"}
    if isinstance(data, list):
        return [timeless(value) for value in data]
    return data


CALLS = [
    ("translate", dict(text=SENTENCE, src_lang="spa_Latn", tgt_lang="ita_Latn", model=MAIN),
     (SENTENCE, "spa_Latn", "ita_Latn", MAIN)),
    ("compare", dict(text=SENTENCE, src_lang="spa_Latn", tgt_lang="ita_Latn", left="base",
                     right=f"{ADAPTER_REPO}@{BRANCH}", reference="Domani andiamo al mare."),
     (SENTENCE, "spa_Latn", "ita_Latn", "base", f"{ADAPTER_REPO}@{BRANCH}", "Domani andiamo al mare.")),
    ("attention", dict(text=SENTENCE, src_lang="spa_Latn", tgt_lang="ita_Latn", model=MAIN),
     (SENTENCE, "spa_Latn", "ita_Latn", MAIN)),
    ("update_map", dict(model=MAIN), (MAIN,)),
    ("token_probabilities", dict(text=SENTENCE, src_lang="spa_Latn", tgt_lang="ita_Latn", model=MAIN, translation=""),
     (SENTENCE, "spa_Latn", "ita_Latn", MAIN, "")),
]
"""Each tool's call: its MCP arguments, and the same call's positional arguments for ``gradio_client``."""


@pytest.mark.parametrize("progress", [False, True], ids=["plain", "progress-token"])
def test_every_tool_answers_what_the_api_answers(app, progress):
    _, url, client = app
    tools, results = call_tools(url, [(name, arguments) for name, arguments, _ in CALLS], progress=progress)
    assert {tool.name for tool in tools} == TOOLS
    for (name, _, args), result in zip(CALLS, results):
        expected = client.predict(*args, api_name=f"/{name}")
        got = values(result, expected)
        if name == "translate":
            assert got == [expected] and expected
        elif name == "compare":
            assert got[:2] == list(expected[:2]) and all(got[:2])
            assert timeless(got[2]) == timeless(expected[2])
            assert got[2]["right"]["chrf"] is not None and got[2]["right"]["commit"]
        else:  # attention (translation, heatmap, alignment, numbers), update_map and token_probabilities (figure,
            # summary, numbers): the same figures, texts and numbers
            assert len(got) == len(expected) == {"attention": 4}.get(name, 3), name
            assert got == list(expected), name


def test_a_streamed_translation_ends_with_the_whole_text(app, engine):
    """/translate streams batch by batch; an MCP caller gets the whole translation, with or without progress."""
    _, url, client = app
    text = " ".join(f"El gato número {i} duerme." for i in range(engine.settings.batch_size + 2))
    arguments = dict(text=text, src_lang="spa_Latn", tgt_lang="ita_Latn", model="base", num_beams=1, max_new_tokens=8)
    expected = client.predict(text, "spa_Latn", "ita_Latn", "base", 1, 8, api_name="/translate")
    for progress in (False, True):
        _, [result] = call_tools(url, [("translate", arguments)], progress=progress)
        assert values(result, expected) == [expected] and "…" not in expected


WRONG = [
    ("translate", dict(text="   ", src_lang="spa_Latn", tgt_lang="ita_Latn", model="base"),
     ("   ", "spa_Latn", "ita_Latn", "base"), "Enter some text"),
    ("compare", dict(text=SENTENCE, src_lang="xx_Latn", tgt_lang="ita_Latn", left="base", right=MAIN),
     (SENTENCE, "xx_Latn", "ita_Latn", "base", MAIN), "Unknown language"),
    ("attention", dict(text="", src_lang="spa_Latn", tgt_lang="ita_Latn", model=MAIN),
     ("", "spa_Latn", "ita_Latn", MAIN), "Enter a sentence"),
    ("update_map", dict(model=f"{ADAPTER_REPO}@no-such-rev"), (f"{ADAPTER_REPO}@no-such-rev",), "no-such-rev"),
    ("token_probabilities", dict(text=SENTENCE, src_lang="spa_Latn", tgt_lang="qq_Zzzz", model=MAIN),
     (SENTENCE, "spa_Latn", "qq_Zzzz", MAIN), "Unknown language"),
]
"""Wrong calls: MCP arguments, the same for ``gradio_client``, and what the message must say."""


@pytest.mark.parametrize("progress", [False, True], ids=["plain", "progress-token"])
def test_a_wrong_call_gets_its_message_and_the_server_keeps_serving(app, progress):
    from gradio_client.exceptions import AppError

    _, url, client = app
    calls = [(name, arguments) for name, arguments, _, _ in WRONG] + [CALLS[0][:2]]
    _, results = call_tools(url, calls, progress=progress)
    for (name, _, args, says), result in zip(WRONG, results):
        with pytest.raises(AppError, match=re.escape(says)) as raised:
            client.predict(*args, api_name=f"/{name}")
        text = " ".join(content.text for content in result.content)
        assert result.isError, (name, text)
        assert says in text and str(raised.value) in text, (name, text)  # the same message gradio_client reads
        assert "pop index" not in text and "Traceback" not in text, (name, text)
    assert values(results[-1], "") == [client.predict(*CALLS[0][2], api_name="/translate")]


def test_the_endpoints_return_no_session_state(app):
    """What MCP exposes has no gr.State output (Gradio's MCP server mishandles those); the page's session state is
    set by private events chained after the endpoints."""
    import gradio as gr

    demo, _, _ = app
    public = [fn for fn in demo.fns.values() if fn.api_name and fn.api_visibility == "public"]
    assert {fn.api_name for fn in public} == TOOLS
    for fn in public:
        assert not any(isinstance(block, gr.State) for block in fn.outputs), fn.api_name
    # What the page's session keeps of an answer is set by a private event chained right after the endpoint.
    for name in ("translate", "compare", "attention"):
        [endpoint] = [fn for fn in public if fn.api_name == name]
        keep = [fn for fn in demo.fns.values() if fn.trigger_after == endpoint._id and fn.trigger_only_on_success]
        assert len(keep) == 1 and keep[0].api_visibility == "private", name
        assert keep[0].outputs and all(isinstance(block, gr.State) for block in keep[0].outputs), name


def test_the_api_description_has_plain_labels(app):
    """The API page, /gradio_api/info, gradio_client and MCP name parameters by their English labels, not as i18n
    metadata (``__i18n__{...}``); the page itself still gets translation keys."""
    import httpx

    demo, url, client = app
    info = httpx.get(url + "gradio_api/info", timeout=30).json()
    page = httpx.get(url, timeout=30).text
    embedded = page[page.index("gradio_api_info ="):]  # the description the API page is drawn from
    embedded = embedded[:embedded.index("</script>")]
    assert "/translate" in embedded and '"label":"Text"' in embedded.replace(" ", "")
    schema = httpx.get(url + "gradio_api/mcp/schema", timeout=30).text
    described = json.dumps(client.view_api(return_format="dict", print_info=False))
    for text in (json.dumps(info), embedded, schema, described):
        assert "__i18n__" not in text and "translation_metadata" not in text
    translate = info["named_endpoints"]["/translate"]
    assert [p["label"] for p in translate["parameters"]] == [
        "Text", "From", "To", "Model", "Beam size", "Max new tokens per sentence", "Adapter strength"]
    assert [r["label"] for r in translate["returns"]] == ["Translation"]
    assert [r["label"] for r in info["named_endpoints"]["/compare"]["returns"]][:2] == ["Left", "Right"]
    assert "__i18n__" in page  # the page's own labels are still translated in the browser
