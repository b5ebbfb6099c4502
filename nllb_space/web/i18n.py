"""The page's words in English and Spanish: one table, each key with both languages side by side.

Gradio's ``gr.I18n`` translates labels, buttons and Markdown in the browser: the page follows the browser's
language, and Gradio's Settings panel (the footer's "Settings") switches it. Some texts carry the Space's limits;
they are filled in from the settings when the page is built. Spanish wording follows the terms of Spanish-language
transformer course notes (codificador, decodificador, atención cruzada, máscara causal).
"""

from __future__ import annotations

import gradio as gr

from ..settings import Settings
from .train_texts import TRAIN_TEXTS

TEXTS: dict[str, tuple[str, str]] = {
    "title": ("NLLB-200 · Spanish → Italian with LoRA", "NLLB-200 · español → italiano con LoRA"),
    "heading": ("# NLLB-200 · Spanish → Italian with LoRA", "# NLLB-200 · español → italiano con LoRA"),
    "intro": (
        "Meta's NLLB-200-distilled-600M with LoRA adapters pulled from the Hugging Face Hub by revision. Translate, "
        "compare the base model with an adapter, look at attention, and see what LoRA changed. The 600M model is a "
        "dense student distilled from NLLB's 54.5B mixture-of-experts teacher: the base you adapt already carries "
        "what the big model knew.",
        "NLLB-200-distilled-600M de Meta con adaptadores LoRA descargados del Hugging Face Hub por revisión. Traduce, "
        "compara el modelo base con un adaptador, mira la atención y descubre qué cambió LoRA. El modelo de 600M es "
        "un alumno denso destilado del maestro de NLLB, una mezcla de expertos de 54.500 millones de parámetros: la "
        "base que adaptas ya lleva lo que sabía el modelo grande.",
    ),
    "revisions": ("Adapters and revisions", "Adaptadores y revisiones"),
    "adapter_repo": ("Adapter repo", "Repositorio del adaptador"),
    "repo_info": ("Type another public repo id (owner/name) to list its revisions.",
                  "Escribe el id de otro repositorio público (dueño/nombre) para listar sus revisiones."),
    "repo_info_locked": ("Other repos are turned off on this Space (NLLB_ALLOW_CUSTOM_REPOS=false).",
                         "Los demás repositorios están desactivados en este Space (NLLB_ALLOW_CUSTOM_REPOS=false)."),
    "list_revisions": ("List revisions", "Listar revisiones"),
    "revision": ("Revision", "Revisión"),
    "revision_info": ("Pick a branch, tag or commit, or click its row in the table: it is loaded and selected in "
                      "every tab. Only revisions that hold an adapter are offered.",
                      "Elige una rama, etiqueta o commit, o haz clic en su fila de la tabla: se carga y se selecciona "
                      "en todas las pestañas. Solo se ofrecen las revisiones que contienen un adaptador."),
    "from": ("From", "De"),
    "to": ("To", "A"),
    "from_info": ("Type a name or a code (spa_Latn).", "Escribe un nombre o un código (spa_Latn)."),
    "to_info": ("All 202 FLORES-200 languages.", "Las 202 lenguas de FLORES-200."),
    "decoding": ("Decoding options", "Opciones de decodificación"),
    "beams": ("Beam size", "Tamaño del haz (beam)"),
    "beams_info": ("1 = greedy; more beams are slower and often a little better.",
                   "1 = voraz; más haces es más lento y a menudo algo mejor."),
    "max_new_tokens": ("Max new tokens per sentence", "Máximo de tokens nuevos por oración"),
    "tab_translate": ("Translate", "Traducir"),
    "tab_compare": ("Compare", "Comparar"),
    "tab_attention": ("Attention", "Atención"),
    "tab_lora": ("What LoRA changed", "Qué cambió LoRA"),
    "text": ("Text", "Texto"),
    "text_placeholder": ("Type or paste the text here…", "Escribe o pega aquí el texto…"),
    "text_info": ("Up to {max_chars} characters and {max_sentences} sentences; paragraphs and line breaks are kept.",
                  "Hasta {max_chars} caracteres y {max_sentences} oraciones; se conservan párrafos y saltos de línea."),
    "translation": ("Translation", "Traducción"),
    "model": ("Model", "Modelo"),
    "model_info": ("base, a revision of the adapter repo (branch, tag, sha), or owner/name@revision",
                   "base, una revisión del repositorio del adaptador (rama, etiqueta, sha) o dueño/nombre@revisión"),
    "strength": ("Adapter strength", "Fuerza del adaptador"),
    "strength_info": ("0 = the base model, 1 = the adapter as trained, 2 = twice its update. Only for you.",
                      "0 = el modelo base, 1 = el adaptador tal como se entrenó, 2 = el doble de su cambio. Solo para ti."),
    "translate_button": ("Translate", "Traducir"),
    "examples": ("Examples (Spanish): what to look for in Compare", "Ejemplos (español): qué mirar en Comparar"),
    "file_accordion": ("Translate a file (.txt, .csv, .tsv)", "Traducir un archivo (.txt, .csv, .tsv)"),
    "file_help": (
        "A **.txt** is translated as one text. In a **.csv/.tsv**, each row is translated: the column named `text` "
        "or `source` if the first row has one, else the first column; you get the table back with a `translation` "
        "column. UTF-8, up to {max_mb} MB and {max_rows} rows.",
        "Un **.txt** se traduce como un solo texto. En un **.csv/.tsv** se traduce cada fila: la columna llamada "
        "`text` o `source` si la primera fila la tiene, si no la primera columna; recibes la tabla con una columna "
        "`translation`. UTF-8, hasta {max_mb} MB y {max_rows} filas.",
    ),
    "file": ("File", "Archivo"),
    "file_button": ("Translate file", "Traducir archivo"),
    "file_result": ("Translated file", "Archivo traducido"),
    "reference": ("Reference translation (optional)", "Traducción de referencia (opcional)"),
    "reference_info": ("Gives each side's chrF++ and BLEU (sacreBLEU).", "Da el chrF++ y el BLEU de cada lado (sacreBLEU)."),
    "left_model": ("Left model", "Modelo izquierdo"),
    "right_model": ("Right model", "Modelo derecho"),
    "compare_button": ("Compare", "Comparar"),
    "left": ("Left", "Izquierda"),
    "right": ("Right", "Derecha"),
    "sentence_rows": ("Sentence by sentence", "Oración por oración"),
    "batch_accordion": ("Batch: score a file of source<TAB>reference lines",
                        "Lote: puntuar un archivo de líneas origen<TAB>referencia"),
    "batch_help": (
        "One `source<TAB>reference` per line (.tsv or .txt; the reference may be missing), up to {max_rows} lines. "
        "Both models translate every line; you get corpus chrF++/BLEU per model and a per-sentence table to download.",
        "Un `origen<TAB>referencia` por línea (.tsv o .txt; la referencia puede faltar), hasta {max_rows} líneas. "
        "Ambos modelos traducen cada línea; obtienes chrF++/BLEU de corpus por modelo y una tabla por oración.",
    ),
    "batch_button": ("Translate and score", "Traducir y puntuar"),
    "batch_csv": ("Per-sentence scores (CSV)", "Puntuaciones por oración (CSV)"),
    "sentence": ("Sentence", "Oración"),
    "pair": ("Translation to inspect (optional)", "Traducción a inspeccionar (opcional)"),
    "pair_info": ("Empty: the model's own greedy translation.", "Vacío: la traducción voraz del propio modelo."),
    "attention_model_info": ("An adapter also shows its difference from base.",
                             "Un adaptador muestra también su diferencia con la base."),
    "reuse": ("Use the last translation", "Usar la última traducción"),
    "attention_button": ("Show attention", "Mostrar la atención"),
    "attention_target": ("Translation shown in the maps", "Traducción que muestran los mapas"),
    "map": ("Map", "Mapa"),
    "cross": ("Cross-attention", "Atención cruzada"),
    "encoder": ("Encoder self-attention", "Autoatención del codificador"),
    "decoder": ("Decoder self-attention", "Autoatención del decodificador"),
    "encoder_ffn": ("Encoder feed-forward", "Red feed-forward del codificador"),
    "decoder_ffn": ("Decoder feed-forward", "Red feed-forward del decodificador"),
    "layer": ("Layer", "Capa"),
    "head": ("Head", "Cabeza"),
    "attention_plot": ("Attention", "Atención"),
    "difference_plot": ("LoRA minus base (percentage points)", "LoRA menos base (puntos porcentuales)"),
    "head_grid": ("Every layer and head", "Todas las capas y cabezas"),
    "alignment": ("Word alignment", "Alineación de palabras"),
    "data": ("The numbers (JSON, as the API returns them)", "Los números (JSON, como los devuelve la API)"),
    "lora_intro": (
        "LoRA keeps every weight W of the model frozen and learns a small update ΔW = (alpha/r)·B·A in the layers it "
        "targets: the attention projections (q, k, v, out) and, in many adapters (PEFT's all-linear), the "
        "feed-forward layers (fc1, fc2). Attention mixes positions: each token gathers what it needs from the others. "
        "The feed-forward block then transforms each position on its own: fc1 widens the token's vector, fc2 brings "
        "it back. **Where** shows how big the update is next to W in every layer and module, straight from the "
        "adapter's tensors; grey cells are modules the adapter does not adapt. **Why a word changed** shows, token "
        "by token, how likely the base model and the adapter find one translation.",
        "LoRA congela todos los pesos W del modelo y aprende un pequeño cambio ΔW = (alpha/r)·B·A en las capas que "
        "elige: las proyecciones de atención (q, k, v, out) y, en muchos adaptadores (all-linear de PEFT), las capas "
        "de la red feed-forward (fc1, fc2). La atención mezcla posiciones: cada token recoge lo que necesita de los "
        "demás. Después, la red feed-forward transforma cada posición por separado: fc1 ensancha el vector del "
        "token y fc2 lo devuelve a su tamaño. **Dónde** muestra lo grande que es ese cambio frente a W en cada capa y "
        "módulo, leído directamente de los tensores del adaptador; las celdas grises son módulos que el adaptador no "
        "adapta. **Por qué cambió una palabra** muestra, token a token, qué probabilidad dan el modelo base y el "
        "adaptador a una misma traducción.",
    ),
    "lora_model": ("Adapter", "Adaptador"),
    "update_button": ("Where did it change the model?", "¿Dónde cambió el modelo?"),
    "update_plot": ("‖ΔW‖ / ‖W‖ per layer and module", "‖ΔW‖ / ‖W‖ por capa y módulo"),
    "why_heading": ("### Why a word changed", "### Por qué cambió una palabra"),
    "token_button": ("Why did the words change?", "¿Por qué cambiaron las palabras?"),
    "token_pair_info": ("Empty: the adapter's own greedy translation.",
                        "Vacío: la traducción voraz del propio adaptador."),
    "token_plot": ("Probability of each token, base vs LoRA", "Probabilidad de cada token, base frente a LoRA"),
}
TEXTS.update(TRAIN_TEXTS)  # the Train tab's, kept in their own file


SUPPORTED = ("en", "es")
BLOCK_KINDS = {"encoder self-attention": "encoder", "decoder self-attention": "decoder", "cross-attention": "cross",
               "encoder feed-forward": "encoder_ffn", "decoder feed-forward": "decoder_ffn"}
"""The update map's blocks (``model/update_map.BLOCKS``) as keys of :data:`TEXTS`: the attention blocks share the
attention maps' names."""


def text(key: str, language: str) -> str:
    """A text of the page as the server writes it, in ``language`` ("en" or "es")."""
    return TEXTS[key][SUPPORTED.index(language)]


def block_name(block: str, language: str) -> str:
    """A block's name (an update-map block or an attention map's kind) in ``language``, capitalised."""
    return text(BLOCK_KINDS.get(block, block), language)


def visitor_language(request: "gr.Request | None") -> str:
    """The language the server writes its explanations in for this visitor: the first of ``SUPPORTED`` in the
    browser's ``Accept-Language`` (the same preference Gradio's page starts from), else English."""
    header = ""
    if request is not None:
        header = (getattr(request, "headers", None) or {}).get("accept-language", "") or ""
    ranked = []
    for position, part in enumerate(header.split(",")):
        tag, _, quality = part.strip().partition(";q=")
        try:
            weight = float(quality) if quality else 1.0
        except ValueError:
            weight = 0.0
        ranked.append((-weight, position, tag.split("-")[0].strip().lower()))
    for _, _, language in sorted(ranked):
        if language in SUPPORTED:
            return language
    return "en"


def interface(settings: Settings) -> gr.I18n:
    """The page's texts for ``gr.Blocks.launch(i18n=...)``, with the Space's limits filled in."""
    values = dict(max_chars=f"{settings.max_chars:,}", max_sentences=settings.max_sentences,
                  max_mb=f"{settings.max_file_bytes / 1e6:g}", max_rows=f"{settings.max_rows:,}")
    return gr.I18n(**{language: {key: pair[i].format(**values) for key, pair in TEXTS.items()}
                      for i, language in enumerate(("en", "es"))})


def t(key: str) -> gr.i18n.I18nData:
    """A text of the page, translated in the browser (see :data:`TEXTS`)."""
    if key not in TEXTS:
        raise KeyError(f"No text {key!r} in nllb_space/web/i18n.py")
    return gr.i18n.I18nData(key)
