"""The service: the engine every tab and the API call, and what keeps a public Space fair and bounded.

It checks each request, picks and fetches the model, shares the model copies fairly between visitors, and hands
plain results (``results.py``) back. It never imports ``web/``: the page is one client of it, the trainer and the
benchmarks are others.
"""
