"""Plotly figures of what LoRA changed: the update map (where) and the token probabilities (why a word changed).

No torch: inputs are the plain results of model/update_map.py and model/token_probs.py. Every token and name a visitor
could have written is HTML-escaped: plotly renders a small HTML subset in labels and hover text.
"""

from __future__ import annotations

import html

from ..model.token_probs import TokenComparison
from ..model.update_map import UpdateMap
from .i18n import block_name
from .messages import say


GREY = "#d1d5db"
"""The update map's "not adapted" cells."""


PLACES = {
    "encoder self-attention": (1, 1), "encoder feed-forward": (1, 3),
    "decoder self-attention": (2, 1), "cross-attention": (2, 2), "decoder feed-forward": (2, 3),
}
"""Where each block of model/update_map.BLOCKS is drawn: the encoder on the top row, the decoder under it, each kind
of block in its own column (self-attention, cross-attention, feed-forward), so the encoder's gap says it has no
cross-attention and the two feed-forward blocks sit one above the other."""
_WIDTHS = (4, 4, 2)
"""Each column's width in cells (q, k, v, out or fc1, fc2), so a cell is the same size in every panel."""


def _wrapped(name: str) -> str:
    """A panel's title on two lines as even as whole words allow: a feed-forward panel is only fc1 and fc2 wide."""
    words = html.escape(name).split()
    if len(words) < 2:
        return " ".join(words)
    cut = min(range(1, len(words)), key=lambda i: max(len(" ".join(words[:i])), len(" ".join(words[i:]))))
    return " ".join(words[:cut]) + "<br>" + " ".join(words[cut:])


def update_map_figure(update: UpdateMap, title: str, language: str = "en"):
    """One heatmap per block (see :data:`PLACES`): layers down, modules across, colour = ‖ΔW‖ / ‖W‖ in percent. A
    module the adapter leaves alone is a grey cell that reads "not adapted", not a 0."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = dict(zip(update.blocks, (block_name(block, language) for block in update.blocks)))
    places = [PLACES[block] for block in update.blocks]
    taken = set(places)
    specs = [[{} if (row, col) in taken else None for col in (1, 2, 3)] for row in (1, 2)]
    # make_subplots reads the titles in the order of the specs' panels: row by row, left to right.
    order = sorted(update.blocks, key=PLACES.get)
    figure = make_subplots(rows=2, cols=3, specs=specs, shared_yaxes=True, horizontal_spacing=0.04,
                           vertical_spacing=0.16, column_widths=list(_WIDTHS),
                           subplot_titles=[_wrapped(names[block]) for block in order])
    values = [value for block in update.relative for row in block for value in row if value is not None]
    top = max(values, default=0.0) * 100 or 1e-6
    layers = [say("layer_n", language, n=i + 1) for i in range(update.layers)]
    not_adapted = say("not_adapted", language)
    for b, (block, rows) in enumerate(zip(update.blocks, update.relative)):
        z = [[None if value is None else value * 100 for value in row] for row in rows]
        text = [[not_adapted if value is None else f"{value * 100:.2f}%" for value in row] for row in rows]
        common = dict(x=list(update.columns[b]), y=layers, text=text, xgap=2, ygap=2,
                      hovertemplate=f"{html.escape(names[block])}<br>%{{y}}, %{{x}}: %{{text}}<extra></extra>")
        row, col = places[b]
        figure.add_trace(go.Heatmap(
            z=z, zmin=0.0, zmax=top, colorscale="Viridis", showscale=b == 0, name=names[block],
            colorbar=dict(title=dict(text="‖ΔW‖/‖W‖"), ticksuffix="%", thickness=12), **common), row=row, col=col)
        # The modules it leaves alone in plain grey, off the colour scale: "not adapted" is not a 0% update. Drawn as
        # cells of their own so that they hover, and a block the adapter does not touch at all still has its columns.
        figure.add_trace(go.Heatmap(
            z=[[1.0 if value is None else None for value in row] for row in rows], colorscale=[[0, GREY], [1, GREY]],
            showscale=False, name=not_adapted, **common), row=row, col=col)
    figure.update_yaxes(autorange="reversed")
    figure.update_annotations(font_size=12)  # the panels' titles: a phone's panels are narrow
    figure.update_layout(
        title=dict(text=html.escape(title), x=0.01, font=dict(size=15)),
        height=int(min(1200, max(520, 2 * 26 * update.layers + 260))), margin=dict(l=10, r=10, t=95, b=10),
        plot_bgcolor="white", paper_bgcolor="white",
    )
    return figure


def token_probs_figure(comparison: TokenComparison, title: str, language: str = "en"):
    """Per target token, the probability each model gives it (teacher-forced on the same target): two bars each,
    the tokens where they disagree most marked."""
    import plotly.graph_objects as go

    labels = [f"{i + 1}. {html.escape(step.token)}" for i, step in enumerate(comparison.steps)]
    marked = set(comparison.most_changed())
    figure = go.Figure()
    for side, colour in (("base", "#9ca3af"), ("lora", "#4f46e5")):
        probabilities = [getattr(step, f"{side}_probability") * 100 for step in comparison.steps]
        alternatives = ["<br>".join(f"{html.escape(alt.token)}: {alt.probability:.1%}"
                                    for alt in getattr(step, f"{side}_top")) for step in comparison.steps]
        figure.add_trace(go.Bar(
            x=labels, y=probabilities, name=html.escape(comparison.labels[0 if side == "base" else 1]),
            marker_color=colour, customdata=alternatives,
            hovertemplate=f"%{{x}}: %{{y:.1f}}%<br><b>{say('top_alternatives', language)}</b><br>%{{customdata}}"
                          "<extra></extra>",
        ))
    for index in marked:
        figure.add_annotation(x=labels[index], y=102, text="▼", showarrow=False, font=dict(color="#dc2626", size=14))
    figure.update_layout(
        title=dict(text=html.escape(title), x=0.01, font=dict(size=15)), barmode="group",
        yaxis=dict(title=say("token_probability", language), range=[0, 108], ticksuffix="%"),
        xaxis=dict(tickangle=-40), height=420, margin=dict(l=10, r=10, t=60, b=10),
        legend=dict(orientation="h", y=1.02, x=1, xanchor="right", yanchor="bottom"),
        plot_bgcolor="white", paper_bgcolor="white",
    )
    return figure
