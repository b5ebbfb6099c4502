"""What a LoRA adapter from the Hub may be: read its config and tensors, refuse what would hurt the shared base,
and say what it really adapts.

Visitors pick adapters made by anyone with plain PEFT, and PEFT loads, without complaint, configs that would change
the one base model every visitor shares (``bias="lora_only"`` overwrites base biases, ``init_lora_weights="pissa"``
rewrites base weights, ``modules_to_save`` ships whole matrices) or that it cannot run in a mixed batch (DoRA).
Those are refused here, before anything touches the model. What is accepted is never handed to PEFT as written:
the tensors decide which layers the adapter adapts, and the model call attaches it with a config built from them
(:class:`AdapterPlan`). So the seeds' recipe (``o_proj``, which NLLB lacks) loads and adapts q/k/v, as it was
trained; and a regular-expression ``target_modules`` is never run (PEFT would run it on every module name, and a
pathological one hangs the process).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import AdapterError
from ..hub.ids import names_hub_repo
from ..lora_config import LinearShapes

logger = logging.getLogger(__name__)

# PEFT saves LoRA weights as "<module path>.lora_A.weight" / ".lora_B.weight" under this prefix.
LORA_KEY = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<part>[AB])(?:\.[^.]+)?\.weight$")
ADAPTABLE = re.compile(r"^model\.(encoder|decoder)\.layers\.\d+\.")
"""Where an adapter may add LoRA: inside the encoder's and decoder's layers. The output layer (``lm_head``) is
shared by every row of a batch, and Attention and the vocabulary cut swap it out, so a LoRA there cannot be served."""
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")
"""safetensors dtypes a LoRA weight may have; integers or booleans would be cast into nonsense."""
MAX_LORA_ALPHA = 4096.0
"""The largest ``lora_alpha`` served: 16 times the largest rank PEFT recipes use. Beyond it the update swamps the
weight it adds to, and the output is noise."""
MAX_TARGET_NAMES = 200
"""Longer ``target_modules`` lists are not matched name by name (the tensors decide the fit anyway)."""
_PLAIN_INITS = (True, False, None, "gaussian")
"""``init_lora_weights`` values whose saved tensors are the whole adapter (the others rewrite the base on load)."""
_REFUSED = {  # config key -> (English, Spanish) reason
    "use_dora": (
        "DoRA adapters (use_dora) are not served here: DoRA cannot share a batch with the base model, which "
        "Compare and Attention need. Train a plain LoRA adapter instead.",
        "Aquí no se sirven adaptadores DoRA (use_dora): DoRA no puede compartir un lote con el modelo base, y "
        "Comparar y Atención lo necesitan. Entrena en su lugar un adaptador LoRA simple.",
    ),
    "modules_to_save": (
        "This adapter ships whole copies of layers (modules_to_save); loading them would replace part "
        "of the base model every visitor shares. Save it without modules_to_save.",
        "Este adaptador trae copias completas de capas (modules_to_save); cargarlas reemplazaría parte del modelo "
        "base que comparten todos los visitantes. Guárdalo sin modules_to_save.",
    ),
    "rank_pattern": (
        "Per-layer ranks (rank_pattern) are not served here; save an adapter with one rank.",
        "Aquí no se sirven rangos por capa (rank_pattern); guarda un adaptador con un solo rango.",
    ),
    "alpha_pattern": (
        "Per-layer alphas (alpha_pattern) are not served here; save an adapter with one lora_alpha.",
        "Aquí no se sirven alphas por capa (alpha_pattern); guarda un adaptador con un solo lora_alpha.",
    ),
    "layer_replication": (
        "This adapter duplicates base layers (layer_replication), which changes the shared base.",
        "Este adaptador duplica capas del modelo base (layer_replication), lo que cambia el modelo base compartido.",
    ),
    "target_parameters": (
        "This adapter targets parameters directly (target_parameters); only layers are served.",
        "Este adaptador apunta directamente a parámetros (target_parameters); solo se sirven capas.",
    ),
}


@dataclass(frozen=True)
class AdapterPlan:
    """How a model call attaches an accepted adapter, and what the page says about it (plain, picklable)."""

    r: int
    alpha: float
    use_rslora: bool
    modules: tuple[str, ...]
    """Full paths of the linear layers the tensors adapt (``model.encoder.layers.0.self_attn.q_proj``...)."""
    parameters: int
    """Trainable parameters: every number in the adapter's tensors."""
    base_model: str | None
    """The base the adapter says it was trained on (``base_model_name_or_path``)."""
    warnings: tuple[str, ...] = ()
    """What the visitor should know, e.g. ``o_proj`` matching nothing in NLLB."""
    warnings_es: tuple[str, ...] = ()
    """The same notes in Spanish, one for each of ``warnings``."""

    @property
    def projections(self) -> tuple[str, ...]:
        """The kinds of layer adapted (last path part), in NLLB's order."""
        order = ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2")
        names = {path.rsplit(".", 1)[-1] for path in self.modules}
        return tuple(sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n)))


@dataclass(frozen=True)
class AdapterFiles:
    """One checked adapter revision as a model call carries it: its PEFT name (repo and commit), its folder on local
    disk, and the plan it is attached by."""

    name: str
    folder: str
    plan: AdapterPlan


def inspect_adapter(folder: Path, shapes: LinearShapes, base_model_id: str, max_rank: int | None = None) -> AdapterPlan:
    """Check the LoRA adapter in ``folder`` against the base's linear layers; its :class:`AdapterPlan` if it fits.

    Refuses (``AdapterError``, saying why): no ``adapter_config.json``; a non-LoRA method; only pickle weights; a
    different base model; any setting that would change the shared base or that a mixed batch cannot run; a rank
    over ``max_rank`` (``NLLB_MAX_ADAPTER_RANK``) or an alpha that is not a sane number; tensors that are not float
    LoRA weights, that hold NaN or infinity, that come without their other half, for layers the model lacks or
    outside its layers (``lm_head``), of the wrong shape, or of another rank than the config's.
    """
    folder = Path(folder)
    config = _read_config(folder)
    _check_base_model(config.get("base_model_name_or_path"), base_model_id)
    for key, (message, es) in _REFUSED.items():
        if config.get(key):
            raise AdapterError(message, es=es)
    bias = config.get("bias") or "none"
    if bias != "none":
        raise AdapterError(
            f"This adapter trains biases (bias={bias!r}); loading it would overwrite the base model's biases for "
            "every visitor. Only bias='none' adapters are served.",
            es=f"Este adaptador entrena sesgos (bias={bias!r}); cargarlo sobrescribiría los sesgos del modelo base "
               "para todos los visitantes. Solo se sirven adaptadores con bias='none'.",
        )
    init = config.get("init_lora_weights", True)
    if init not in _PLAIN_INITS:
        raise AdapterError(
            f"This adapter was initialised with init_lora_weights={init!r}, which rewrites "
            "the base model's weights when loaded; that base is shared by every visitor. Only adapters initialised "
            "the default way (True, False or 'gaussian') are served.",
            es=f"Este adaptador se inicializó con init_lora_weights={init!r}, que reescribe los pesos del modelo base "
               "al cargarse; ese modelo base lo comparten todos los visitantes. Solo se sirven adaptadores "
               "inicializados de la forma predeterminada (True, False o 'gaussian').",
        )
    r, alpha = config.get("r"), config.get("lora_alpha", 8)
    if (not isinstance(r, int) or isinstance(r, bool) or r < 1 or not isinstance(alpha, (int, float))
            or isinstance(alpha, bool) or not 0 < alpha <= MAX_LORA_ALPHA):  # NaN fails the comparison too
        raise AdapterError(
            f"adapter_config.json has r={r!r} and lora_alpha={alpha!r}; r must be a positive whole number and "
            f"lora_alpha a number above 0 and at most {MAX_LORA_ALPHA:g}.",
            es=f"adapter_config.json tiene r={r!r} y lora_alpha={alpha!r}; r debe ser un número entero positivo y "
               f"lora_alpha un número mayor que 0 y como mucho {MAX_LORA_ALPHA:g}.")
    if max_rank is not None and r > max_rank:
        raise AdapterError(
            f"This adapter has rank r={r}; this Space serves ranks up to {max_rank} (NLLB_MAX_ADAPTER_RANK), "
            "because its cost grows with the rank. LoRA recipes use 8 to 64; train with a smaller r.",
            es=f"Este adaptador tiene rango r={r}; este Space sirve rangos de hasta {max_rank} "
               "(NLLB_MAX_ADAPTER_RANK), porque su coste crece con el rango. Las recetas de LoRA usan de 8 a 64; "
               "entrena con un r menor.")
    modules, parameters = _read_tensors(folder / "adapter_model.safetensors", shapes, r)
    return AdapterPlan(
        r=r, alpha=float(alpha), use_rslora=bool(config.get("use_rslora")), modules=modules, parameters=parameters,
        base_model=config.get("base_model_name_or_path"),
        **_target_warnings(config.get("target_modules"), shapes, modules),
    )


def _read_config(folder: Path) -> dict:
    config_path = folder / "adapter_config.json"
    if not config_path.is_file():
        raise AdapterError(f"{folder.name} holds no adapter_config.json: it is not a PEFT adapter.",
                           es=f"{folder.name} no contiene adapter_config.json: no es un adaptador PEFT.")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AdapterError(f"adapter_config.json is not valid JSON ({error}).",
                           es=f"adapter_config.json no es un JSON válido ({error}).") from None
    except RecursionError:
        raise AdapterError("adapter_config.json is nested too deeply to be a PEFT config.",
                           es="adapter_config.json está anidado a demasiada profundidad para ser una configuración "
                              "de PEFT.") from None
    if not isinstance(config, dict) or str(config.get("peft_type", "")).upper() != "LORA":
        method = config.get("peft_type") if isinstance(config, dict) else None
        raise AdapterError(f"This adapter uses PEFT method {method!r}; only LoRA adapters are supported.",
                           es=f"Este adaptador usa el método de PEFT {method!r}; solo se admiten adaptadores LoRA.")
    if not (folder / "adapter_model.safetensors").is_file():
        if (folder / "adapter_model.bin").is_file():
            raise AdapterError(
                "This adapter ships only adapter_model.bin, a pickle file that can run code when loaded; "
                "only safetensors adapters are accepted. Re-save it with save_pretrained(safe_serialization=True).",
                es="Este adaptador solo trae adapter_model.bin, un archivo pickle que puede ejecutar código al "
                   "cargarse; solo se aceptan adaptadores safetensors. Vuelve a guardarlo con "
                   "save_pretrained(safe_serialization=True).",
            )
        raise AdapterError("This adapter has no adapter_model.safetensors file.",
                           es="Este adaptador no tiene el archivo adapter_model.safetensors.")
    return config


def _check_base_model(adapter_base: str | None, base_model_id: str) -> None:
    """Refuse an adapter trained on another Hub model; local paths can't be compared by name, shapes decide."""
    if not adapter_base:
        return
    if names_hub_repo(adapter_base) and names_hub_repo(base_model_id) and adapter_base.lower() != base_model_id.lower():
        raise AdapterError(
            f"This adapter was trained on {adapter_base}, but the app serves {base_model_id}; "
            "an adapter only works on the base model it was trained on.",
            es=f"Este adaptador se entrenó sobre {adapter_base}, pero la app sirve {base_model_id}; "
               "un adaptador solo funciona con el modelo base sobre el que se entrenó.",
        )


def _read_tensors(weights: Path, shapes: LinearShapes, r: int) -> tuple[tuple[str, ...], int]:
    """The layers the tensors adapt and their parameter count; refuses anything but a clean LoRA pair per layer."""
    import torch
    from safetensors import safe_open

    parts: dict[str, list[str]] = {}
    parameters = 0
    try:
        with safe_open(str(weights), framework="pt") as tensors:
            for key in tensors.keys():
                part = tensors.get_slice(key)
                shape, dtype = tuple(part.get_shape()), part.get_dtype()
                path = _check_tensor(key, shape, shapes, r)
                if dtype not in FLOAT_DTYPES:
                    raise AdapterError(
                        f"The adapter's tensor {key} is {_torch_name(dtype)}; LoRA weights are float (float32, "
                        "float16 or bfloat16). Re-save the adapter with PEFT.",
                        es=f"El tensor {key} del adaptador es {_torch_name(dtype)}; los pesos LoRA son float "
                           "(float32, float16 o bfloat16). Vuelve a guardar el adaptador con PEFT.")
                # One tensor at a time: memory stays proportional to the largest, whatever the file holds.
                if not bool(torch.isfinite(tensors.get_tensor(key)).all()):
                    raise AdapterError(
                        f"The adapter's tensor {key} holds values that are not finite (NaN or infinity): training "
                        "diverged. Train again, e.g. with a lower learning rate.",
                        es=f"El tensor {key} del adaptador contiene valores no finitos (NaN o infinito): el "
                           "entrenamiento divergió. Vuelve a entrenar, por ejemplo con una tasa de aprendizaje menor.")
                parts.setdefault(path, []).append(LORA_KEY.match(key)["part"])
                parameters += _numel(shape)
    except AdapterError:
        raise
    except Exception as error:  # a corrupt or truncated file: safetensors raises several types
        raise AdapterError(f"adapter_model.safetensors cannot be read ({error}).",
                           es=f"No se puede leer adapter_model.safetensors ({error}).") from None
    unpaired = sorted(path for path, found in parts.items() if sorted(found) != ["A", "B"])
    if unpaired:
        raise AdapterError(
            f"The adapter needs exactly one lora_A and one lora_B for {unpaired[0]} and has "
            f"{', '.join('lora_' + p for p in sorted(parts[unpaired[0]]))}: its file is incomplete.",
            es=f"El adaptador necesita exactamente un lora_A y un lora_B para {unpaired[0]} y tiene "
               f"{', '.join('lora_' + p for p in sorted(parts[unpaired[0]]))}: su archivo está incompleto.")
    if not parts:
        raise AdapterError("adapter_model.safetensors holds no LoRA weights.",
                           es="adapter_model.safetensors no contiene pesos LoRA.")
    return tuple(sorted(parts)), parameters


def _check_tensor(key: str, shape: tuple[int, ...], shapes: LinearShapes, r: int) -> str:
    """The layer path ``key`` belongs to, if it is a LoRA weight that fits it."""
    match = LORA_KEY.match(key)
    if match is None:
        raise AdapterError(
            f"The adapter's file holds {key}, which is not a LoRA weight (lora_A/lora_B); loading it would change "
            "the base model every visitor shares.",
            es=f"El archivo del adaptador contiene {key}, que no es un peso LoRA (lora_A/lora_B); cargarlo cambiaría "
               "el modelo base que comparten todos los visitantes.",
        )
    path = match["module"]
    if path in shapes and not ADAPTABLE.match(path):
        raise AdapterError(
            f"The adapter adds LoRA to '{path}'; only the encoder's and decoder's layers are adapted here. The "
            "output layer (lm_head) is shared by every row of a batch, and Attention and the vocabulary cut replace "
            "it. Train without it in target_modules.",
            es=f"El adaptador añade LoRA a '{path}'; aquí solo se adaptan las capas del codificador y del "
               "decodificador. La capa de salida (lm_head) la comparten todas las filas de un lote, y Atención y el "
               "recorte de vocabulario la sustituyen. Entrena sin ella en target_modules.")
    if path not in shapes:
        raise AdapterError(
            f"The adapter has weights for '{path}', which this base model does not have: "
            "it was trained on a different architecture.",
            es=f"El adaptador tiene pesos para '{path}', que este modelo base no tiene: se entrenó sobre otra "
               "arquitectura.",
        )
    in_features, out_features = shapes[path]
    is_a = match["part"] == "A"
    # lora_A: (r, in_features); lora_B: (out_features, r).
    fits_layer = len(shape) == 2 and (shape[1] == in_features if is_a else shape[0] == out_features)
    if not fits_layer:
        raise AdapterError(
            f"The adapter's tensor {key} has shape {list(shape)}, which does not fit '{path}' "
            f"({in_features} -> {out_features}): it was trained on a different base model.",
            es=f"El tensor {key} del adaptador tiene forma {list(shape)}, que no encaja con '{path}' "
               f"({in_features} -> {out_features}): se entrenó sobre otro modelo base.",
        )
    rank = shape[0] if is_a else shape[1]
    if rank != r:
        raise AdapterError(
            f"adapter_config.json says r={r}, but the tensor {key} has rank {rank}: the config and the weights "
            "disagree, so the adapter would not behave as trained.",
            es=f"adapter_config.json dice r={r}, pero el tensor {key} tiene rango {rank}: la configuración y los "
               "pesos no coinciden, así que el adaptador no se comportaría como se entrenó.",
        )
    return path


def _target_warnings(targets, shapes: LinearShapes, modules: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """What the visitor should know about ``target_modules`` as written, next to what the tensors adapt, as the
    plan's ``warnings`` and ``warnings_es``."""
    adapted = ", ".join(sorted({m.rsplit(".", 1)[-1] for m in modules}))
    if targets is None or targets == "all-linear":
        return {}
    if isinstance(targets, str):
        return dict(warnings=(f"target_modules is a pattern ({targets[:60]!r}); it was not run. The weights show what "
                              f"this adapter adapts: {adapted}.",),
                    warnings_es=(f"target_modules es un patrón ({targets[:60]!r}); no se ejecutó. Los pesos muestran "
                                 f"qué adapta este adaptador: {adapted}.",))
    if not isinstance(targets, list) or len(targets) > MAX_TARGET_NAMES:
        return dict(warnings=("target_modules is not a short list of names; the weights show what this adapter "
                              f"adapts: {adapted}.",),
                    warnings_es=("target_modules no es una lista corta de nombres; los pesos muestran qué adapta "
                                 f"este adaptador: {adapted}.",))
    unmatched = [t for t in targets if not any(p == str(t) or p.endswith(f".{t}") for p in shapes)]
    if not unmatched:
        return {}
    names = ", ".join(f"`{t}`" for t in unmatched)
    return dict(warnings=(f"{names} matched nothing in NLLB (its attention output is `out_proj`); this adapter adapts "
                          f"{adapted} only.",),
                warnings_es=(f"{names} no coincide con nada en NLLB (su salida de atención es `out_proj`); este "
                             f"adaptador solo adapta {adapted}.",))


def _numel(shape: tuple[int, ...]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def _torch_name(dtype: str) -> str:
    """A safetensors dtype as torch names it (``I32`` -> ``int32``), for messages."""
    kinds = {"I": "int", "U": "uint", "F": "float", "BF": "bfloat", "BOOL": "bool"}
    head = dtype.rstrip("0123456789")
    return kinds.get(head, head.lower()) + dtype[len(head):]
