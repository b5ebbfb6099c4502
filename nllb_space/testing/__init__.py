"""What tests, benchmarks and the screenshot script share, and the app itself never imports.

- ``synthetic``: NLLB-shaped models with random weights (tiny for tests, the 600M shape for benchmarks);
- ``pairs``: the Spanish-Italian sentences the tiny model is built and trained on;
- ``hub_emulator``: the loopback Hugging Face Hub the real ``huggingface_hub`` client talks to, made of
  ``hub_repos`` (repos and their history), ``hub_read_routes``, ``hub_write_routes``, ``hub_server`` (HTTP) and
  ``hub_protocol`` (responses and errors);
- ``hub_env``: pointing ``huggingface_hub`` at that emulator before it is imported;
- ``serve``: a loopback launch of the app for browser and client tests.
"""
