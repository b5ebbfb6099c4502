"""The web page and its API: Gradio components, the handlers behind each button, plots, messages in two languages.

The top layer: only ``app.py`` imports it. Handlers turn visitors' values into engine calls and the engine's plain
results into what the components show.
"""
