"""Plotly heatmaps of attention maps: one 2-D map, tokens on both axes, the token pair and weight on hover.

No torch: input is an ``AttentionMaps`` (numpy) from the engine. Plotly is imported when a figure is built, not at
import, so importing the UI stays cheap.

Axes use positions, not token strings, as coordinates: a sentence often holds the same token twice ("el ... el"),
and plotly merges equal category labels into one row. The token text goes into the tick labels and the hover.
Plotly renders a small HTML subset in labels and hover text, so every token is HTML-escaped: a visitor typing
``<b>`` sees ``<b>``, never bold text.
"""

from __future__ import annotations

import html
from typing import Sequence

import numpy as np

from .attention import AttentionMaps, Token, reduce

KIND_TITLES = {
    "cross": "Cross-attention",
    "encoder": "Encoder self-attention",
    "decoder": "Decoder self-attention",
}
AXIS_TITLES = {
    # (rows, columns): rows are queries (the position that looks), columns keys (the position looked at).
    "cross": ("target token (decoder input)", "source token"),
    "encoder": ("source token (query)", "source token (key)"),
    "decoder": ("target token (query)", "target token (key)"),
}
SPECIAL_COLOUR = "#9ca3af"
"""Grey for language tags and ``</s>``: visible, but clearly not words of the sentence."""


def token_label(token: Token) -> str:
    """A token as people read it: ``⟨ita_Latn⟩`` for special tokens, ``casa`` for a word start, ``·ta`` for a
    piece that continues the previous word (SentencePiece marks word starts; continuations have no mark)."""
    if token.special:
        return f"⟨{token.text.strip('<>')}⟩"
    if token.text.startswith(" "):
        return token.text.strip() or "␣"
    return f"·{token.text}"


def heatmap(
    weights: np.ndarray,
    rows: Sequence[Token],
    cols: Sequence[Token],
    title: str,
    row_title: str = "",
    col_title: str = "",
    diverging: bool = False,
):
    """A ``plotly.graph_objects.Figure`` of ``weights`` (``(len(rows), len(cols))``).

    ``diverging`` is for differences of two maps: a red-blue scale centred at 0 and symmetric, so "no change" is
    white whatever the range.
    """
    import plotly.graph_objects as go

    weights = np.asarray(weights, dtype=float)
    if weights.shape != (len(rows), len(cols)):
        raise ValueError(f"weights have shape {weights.shape} for {len(rows)} rows and {len(cols)} columns.")
    row_labels = [html.escape(token_label(t)) for t in rows]
    col_labels = [html.escape(token_label(t)) for t in cols]
    hover = [[[r, c] for c in col_labels] for r in row_labels]
    if diverging:
        limit = float(np.abs(weights).max()) or 1e-6
        scale = dict(colorscale="RdBu", reversescale=True, zmid=0.0, zmin=-limit, zmax=limit)
    else:
        scale = dict(colorscale="Blues", zmin=0.0, zmax=max(float(weights.max()), 1e-6))
    figure = go.Figure(
        go.Heatmap(
            z=weights,
            x=list(range(len(cols))),
            y=list(range(len(rows))),
            customdata=hover,
            hovertemplate="%{customdata[0]} → %{customdata[1]}<br>weight %{z:.3f}<extra></extra>",
            colorbar=dict(thickness=12),
            xgap=1,
            ygap=1,
            **scale,
        )
    )
    figure.update_layout(
        title=dict(text=html.escape(title), x=0.01, font=dict(size=15)),
        xaxis=dict(
            tickmode="array", tickvals=list(range(len(cols))), ticktext=_grey_specials(col_labels, cols),
            tickangle=-50, side="bottom", title=col_title, showgrid=False, zeroline=False,
        ),
        yaxis=dict(
            tickmode="array", tickvals=list(range(len(rows))), ticktext=_grey_specials(row_labels, rows),
            autorange="reversed", title=row_title, showgrid=False, zeroline=False,
        ),
        height=int(min(900, max(380, 26 * len(rows) + 180))),
        margin=dict(l=10, r=10, t=50, b=10),
        plot_bgcolor="white",
        paper_bgcolor="white",
    )
    return figure


def attention_figure(maps: AttentionMaps, kind: str = "cross", layer: int | None = None, head: int | None = None,
                     difference_of: str | None = None):
    """The heatmap of one kind of map of ``maps`` for one layer/head, or the mean where ``None``.

    ``difference_of`` names the model subtracted (``maps`` is then ``a.minus(b)``), which turns on the diverging
    scale and says so in the title.
    """
    rows, cols = maps.axes(kind)
    weights = reduce(maps.weights(kind), layer=layer, head=head)
    where = ("mean over layers" if layer is None else f"layer {layer + 1}") + ", " + (
        "mean over heads" if head is None else f"head {head + 1}")
    if difference_of:
        title = f"{KIND_TITLES[kind]}: {maps.model.label} minus {difference_of} ({where})"
    else:
        title = f"{KIND_TITLES[kind]}: {maps.model.label} ({where})"
    row_title, col_title = AXIS_TITLES[kind]
    return heatmap(weights, rows, cols, title, row_title, col_title, diverging=bool(difference_of))


def _grey_specials(labels: list[str], tokens: Sequence[Token]) -> list[str]:
    return [f'<span style="color:{SPECIAL_COLOUR}">{label}</span>' if token.special else label
            for label, token in zip(labels, tokens)]
