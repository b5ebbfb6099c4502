"""Loading the NLLB base model and tokenizer as they are published, never remote code, with errors a user can act on.

``facebook/nllb-200-distilled-600M`` has only ``pytorch_model.bin`` on its ``main`` branch. The base model is the
Space owner's choice (visitors cannot pick it), so its ``.bin`` is loaded the way transformers 5 does by default:
``torch.load(weights_only=True)``, which rebuilds tensors only and refuses pickled code. Safetensors weights are
preferred whenever the chosen revision has them (``NLLB_BASE_REVISION``). Adapters, which visitors choose, stay
safetensors-only (lora_config.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import ModelLoadError, UserFacingError
from ..hub import downloads as hub_downloads
from ..hub import revisions as hub
from ..hub.ids import names_hub_repo
from ..hub.model_choice import local_folder
from ..settings import Settings
from ..text.languages import LANGUAGES
from .hardware import on_zero_gpu
from .update_map import weight_norms

logger = logging.getLogger(__name__)


@dataclass
class LoadedBase:
    """The base model and tokenizer as loaded, and where they run."""

    model: Any
    """``M2M100ForConditionalGeneration`` in eval mode (wrapped in a ``PeftModel`` once an adapter loads)."""
    tokenizer: Any
    """The checkpoint's ``NllbTokenizer``."""
    device: str
    """Torch device string the model lives on, e.g. ``cpu`` or ``cuda:0``."""
    dtype: str
    """Weight dtype name, e.g. ``float32``."""
    weight_norms: Mapping[str, float] = field(default_factory=dict)
    """``‖W‖`` of every module the update map draws (attention projections, fc1, fc2), taken before int8 or the
    device move (model/update_map.py)."""
    parameters: int = 0
    """Parameters of the base model."""


def pick_device(setting: str) -> str:
    """Resolve ``NLLB_DEVICE``: ``auto`` takes CUDA when there is a GPU, else the CPU."""
    import torch

    if setting == "auto":
        # On ZeroGPU CUDA is emulated outside GPU calls; the model goes on "cuda" at start-up all the same.
        return "cuda" if on_zero_gpu() or torch.cuda.is_available() else "cpu"
    if setting.startswith("cuda") and not torch.cuda.is_available():
        raise ModelLoadError(f"NLLB_DEVICE={setting} but no CUDA GPU is visible; use NLLB_DEVICE=cpu or auto.",
                             es=f"NLLB_DEVICE={setting}, pero no se ve ninguna GPU CUDA; usa NLLB_DEVICE=cpu o auto.")
    if setting == "mps" and not torch.backends.mps.is_available():
        raise ModelLoadError("NLLB_DEVICE=mps but MPS is not available here; use NLLB_DEVICE=cpu or auto.",
                             es="NLLB_DEVICE=mps, pero MPS no está disponible aquí; usa NLLB_DEVICE=cpu o auto.")
    return setting


def pick_dtype(setting: str, device: str) -> str:
    """Resolve ``NLLB_DTYPE``: on CUDA ``auto`` takes bfloat16 where supported, else float16; on CPU int8.

    int8 is the CPU default because decoding there is bound by reading weights from memory (model/quantization.py).
    """
    import torch

    if setting == "int8" and device != "cpu":
        raise ModelLoadError(f"NLLB_DTYPE=int8 runs on the CPU only; with NLLB_DEVICE={device} use float16 or auto.",
                             es=f"NLLB_DTYPE=int8 solo funciona en la CPU; con NLLB_DEVICE={device} usa float16 o "
                                "auto.")
    if setting != "auto":
        return setting
    if device.startswith("cuda"):
        # ZeroGPU's GPU (half an RTX Pro 6000 Blackwell) supports bfloat16; asking torch there would query an emulated
        # device.
        return "bfloat16" if on_zero_gpu() or torch.cuda.is_bf16_supported() else "float16"
    return "int8" if device == "cpu" else "float32"


def load_base(settings: Settings) -> LoadedBase:
    """Load the tokenizer and model named by ``NLLB_BASE_MODEL`` (at ``NLLB_BASE_REVISION``) onto the device."""
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    device = pick_device(settings.device)
    dtype = pick_dtype(settings.dtype, device)
    name = settings.base_model
    logger.info("Loading base model %s on %s (%s)", name, device, dtype)
    try:
        folder = base_folder(settings)
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
        model = AutoModelForSeq2SeqLM.from_pretrained(
            folder,
            dtype=torch.float32 if dtype == "int8" else getattr(torch, dtype),
            use_safetensors=weights_format(folder) == "safetensors",
            weights_only=True,  # a .bin is unpickled as tensors only (transformers' default, stated here on purpose)
            trust_remote_code=False,
            # SDPA for generation; the attention view switches to eager for its one forward pass.
            attn_implementation="sdpa",
        )
    except hub.HubError as error:
        raise _load_failure(name, error) from None
    except (OSError, ValueError, EnvironmentError) as error:
        raise _load_failure(name, error) from None
    missing = [code for code in ("spa_Latn", "ita_Latn") if tokenizer.convert_tokens_to_ids(code) == tokenizer.unk_token_id]
    if missing or model.config.model_type != "m2m_100":
        raise ModelLoadError(
            f"NLLB_BASE_MODEL={name} is not an NLLB-200 checkpoint (model type {model.config.model_type!r}, "
            f"language codes missing: {', '.join(missing) or 'none'}).",
            es=f"NLLB_BASE_MODEL={name} no es un checkpoint de NLLB-200 (tipo de modelo {model.config.model_type!r}, "
               f"códigos de idioma que faltan: {', '.join(missing) or 'ninguno'}).",
        )
    unknown = [code for code in LANGUAGES if tokenizer.convert_tokens_to_ids(code) == tokenizer.unk_token_id]
    if unknown:
        logger.warning("The tokenizer lacks %d NLLB language codes: %s", len(unknown), ", ".join(unknown[:10]))
    # Taken here, on the CPU copy: on ZeroGPU the weights are out of reach of the main process once moved.
    norms, parameters = weight_norms(model), sum(p.numel() for p in model.parameters())
    model.to(device).eval()
    model.requires_grad_(False)
    if dtype == "int8":
        from .quantization import quantize_int8

        quantize_int8(model)
    # Every call sets max_new_tokens; the checkpoint's max_length=200 would only trigger a conflict warning.
    model.generation_config.max_length = None
    return LoadedBase(model=model, tokenizer=tokenizer, device=str(device), dtype=dtype, weight_norms=norms,
                      parameters=parameters)


def base_folder(settings: Settings) -> Path:
    """The local folder of the base checkpoint: ``NLLB_BASE_MODEL`` itself, or its Hub download (owner's token)."""
    local = local_folder(settings.base_model)
    if local:
        return local
    return hub_downloads.download_base(settings.base_model, settings.base_revision, token=settings.hf_token)


NLLB_CHECKPOINTS = ("nllb-200-distilled-600M", "nllb-200-distilled-1.3B", "nllb-200-1.3B", "nllb-200-3.3B")
"""Meta's published NLLB-200 checkpoints, all under ``facebook/``."""


def hub_id_of(folder: Path) -> str | None:
    """The Hub id a local checkpoint folder was downloaded from, when the folder tells: a huggingface_hub cache path
    (``models--owner--name/snapshots/<sha>``), a folder named like one of :data:`NLLB_CHECKPOINTS` (what
    ``hf download --local-dir`` is usually given), or a Hub id in its ``config.json``. ``None`` otherwise."""
    import json

    folder = Path(folder).expanduser().resolve()
    for part in reversed(folder.parts):
        if part.startswith("models--") and part.count("--") >= 2:
            return part.removeprefix("models--").replace("--", "/", 1)
    if folder.name in NLLB_CHECKPOINTS:
        return f"facebook/{folder.name}"
    try:
        named = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("_name_or_path") or ""
    except (OSError, ValueError):
        return None
    return named if names_hub_repo(named) else None


def weights_format(folder: Path) -> str:
    """``"safetensors"`` or ``"bin"``: which weights the checkpoint folder holds (safetensors preferred)."""
    names = [path.name for path in Path(folder).iterdir()]
    if any(name.endswith(".safetensors") for name in names):
        return "safetensors"
    if any(name.startswith("pytorch_model") and name.endswith(".bin") for name in names):
        return "bin"
    listing = ", ".join(sorted(names)[:10])
    raise ModelLoadError(
        f"{folder} holds no model weights (model.safetensors or pytorch_model.bin); it has: "
        f"{listing or 'nothing'}. Download the whole checkpoint into it (run it again if a "
        f"download was cut short): hf download facebook/nllb-200-distilled-600M --local-dir {folder}",
        es=f"{folder} no contiene pesos del modelo (model.safetensors o pytorch_model.bin); contiene: "
           f"{listing or 'nada'}. Descarga en esa carpeta el checkpoint completo (vuelve a ejecutar la descarga si "
           f"se cortó): hf download facebook/nllb-200-distilled-600M --local-dir {folder}",
    )


def _load_failure(name: str, error: Exception) -> ModelLoadError:
    """Why the base model did not load and what to do, quoting the first line of ``error``: in Spanish too where
    the error has a Spanish text (a Hub error does; a library's OSError is in English only)."""
    def first_line(text: str) -> str:
        return text.strip().splitlines()[0] if text.strip() else type(error).__name__

    reason = first_line(str(error))
    reason_es = first_line(error.in_language("es")) if isinstance(error, UserFacingError) else reason
    if local_folder(name):
        return ModelLoadError(
            f"Could not load the base model from the folder '{name}': {reason}\n"
            "The folder needs config.json, generation_config.json, the tokenizer files and model.safetensors or "
            "pytorch_model.bin, as this command leaves them (run it again if a download was cut short):\n"
            f"  hf download facebook/nllb-200-distilled-600M --local-dir {name}",
            es=f"No se pudo cargar el modelo base desde la carpeta '{name}': {reason_es}\n"
               "La carpeta necesita config.json, generation_config.json, los archivos del tokenizador y "
               "model.safetensors o pytorch_model.bin, tal como los deja este comando (vuelve a ejecutarlo si una "
               "descarga se cortó):\n"
               f"  hf download facebook/nllb-200-distilled-600M --local-dir {name}",
        )
    return ModelLoadError(
        f"Could not load the base model '{name}': {reason}\n"
        "If this machine has no network access or the id is wrong, download the model where there is network "
        "and point NLLB_BASE_MODEL at the folder:\n"
        "  hf download facebook/nllb-200-distilled-600M --local-dir ./nllb-200-distilled-600M\n"
        "  NLLB_BASE_MODEL=./nllb-200-distilled-600M python app.py",
        es=f"No se pudo cargar el modelo base '{name}': {reason_es}\n"
           "Si esta máquina no tiene acceso a la red o el id es incorrecto, descarga el modelo donde haya red y "
           "apunta NLLB_BASE_MODEL a la carpeta:\n"
           "  hf download facebook/nllb-200-distilled-600M --local-dir ./nllb-200-distilled-600M\n"
           "  NLLB_BASE_MODEL=./nllb-200-distilled-600M python app.py",
    )
