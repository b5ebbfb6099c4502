"""What an adapter is called in a process: PEFT's name for a (repo, commit), and a local folder's digest standing in
for a commit, so the same files get the same name in every process (a ZeroGPU worker, the trainer, the main one)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def adapter_name(repo: str, sha: str) -> str:
    """PEFT adapter name for (repo, sha): a valid ``ModuleDict`` key (no dots or slashes), stable across runs."""
    return f"lora_{hashlib.sha1(repo.encode()).hexdigest()[:8]}_{sha[:12]}"


def local_digest(folder: Path) -> str:
    """A content digest standing in for a commit sha, so an edited local adapter is reloaded."""
    digest = hashlib.sha1()
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        path = folder / name
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()
