"""Training LoRA adapters: the one core that ``python train/run.py`` and the Train tab share.

Pairs checked and cleaned, the LoRA configuration built, ``Seq2SeqTrainer`` set up, base and adapter scored before
and after through the app's own translation path, the model card written and pushed. It imports ``model/``,
``hub/`` and ``text/``; ``service/`` runs it for the page, ``train/`` for the command line.
"""
