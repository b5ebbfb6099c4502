"""What every button of the app does: plain values in (strings, numbers, file paths), plain values out.

``web/page.py`` only wires components to these methods; here the engine is called and its results turned into what the
components show. Each handler returns a ``NamedTuple`` named after the components it fills. Nothing here holds
per-user state: the model choice arrives with every call, and what a session remembers (its last translation, its
attention maps, the extra revisions it loaded) travels in ``gr.State``.

Gradio builds the public API from these signatures: the parameter names of ``translate``, ``compare`` and
``attention`` ARE the API's parameter names, so they are part of the contract (see README "API").

The tabs' handlers live in web/translate_handlers.py, web/attention_handlers.py, web/lora_handlers.py and
web/revision_handlers.py; what they share
(error messages, number parsing) in web/handler_inputs.py, and how results read in web/markdown.py.
"""

from __future__ import annotations

from ..service.engine import Engine
from ..visitors import InProgress
from .attention_handlers import AttentionHandlers
from .lora_handlers import LoraHandlers
from .revision_handlers import RevisionHandlers
from .session_views import ViewStore
from .train_handlers import TrainHandlers
from .translate_handlers import TranslateHandlers


class Handlers(TranslateHandlers, AttentionHandlers, LoraHandlers, RevisionHandlers, TrainHandlers):
    """The app's event handlers over one shared ``Engine``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.settings = engine.settings
        self.in_progress = InProgress(engine.settings.visitor_requests)
        """Model requests each visitor has in progress (``model_work``)."""
        self.views = ViewStore(engine.settings.attention_views)
        """The Attention tab's maps, server-side and bounded; a session's ``gr.State`` holds only its key."""
