"""Plotly figures of attention: one map, every head at a glance, and which source words each target word reads.

No torch: input is an ``AttentionMaps`` (numpy) from the engine. Plotly is imported when a figure is built, not at
import, so importing the UI stays cheap.

Weights are shown in percent (a row sums to 100%), and a difference of two models in percentage points, so the
colour bar never reads "200µ". Rows of the decoder and cross maps are labelled with the token the row *predicts*:
the decoder's input at position *i* is the token before, shifted by one. Cells of decoder self-attention a position
may not look at (the future, hidden by the causal mask) are drawn as masked, not as zero.

Axes use positions, not token strings, as coordinates: a sentence often holds the same token twice ("el ... el"),
and plotly merges equal category labels into one row. Every token is HTML-escaped (plotly renders a small HTML
subset in labels and hover text): a visitor typing ``<b>`` sees ``<b>``, never bold text.
"""

from __future__ import annotations

import html
from typing import Sequence

import numpy as np

from ..model.attention import AttentionMaps, Token, WordAlignment, reduce
from .i18n import block_name
from .messages import say

AXIS_TITLES = {
    # (rows, columns): rows are queries (the position that looks), columns keys (the position looked at).
    "cross": ("axis_predicting", "axis_source_read"),
    "encoder": ("axis_source_query", "axis_source_key"),
    "decoder": ("axis_predicting", "axis_earlier_target"),
}
"""Each kind's axis titles, as keys of ``messages.MESSAGES``."""
SPECIAL_COLOUR = "#9ca3af"
"""Grey for language tags and ``</s>``: visible, but clearly not words of the sentence."""
MASKED_COLOUR = "#d1d5db"
END = Token("</s>", True)


def token_label(token: Token) -> str:
    """A token as people read it: ``⟨ita_Latn⟩`` for special tokens, ``casa`` for a word start, ``·ta`` for a
    piece that continues the previous word (SentencePiece marks word starts; continuations have no mark)."""
    if token.special:
        return f"⟨{token.text.strip('<>')}⟩"
    if token.text.startswith(" "):
        return token.text.strip() or "␣"
    return f"·{token.text}"


def predicted(targets: Sequence[Token]) -> tuple[Token, ...]:
    """What each decoder position predicts: the next input token, and ``</s>`` after the last."""
    return (*targets[1:], END)


def heatmap(weights: np.ndarray, rows: Sequence[str], cols: Sequence[str], title: str, row_title: str = "",
            col_title: str = "", diverging: bool = False, masked: np.ndarray | None = None,
            row_hover: Sequence[str] | None = None):
    """A figure of ``weights`` (fractions; shown in percent) with already-escaped ``rows``/``cols`` tick labels.

    ``diverging`` is for differences of two maps: a red-blue scale centred at 0 in percentage points, so "no
    change" is white whatever the range. ``masked`` marks cells drawn grey as "masked", not as a value.
    """
    import plotly.graph_objects as go

    values = np.asarray(weights, dtype=float) * 100
    if values.shape != (len(rows), len(cols)):
        raise ValueError(f"weights have shape {values.shape} for {len(rows)} rows and {len(cols)} columns.")
    if masked is not None:
        values = np.where(masked, np.nan, values)
    hover = [[[h, c] for c in cols] for h in (row_hover or rows)]
    if diverging:
        limit = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 0.0
        scale = dict(colorscale="RdBu", reversescale=True, zmid=0.0, zmin=-(limit or 1e-6), zmax=limit or 1e-6)
        unit, value = " pp", "change %{z:+.1f} percentage points"
    else:
        scale = dict(colorscale="Blues", zmin=0.0, zmax=max(float(np.nanmax(values)) if np.isfinite(values).any()
                                                           else 0.0, 1e-6))
        unit, value = "%", "weight %{z:.1f}%"
    traces = [go.Heatmap(
        z=values, x=list(range(len(cols))), y=list(range(len(rows))), customdata=hover,
        hovertemplate=f"%{{customdata[0]}} → %{{customdata[1]}}<br>{value}<extra></extra>",
        colorbar=dict(thickness=12, ticksuffix=unit), xgap=1, ygap=1, **scale,
    )]
    if masked is not None and masked.any():
        traces.append(go.Heatmap(
            z=np.where(masked, 1.0, np.nan), x=list(range(len(cols))), y=list(range(len(rows))), showscale=False,
            colorscale=[[0, MASKED_COLOUR], [1, MASKED_COLOUR]], xgap=1, ygap=1, hoverinfo="text",
            text=[["masked: a position never sees the tokens after it"] * len(cols)] * len(rows),
        ))
    figure = go.Figure(traces)
    figure.update_layout(
        title=dict(text=html.escape(title), x=0.01, font=dict(size=15)),
        xaxis=dict(tickmode="array", tickvals=list(range(len(cols))), ticktext=list(cols), tickangle=-50,
                   side="bottom", title=col_title, showgrid=False, zeroline=False),
        yaxis=dict(tickmode="array", tickvals=list(range(len(rows))), ticktext=list(rows), autorange="reversed",
                   title=row_title, showgrid=False, zeroline=False),
        height=int(min(900, max(380, 26 * len(rows) + 180))), margin=dict(l=10, r=10, t=50, b=10),
        plot_bgcolor="white", paper_bgcolor="white",
    )
    return figure


def attention_figure(maps: AttentionMaps, kind: str = "cross", layer: int | None = None, head: int | None = None,
                     difference_of: str | None = None, language: str = "en"):
    """The heatmap of one kind of map of ``maps`` for one layer/head, or the mean where ``None``.

    ``difference_of`` names the model subtracted (``maps`` is then ``a.minus(b)``): the diverging scale in
    percentage points, with the largest change stated in the title. Its words are in ``language``.
    """
    rows, cols = maps.axes(kind)
    weights = reduce(maps.weights(kind), layer=layer, head=head)
    where = (say("mean_layers", language) if layer is None else say("layer_n", language, n=layer + 1)) + ", " + (
        say("mean_heads", language) if head is None else say("head_n", language, n=head + 1))
    col_labels = _labels(cols)
    if kind == "encoder":
        row_labels, row_hover = _labels(rows), None
    else:
        inputs = [html.escape(token_label(t)) for t in rows]
        row_labels = [say("predicting", language, token=label) for label in _labels(predicted(rows))]
        row_hover = [say("input_predicting", language, token=i, next=html.escape(token_label(p)))
                     for i, p in zip(inputs, predicted(rows))]
    masked = np.triu(np.ones(weights.shape, dtype=bool), k=1) if kind == "decoder" else None
    names = dict(kind=block_name(kind, language), model=maps.model.label, where=where)
    if difference_of:
        shown = np.where(masked, 0.0, weights) if masked is not None else weights
        r, c = np.unravel_index(int(np.abs(shown).argmax()), shown.shape)
        title = say("difference_title", language, **names, other=difference_of, change=f"{shown[r, c] * 100:+.1f}",
                    row=token_label(predicted(rows)[r] if kind != "encoder" else rows[r]), col=token_label(cols[c]))
    else:
        title = say("map_title", language, **names)
    row_title, col_title = (say(key, language) for key in AXIS_TITLES[kind])
    return heatmap(weights, row_labels, col_labels, title, row_title, col_title, diverging=bool(difference_of),
                   masked=masked, row_hover=row_hover)


def head_grid_figure(maps: AttentionMaps, kind: str = "cross", language: str = "en"):
    """Every layer's and head's map of one kind as small tiles (layers down, heads across): specialised heads
    (one that reads the previous token, one that reads the aligned word) stand out at a glance."""
    import plotly.graph_objects as go

    weights = maps.weights(kind)
    layers, heads, rows, cols = weights.shape
    tiles = np.full((layers * (rows + 1), heads * (cols + 1)), np.nan)
    for layer in range(layers):
        for head in range(heads):
            r, c = layer * (rows + 1), head * (cols + 1)
            tile = weights[layer, head].astype(float) * 100
            if kind == "decoder":
                tile = np.where(np.triu(np.ones(tile.shape, dtype=bool), k=1), np.nan, tile)
            tiles[r:r + rows, c:c + cols] = tile
    figure = go.Figure(go.Heatmap(
        z=tiles, colorscale="Blues", zmin=0.0, colorbar=dict(thickness=12, ticksuffix="%"),
        hovertemplate=say("weight", language) + " %{z:.1f}%<extra></extra>",
    ))
    figure.update_layout(
        title=dict(text=html.escape(say("grid_title", language, kind=block_name(kind, language))), x=0.01,
                   font=dict(size=15)),
        xaxis=dict(tickmode="array", tickvals=[h * (cols + 1) + cols / 2 for h in range(heads)],
                   ticktext=[say("head_n", language, n=h + 1) for h in range(heads)], showgrid=False, zeroline=False),
        yaxis=dict(tickmode="array", tickvals=[layer * (rows + 1) + rows / 2 for layer in range(layers)],
                   ticktext=[say("layer_n", language, n=layer + 1) for layer in range(layers)], autorange="reversed",
                   showgrid=False, zeroline=False, scaleanchor="x"),
        height=int(min(1100, max(360, 60 * layers + 120))), margin=dict(l=10, r=10, t=50, b=10),
        plot_bgcolor="white", paper_bgcolor="white",
    )
    return figure


def alignment_figure(alignment: WordAlignment, title: str):
    """Source words on top, target words below, a line from each target word to the source words it reads most
    (cross-attention, subword pieces merged into words); a thicker, darker line is more attention."""
    import plotly.graph_objects as go

    source, target = alignment.source_words, alignment.target_words
    width = max(len(source), len(target), 1)

    def spread(count: int) -> list[float]:
        return [(i + 0.5) * width / count for i in range(count)]

    xs, xt = spread(len(source)), spread(len(target))
    figure = go.Figure()
    for t, s, weight in alignment.links():
        figure.add_trace(go.Scatter(
            x=[xt[t], xs[s]], y=[0, 1], mode="lines", hoverinfo="text", showlegend=False,
            text=f"{html.escape(target[t])} → {html.escape(source[s])}: {weight:.0%}",
            line=dict(width=1 + 6 * weight, color=f"rgba(79,70,229,{0.25 + 0.75 * weight:.2f})"),
        ))
    for xs_, words, y in ((xs, source, 1), (xt, target, 0)):
        figure.add_trace(go.Scatter(x=xs_, y=[y] * len(words), mode="text", text=[html.escape(w) for w in words],
                                    textposition="top center" if y else "bottom center", hoverinfo="skip",
                                    textfont=dict(size=14), showlegend=False))
    figure.update_layout(
        title=dict(text=html.escape(title), x=0.01, font=dict(size=15)), height=300,
        xaxis=dict(visible=False, range=[-0.2, width + 0.2]), yaxis=dict(visible=False, range=[-0.5, 1.5]),
        margin=dict(l=10, r=10, t=50, b=10), plot_bgcolor="white", paper_bgcolor="white",
    )
    return figure


def _labels(tokens: Sequence[Token]) -> list[str]:
    """Escaped tick labels, special tokens in grey."""
    return [f'<span style="color:{SPECIAL_COLOUR}">{html.escape(token_label(t))}</span>' if t.special
            else html.escape(token_label(t)) for t in tokens]
