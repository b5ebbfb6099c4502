"""The Translate tab's examples: Spanish sentences where fine-tuning visibly changes something, each with what to look
for in Compare. What to look for is a key of web/messages.py, so each page reads it in its own language: the page is
built with the English labels and its page-load event relabels them for the visitor (web/revision_handlers.py).
"""

from __future__ import annotations

from .messages import say

EXAMPLES: tuple[tuple[str, str], ...] = (
    ("Las niñas están cansadas porque han jugado toda la tarde.", "example_agreement"),
    ("¿Podría usted ayudarme con esta maleta, por favor?", "example_register"),
    ("Ayer compré un coche rojo muy bonito.", "example_word_order"),
    ("No lo sé, pero te lo diré mañana.", "example_clitics"),
    ("Me llamo Ana y vivo en Madrid. Mi hermano estudia medicina.\n\nGracias por tu ayuda.", "example_layout"),
)
"""(Spanish sentence, what to look for: a key of web/messages.py)."""


def example_labels(language: str) -> list[str]:
    """What each example's button reads in ``language``: what to look for, then the sentence's start."""
    return [f"{say(note, language)}: {text.splitlines()[0][:40]}…" for text, note in EXAMPLES]
