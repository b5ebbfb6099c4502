"""Re-take the README screenshots offline: ``python docs/make_screenshot.py`` (about a minute on a CPU).

The real NLLB-200 weights are not reachable where this project is developed, so the screenshots use a stand-in:
a small NLLB-shaped model (same architecture and tokenizer layout, ~1M parameters) trained here to memorise the
50 Spanish-Italian pairs of ``nllb_space/testing/pairs.py``, and a LoRA adapter trained on a few reworded targets,
pushed to the tests' loopback Hub emulator as ``demo/toy-nllb-spa-ita-lora``. The page, the engine and the
adapter-by-revision path are the real ones; only the weights are a toy. Writes ``docs/screenshot.png`` (the Compare
tab, shown in the README), and each view (translate, compare, attention, lora, train) at desktop and phone width as
``docs/<view>-<desktop|phone>.png``, plus the Spanish interface as ``docs/spanish-desktop.png`` and its Train tab
as ``docs/spanish-train-desktop.png``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nllb_space.testing.hub_env import start_session_hub  # noqa: E402  (sets HF_ENDPOINT before huggingface_hub loads)

HUB = start_session_hub()

from nllb_space.testing.pairs import PAIRS  # noqa: E402
from nllb_space.testing.synthetic import SyntheticShape, save_synthetic_nllb  # noqa: E402

BASE_REPO = "demo/toy-nllb-200-spa-ita"
ADAPTER_REPO = "demo/toy-nllb-spa-ita-lora"
SHAPE = SyntheticShape(d_model=128, layers=2, heads=4, ffn_dim=256, vocab_size=None, max_position_embeddings=256)
REWORDED = {  # what the adapter learns differently, so Compare has differences to show
    "Hola, ¿cómo estás?": "Ciao, come va?",
    "Mañana vamos a la playa.": "Domani andiamo in spiaggia.",
    "El gato duerme en el sofá.": "Il gatto dorme sul sofà.",
    "Gracias por tu ayuda.": "Grazie mille per l'aiuto.",
}
TEXT = ("Hola, ¿cómo estás? Me llamo Ana y vivo en Madrid.\n\n"
        "Mañana vamos a la playa. El gato duerme en el sofá.\n\nGracias por tu ayuda.")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def batches(tokenizer, pairs):
    """(input_ids, attention_mask, labels) for all ``pairs``: NLLB's [src_lang] x </s> -> [tgt_lang] y </s>."""
    import torch

    def encode(texts, lang):
        rows = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        rows = [[tokenizer.convert_tokens_to_ids(lang), *row, tokenizer.eos_token_id] for row in rows]
        width = max(map(len, rows))
        return torch.tensor([row + [tokenizer.pad_token_id] * (width - len(row)) for row in rows])

    source, target = encode([s for s, _ in pairs], "spa_Latn"), encode([t for _, t in pairs], "ita_Latn")
    labels = target.masked_fill(target == tokenizer.pad_token_id, -100)
    return source, (source != tokenizer.pad_token_id).long(), labels


def train(model, tokenizer, pairs, steps: int, lr: float) -> float:
    import torch

    source, mask, labels = batches(tokenizer, pairs)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=source, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    return loss.item()


def build_models(work: Path) -> None:
    """Train the toy base and two LoRA adapters, and push them to the emulator."""
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    from nllb_space.hub import revisions as hub
    from nllb_space.lora_config import LoraSettings

    torch.manual_seed(0)
    sentences = [s for pair in PAIRS for s in pair] + list(REWORDED.values())
    base_dir = save_synthetic_nllb(work / "base", sentences, shape=SHAPE)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    # No LayerDrop (M2M100's default is 0.05, NLLB's 0): a step that skips both decoder layers leaves LoRA no gradient.
    no_layerdrop = dict(encoder_layerdrop=0.0, decoder_layerdrop=0.0)
    model = AutoModelForSeq2SeqLM.from_pretrained(base_dir, **no_layerdrop)
    print(f"base: final loss {train(model, tokenizer, PAIRS, steps=300, lr=3e-3):.3f}")
    model.save_pretrained(base_dir)
    hub.push_folder(base_dir, BASE_REPO, commit_message="toy NLLB-shaped model memorising the test pairs")

    reworded = [(s, REWORDED.get(s, t)) for s, t in PAIRS]
    for name, pairs, branch, tag in (("main", reworded, "main", "v1"), ("exp", PAIRS, "exp/r4", None)):
        lora = LoraSettings(r=16, alpha=32, dropout=0.0, targets=(*LoraSettings().targets, "fc1", "fc2"))
        model = AutoModelForSeq2SeqLM.from_pretrained(base_dir, **no_layerdrop)
        peft_model = get_peft_model(model, lora.to_peft_config())
        print(f"adapter {name}: final loss {train(peft_model, tokenizer, pairs, steps=600, lr=3e-3):.3f}")
        peft_model.save_pretrained(work / name)
        hub.push_folder(work / name, ADAPTER_REPO, branch=branch, tag=tag,
                        commit_message=f"LoRA r=16 on {len(pairs)} pairs ({name})")


def serve(port: int) -> subprocess.Popen:
    env = dict(os.environ, NLLB_BASE_MODEL=BASE_REPO, NLLB_DEVICE="cpu", NLLB_DTYPE="float32",
               NLLB_ADAPTER_REPO=ADAPTER_REPO, NLLB_NUM_BEAMS="1", NLLB_MAX_NEW_TOKENS="40", OMP_NUM_THREADS="1",
               GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False")
    server = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env)
    for _ in range(240):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit("app.py exited")
            time.sleep(0.5)
    server.kill()
    raise SystemExit("app.py did not answer")


VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
"""The widths every view is shot at: a laptop, and a phone (the page should read there too)."""


def open_tab(page, name: str) -> None:
    """Click the tab ``name``; on a phone the tabs that do not fit sit in Gradio's overflow menu ("⋯")."""
    tab = page.get_by_role("tab", name=name)
    if not tab.first.is_visible():
        page.locator(".overflow-menu button").first.click()
        tab = page.locator(".overflow-dropdown button", has_text=name)
    tab.first.click()


def shoot_views(page, width: str) -> None:
    """Every tab's view, filled in, at one viewport: docs/<view>-<width>.png."""
    def save(view: str) -> None:
        page.mouse.move(0, 0)  # no hover highlight on a button
        page.wait_for_timeout(400)
        page.screenshot(path=str(ROOT / "docs" / f"{view}-{width}.png"), full_page=True)

    page.fill("#translate-input textarea", TEXT)
    page.click("#translate-button")
    page.wait_for_selector("#translate-info >> text=Translated by")
    save("translate")
    open_tab(page, "Compare")
    page.fill("#compare-input textarea", TEXT)
    page.fill("#compare-reference textarea", "\n\n".join(
        ["Ciao, come stai? Mi chiamo Ana e vivo a Madrid.", "Domani andiamo al mare. Il gatto dorme sul divano.",
         "Grazie per il tuo aiuto."]))
    page.click("#compare-button")
    page.wait_for_selector("#compare-rows table.compare-rows")
    save("compare")
    open_tab(page, "Attention")
    page.fill("#attention-input textarea", "Me llamo Ana y vivo en Madrid.")
    page.click("#attention-button")
    page.wait_for_selector("#attention-difference .xtick text")
    page.wait_for_selector("#attention-heads .xtick text")
    save("attention")
    open_tab(page, "What LoRA changed")
    page.click("#lora-update-button")
    page.wait_for_selector("#lora-update-plot .xtick text")
    page.fill("#lora-token-input textarea", "Gracias por tu ayuda.")
    page.click("#lora-token-button")
    page.wait_for_selector("#lora-token-plot .xtick text")
    save("lora")
    train_one(page, "Train", "my adapter")
    save("train")


def train_one(page, tab: str, done: str) -> None:
    """The Train tab after a run on the register teaching set: the loss curve, the scores and the command."""
    open_tab(page, tab)
    page.click("#train-button")
    page.wait_for_selector(f"#train-result >> text={done}", timeout=300_000)


def shoot(url: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for width, viewport in VIEWPORTS.items():
            page = browser.new_page(viewport=viewport, device_scale_factor=1)
            page.set_default_timeout(60_000)
            page.goto(url)
            page.wait_for_selector("#status >> text=Live adapter")
            shoot_views(page, width)
            if width == "desktop":
                # The README's picture: the Compare tab.
                open_tab(page, "Compare")
                page.mouse.move(0, 0)
                page.screenshot(path=str(ROOT / "docs" / "screenshot.png"), full_page=True)
            page.close()
        spanish = browser.new_page(viewport=VIEWPORTS["desktop"], locale="es-ES")
        spanish.goto(url)
        spanish.wait_for_selector("#status >> text=Adaptador activo")  # the page-load event has relabelled it
        spanish.wait_for_function("document.querySelector('#src-lang input')?.value === 'español (spa_Latn)'")
        spanish.get_by_role("tab", name="Qué cambió LoRA").click()
        spanish.click("#lora-update-button")
        spanish.wait_for_selector("#lora-update-plot .xtick text")
        spanish.mouse.move(0, 0)
        spanish.screenshot(path=str(ROOT / "docs" / "spanish-desktop.png"), full_page=True)
        train_one(spanish, "Entrenar", "mi adaptador")
        spanish.mouse.move(0, 0)
        spanish.screenshot(path=str(ROOT / "docs" / "spanish-train-desktop.png"), full_page=True)
        browser.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="toy-nllb-") as work:
        build_models(Path(work))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        server = serve(port)
        try:
            shoot(f"http://127.0.0.1:{port}/")
        finally:
            server.terminate()
            server.wait(timeout=10)
    print("wrote docs/screenshot.png (Compare), docs/<view>-desktop.png and docs/<view>-phone.png for translate, "
          "compare, attention, lora and train, and docs/spanish-desktop.png and docs/spanish-train-desktop.png")


if __name__ == "__main__":
    main()
