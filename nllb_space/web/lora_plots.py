"""Plotly figures of what LoRA changed: the update map (where) and the token probabilities (why a word changed).

No torch: inputs are the plain results of model/update_map.py and model/token_probs.py. Every token and name a visitor
could
have written is HTML-escaped: plotly renders a small HTML subset in labels and hover text.
"""

from __future__ import annotations

import html
import textwrap

from ..model.token_probs import TokenComparison
from ..model.update_map import UpdateMap
from .i18n import block_name
from .messages import say


GREY = "#d1d5db"
"""The update map's "not adapted" cells."""


def _wrapped(name: str) -> str:
    """A panel's title on lines of about two cells' width: a feed-forward panel is only fc1 and fc2 wide."""
    return "<br>".join(textwrap.wrap(html.escape(name), 16, break_on_hyphens=False))


def update_map_figure(update: UpdateMap, title: str, language: str = "en"):
    """One heatmap per block (attention and feed-forward, encoder then decoder): layers down, modules across, colour =
    ‖ΔW‖ / ‖W‖ in percent. A module the adapter leaves alone is a grey gap that reads "not adapted", not a 0."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = [block_name(block, language) for block in update.blocks]
    # Each panel as wide as its columns, so a cell is the same size in every block (4 projections, fc1 and fc2).
    figure = make_subplots(rows=1, cols=len(update.blocks), shared_yaxes=True, horizontal_spacing=0.03,
                           column_widths=[len(columns) for columns in update.columns],
                           subplot_titles=[_wrapped(name) for name in names])
    values = [value for block in update.relative for row in block for value in row if value is not None]
    top = max(values, default=0.0) * 100 or 1e-6
    layers = [say("layer_n", language, n=i + 1) for i in range(update.layers)]
    not_adapted = say("not_adapted", language)
    for column, block in enumerate(update.relative, start=1):
        z = [[None if value is None else value * 100 for value in row] for row in block]
        text = [[not_adapted if value is None else f"{value * 100:.2f}%" for value in row] for row in block]
        common = dict(x=list(update.columns[column - 1]), y=layers, text=text, xgap=2, ygap=2,
                      hovertemplate=f"{html.escape(names[column - 1])}<br>%{{y}}, %{{x}}: %{{text}}<extra></extra>")
        figure.add_trace(go.Heatmap(
            z=z, zmin=0.0, zmax=top, colorscale="Viridis", showscale=column == 1, name=names[column - 1],
            colorbar=dict(title=dict(text="‖ΔW‖/‖W‖"), ticksuffix="%", thickness=12), **common), row=1, col=column)
        # The modules it leaves alone in plain grey, off the colour scale: "not adapted" is not a 0% update. Drawn as
        # cells of their own so that they hover, and a block the adapter does not touch at all still has its columns.
        figure.add_trace(go.Heatmap(
            z=[[1.0 if value is None else None for value in row] for row in block], colorscale=[[0, GREY], [1, GREY]],
            showscale=False, name=not_adapted, **common), row=1, col=column)
    figure.update_yaxes(autorange="reversed")
    figure.update_layout(
        title=dict(text=html.escape(title), x=0.01, font=dict(size=15)),
        height=int(min(760, max(320, 30 * update.layers + 160))), margin=dict(l=10, r=10, t=95, b=10),
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
