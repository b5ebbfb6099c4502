"""What the Attention tab remembers between redraws, kept on the server, bounded, and in half precision.

A session used to keep its maps in ``gr.State``, which Gradio holds for an hour per session: with NLLB-600M's 12+12
layers of 16 heads, one long pair was hundreds of MB per visitor. Now a session keeps a random key; the maps live
here, at most ``capacity`` views for the whole server (oldest dropped first), in float16. Worst case per view on
NLLB-600M at the default limits (200 source and 256 target tokens): the maps and the LoRA − base difference,
2 × 30.6 M weights × 2 bytes ≈ 122 MB; the store as a whole stays under ``capacity`` times that.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace

import numpy as np

from .attention import AttentionMaps


@dataclass(frozen=True)
class AttentionView:
    """The maps of one sentence pair, and their difference from the base model's (``None`` for the base itself)."""

    maps: AttentionMaps
    difference: AttentionMaps | None


def compact(maps: AttentionMaps) -> AttentionMaps:
    """``maps`` in float16: attention weights in [0, 1] (differences in [-1, 1]) lose nothing a heatmap shows."""
    return replace(maps, **{kind: getattr(maps, kind).astype(np.float16) for kind in AttentionMaps.KINDS})


class ViewStore:
    """Attention views by key: ``put`` returns a key for the session, ``get`` gives ``None`` once it was dropped."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._views: OrderedDict[str, AttentionView] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, view: AttentionView) -> str:
        key = secrets.token_hex(16)  # unguessable: one visitor cannot read another's view by its key
        view = AttentionView(compact(view.maps), compact(view.difference) if view.difference is not None else None)
        with self._lock:
            self._views[key] = view
            while len(self._views) > self.capacity:
                self._views.popitem(last=False)
        return key

    def get(self, key: str | None) -> AttentionView | None:
        with self._lock:
            view = self._views.get(key) if isinstance(key, str) else None
            if view is not None:
                self._views.move_to_end(key)
            return view
