"""What the Attention tab remembers between redraws, kept on the server, bounded, and in half precision.

A session used to keep its maps in ``gr.State``, which Gradio holds for an hour per session: with NLLB-600M's 12+12
layers of 16 heads, one long pair was hundreds of MB per visitor. Now a session keeps a random key; the maps live
here, at most ``capacity`` views for the whole server, in float16. Each visitor (``visitors.current``) keeps at most
``PER_VISITOR`` of them, its oldest dropped first, so another visitor's many calls never drop yours; when the store is
full, the visitor holding the most views loses its oldest. Worst case per view on
NLLB-600M at the default limits (200 source and 256 target tokens): the maps and the LoRA − base difference,
2 × 30.6 M weights × 2 bytes ≈ 122 MB; the store as a whole stays under ``capacity`` times that.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, replace

import numpy as np

from .. import visitors
from ..model.attention import AttentionMaps


@dataclass(frozen=True)
class AttentionView:
    """The maps of one sentence pair, and their difference from the base model's (``None`` for the base itself)."""

    maps: AttentionMaps
    difference: AttentionMaps | None


def compact(maps: AttentionMaps) -> AttentionMaps:
    """``maps`` in float16: attention weights in [0, 1] (differences in [-1, 1]) lose nothing a heatmap shows."""
    return replace(maps, **{kind: getattr(maps, kind).astype(np.float16) for kind in AttentionMaps.KINDS})


PER_VISITOR = 2
"""Views one visitor keeps: the one on its page and the one before (another tab, or a redraw in flight)."""


class ViewStore:
    """Attention views by key: ``put`` returns a key for the session, ``get`` gives ``None`` once it was dropped."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._views: OrderedDict[str, tuple[str, AttentionView]] = OrderedDict()  # key -> (visitor, view)
        self._lock = threading.Lock()

    def put(self, view: AttentionView, visitor: str | None = None) -> str:
        visitor = visitors.current.get() if visitor is None else visitor
        key = secrets.token_hex(16)  # unguessable: one visitor cannot read another's view by its key
        view = AttentionView(compact(view.maps), compact(view.difference) if view.difference is not None else None)
        with self._lock:
            self._views[key] = (visitor, view)
            while self._count(visitor) > PER_VISITOR:
                self._drop_oldest_of(visitor)
            while len(self._views) > self.capacity:
                counts = Counter(owner for owner, _ in self._views.values())
                self._drop_oldest_of(max(counts, key=counts.__getitem__))
        return key

    def get(self, key: str | None) -> AttentionView | None:
        with self._lock:
            entry = self._views.get(key) if isinstance(key, str) else None
            if entry is None:
                return None
            self._views.move_to_end(key)
            return entry[1]

    def _count(self, visitor: str) -> int:
        return sum(owner == visitor for owner, _ in self._views.values())

    def _drop_oldest_of(self, visitor: str) -> None:
        del self._views[next(key for key, (owner, _) in self._views.items() if owner == visitor)]
