"""The Hugging Face Hub: repo ids, revisions (branches, tags, commits), downloads with deadlines, model cards.

Below the model and the service: it never imports them. ``model/`` downloads the base through it, ``service/``
resolves and fetches visitors' adapters through it, and the trainer pushes through it.
"""
