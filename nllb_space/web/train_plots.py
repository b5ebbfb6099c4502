"""The Train tab's live loss curve: one point per optimizer step, on an axis as long as the whole run, so the
learner sees how far it has come as well as how the loss falls."""

from __future__ import annotations

from typing import Sequence

from ..training.page_runs import StepLogged
from .messages import say


def loss_figure(points: Sequence[StepLogged], steps: int, language: str = "en"):
    """The training loss so far of a run of ``steps`` steps."""
    import plotly.graph_objects as go

    figure = go.Figure(go.Scatter(
        x=[p.step for p in points], y=[p.loss for p in points], mode="lines+markers", line=dict(color="#4f46e5"),
        marker=dict(size=5), hovertemplate=f"{say('loss_step', language)} %{{x}}: %{{y:.3f}}<extra></extra>",
    ))
    figure.update_layout(
        xaxis=dict(title=say("loss_step", language), range=[0, max(steps, 1) + 0.5]),
        yaxis=dict(title=say("loss_axis", language), rangemode="tozero"),
        height=340, margin=dict(l=10, r=10, t=20, b=10), plot_bgcolor="white", paper_bgcolor="white",
    )
    return figure
