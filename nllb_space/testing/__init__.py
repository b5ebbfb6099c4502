"""What tests, benchmarks and the screenshot script share, and the app itself never imports.

- ``synthetic``: NLLB-shaped models with random weights (tiny for tests, the 600M shape for benchmarks);
- ``pairs``: the Spanish-Italian sentences the tiny model is built and trained on;
- ``hub_emulator``: the loopback Hugging Face Hub the real ``huggingface_hub`` client talks to;
- ``hub_env``: pointing ``huggingface_hub`` at that emulator before it is imported.
"""
