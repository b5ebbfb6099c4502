"""Plotly figures of what LoRA changed: the update map (where) and the token probabilities (why a word changed).

No torch: inputs are the plain results of model/update_map.py and model/token_probs.py. Every token and name a visitor
could
have written is HTML-escaped: plotly renders a small HTML subset in labels and hover text.
"""

from __future__ import annotations

import html

from ..model.token_probs import TokenComparison
from ..model.update_map import UpdateMap
from .i18n import block_name
from .messages import say


def update_map_figure(update: UpdateMap, title: str, language: str = "en"):
    """One heatmap per attention block: layers down, projections across, colour = ‖ΔW‖ / ‖W‖ in percent."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = [block_name(block, language) for block in update.blocks]
    figure = make_subplots(rows=1, cols=len(update.blocks), shared_yaxes=True, horizontal_spacing=0.04,
                           subplot_titles=[html.escape(name) for name in names])
    values = [value for block in update.relative for row in block for value in row if value is not None]
    top = max(values, default=0.0) * 100 or 1e-6
    layers = [say("layer_n", language, n=i + 1) for i in range(update.layers)]
    not_adapted = say("not_adapted", language)
    for column, block in enumerate(update.relative, start=1):
        z = [[None if value is None else value * 100 for value in row] for row in block]
        text = [[not_adapted if value is None else f"{value * 100:.2f}%" for value in row] for row in block]
        figure.add_trace(go.Heatmap(
            z=z, x=list(update.projections), y=layers, text=text, zmin=0.0, zmax=top, colorscale="Viridis",
            showscale=column == len(update.blocks), xgap=2, ygap=2,
            colorbar=dict(title=dict(text="‖ΔW‖/‖W‖"), ticksuffix="%", thickness=12),
            hovertemplate=f"{html.escape(names[column - 1])}<br>%{{y}}, %{{x}}: %{{text}}<extra></extra>",
        ), row=1, col=column)
    figure.update_yaxes(autorange="reversed")
    figure.update_layout(
        title=dict(text=html.escape(title), x=0.01, font=dict(size=15)),
        height=int(min(760, max(320, 30 * update.layers + 160))), margin=dict(l=10, r=10, t=70, b=10),
        plot_bgcolor="#e5e7eb", paper_bgcolor="white",
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
