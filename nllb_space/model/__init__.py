"""The model: NLLB loaded once, LoRA adapters attached by value, decoding, int8, and looks inside it.

Everything here may run in a ZeroGPU worker (a forked process, reused between calls), so nothing keeps per-call
state in the process. It imports ``hub/`` and ``text/``, never ``service/`` or ``web/``.
"""
