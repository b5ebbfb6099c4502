"""Text without a model: sentence splitting, language codes and their names, and translation scores.

The lowest layer: it imports nothing else of the app, so the trainer and every layer above can use it.
"""
