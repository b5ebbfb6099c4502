"""What the handlers write on the page, in English and Spanish side by side (the page's labels are in web/i18n.py).

Labels and buttons are translated in the browser by ``gr.I18n``; these texts are written on the server, for one
visitor, so they follow that visitor's browser language (``i18n.visitor_language``). Errors carry their own Spanish
text where they are raised (``errors.UserFacingError``). Values are filled in with ``str.format``; anything a visitor
typed arrives already escaped.
"""

from __future__ import annotations

from .train_texts import TRAIN_MESSAGES

MESSAGES: dict[str, tuple[str, str]] = {
    # Errors the handlers themselves write.
    "cancelled": ("Cancelled.", "Cancelado."),
    "server_error": ("Something went wrong on the server (it has been logged). Please try again.",
                     "Algo falló en el servidor (ha quedado registrado). Vuelve a intentarlo."),
    "busy_visitor": ("You already have {limit} requests running on this Space (NLLB_VISITOR_REQUESTS); wait for one "
                     "to finish, then try again.",
                     "Ya tienes {limit} peticiones en curso en este Space (NLLB_VISITOR_REQUESTS); espera a que "
                     "termine una y vuelve a intentarlo."),
    "whole_number": ("{what} must be a whole number (got {value}).",
                     "{what} debe ser un número entero (se recibió {value})."),
    "number": ("{what} must be a number (got {value}).", "{what} debe ser un número (se recibió {value})."),
    # The status line.
    "status_loading": ("Base model {model} is not loaded yet.", "El modelo base {model} aún no está cargado."),
    "status_base": ("**Base model** {model} on **{device}** ({dtype})",
                    "**Modelo base** {model} en **{device}** ({dtype})"),
    "status_live": (" · **Live adapter** {spec} at commit {sha}", " · **Adaptador activo** {spec} en el commit {sha}"),
    "status_no_adapter": (" · no adapter configured (NLLB_ADAPTER_REPO): serving the base model",
                          " · ningún adaptador configurado (NLLB_ADAPTER_REPO): se sirve el modelo base"),
    "status_choice": (" · **Your choice** {label}", " · **Tu elección** {label}"),
    "status_ready": (" · {count} adapter revision(s) ready on this server",
                     " · {count} revisión(es) de adaptador listas en este servidor"),
    "status_adapter_error": ("\n\n⚠️ {error} The base model is served meanwhile.",
                             "\n\n⚠️ {error} Mientras tanto se sirve el modelo base."),
    # The revisions panel.
    "listed": ("{repo}: {branches} branch(es), {tags} tag(s), {commits} recent commit(s). Pick one, or click its row "
               "in the table, to load it.",
               "{repo}: {branches} rama(s), {tags} etiqueta(s), {commits} commit(s) recientes. Elige uno, o haz clic "
               "en su fila de la tabla, para cargarlo."),
    "listed_hidden": (" {hidden} revision(s) without an adapter (no adapter_config.json) are not offered.",
                      " No se ofrecen {hidden} revisión(es) sin adaptador (sin adapter_config.json)."),
    "listed_scores": (" Scores: chrF++ and BLEU of the base model and of the adapter on the evaluation set of the run "
                      "that made it (its metrics.json); blank where a revision has none.",
                      " Puntuaciones: chrF++ y BLEU del modelo base y del adaptador en el conjunto de evaluación del "
                      "entrenamiento que lo creó (su metrics.json); en blanco donde una revisión no lo tiene."),
    "label_scores": (" · chrF++ {lora} (base {base})", " · chrF++ {lora} (base {base})"),
    "kind_branch": ("branch", "rama"),
    "kind_tag": ("tag", "etiqueta"),
    "kind_commit": ("commit", "commit"),
    "col_kind": ("kind", "tipo"),
    "col_name": ("name", "nombre"),
    "col_commit": ("commit", "commit"),
    "col_date": ("date", "fecha"),
    "col_title": ("title", "título"),
    "col_base_chrf": ("base chrF++", "chrF++ base"),
    "col_lora_chrf": ("LoRA chrF++", "chrF++ LoRA"),
    "col_gain": ("LoRA − base", "LoRA − base"),
    "col_bleu": ("BLEU base → LoRA", "BLEU base → LoRA"),
    "list_failed": ("⚠️ Could not list the revisions of {repo}: {error}",
                    "⚠️ No se pudieron listar las revisiones de {repo}: {error}"),
    "pick_revision": ("Pick a revision first.", "Primero elige una revisión."),
    "load_failed": ("⚠️ Could not load {spec}: {error}", "⚠️ No se pudo cargar {spec}: {error}"),
    "loaded": ("Loaded {label}; it is now selected in every tab.",
               "Se cargó {label}; ahora está seleccionado en todas las pestañas."),
    "base_summary": ("The base model, without adapter.", "El modelo base, sin adaptador."),
    # The model pickers' own entries (the revisions' entries are made by markdown.revision_choices).
    "base_choice": ("base: NLLB-200 without adapter", "base: NLLB-200 sin adaptador"),
    "configured_choice": ("{revision} (configured)", "{revision} (configurada)"),
    "adapter_summary": (
        "**{label}** adapts {projections} in {layers} layers · rank {r}, alpha {alpha}{rs} · {parameters} trainable "
        "parameters · trained on {base} · commit {sha}",
        "**{label}** adapta {projections} en {layers} capas · rango {r}, alpha {alpha}{rs} · {parameters} parámetros "
        "entrenables · entrenado sobre {base} · commit {sha}",
    ),
    "unnamed_base": ("an unnamed base", "una base sin nombre"),
    # Translate: what to look for in each example (web/examples.py), then the handlers' texts.
    "example_agreement": ("agreement: cansadas → stanche (feminine plural)",
                          "concordancia: cansadas → stanche (femenino plural)"),
    "example_register": ("register: usted → Lei, the polite form", "registro: usted → Lei, la forma de cortesía"),
    "example_word_order": ("word order: where the adjectives go", "orden: dónde van los adjetivos"),
    "example_clitics": ("clitics: te lo → te lo / glielo", "clíticos: te lo → te lo / glielo"),
    "example_layout": ("layout: sentences and paragraphs kept", "formato: se conservan oraciones y párrafos"),
    "translating": ("Translating", "Traduciendo"),
    "translated_by": ("Translated by {label} · {sentences} sentence(s) · {tokens} tokens · {seconds} s · beam {beams}",
                      "Traducido por {label} · {sentences} oración(es) · {tokens} tokens · {seconds} s · haz {beams}"),
    "strength_note": (" · adapter strength {scale}", " · fuerza del adaptador {scale}"),
    "stopped_at_limit": (
        "\n\n⚠️ {stopped} of {sentences} sentence(s) stopped at the {limit}-token limit, so they may be cut off: raise "
        "*Max new tokens per sentence* in the decoding options.",
        "\n\n⚠️ {stopped} de {sentences} oración(es) se detuvieron en el límite de {limit} tokens, así que pueden "
        "estar cortadas: sube *Máximo de tokens nuevos por oración* en las opciones de decodificación.",
    ),
    "field_too_long": ("A field of this request has {chars} characters; the limit is {limit} (NLLB_MAX_CHARS).",
                       "Un campo de esta petición tiene {chars} caracteres; el límite es {limit} (NLLB_MAX_CHARS)."),
    "upload_forged": ("That is not a file uploaded to this Space: send the file with the upload box (from the API, "
                      "with gradio_client's handle_file).",
                      "Eso no es un archivo subido a este Space: envía el archivo con el cuadro de subida (desde la API, "
                      "con handle_file de gradio_client)."),
    "model_not_text": ("The model must be text: 'base', a revision of the Space's adapter repo, or owner/name@revision "
                       "(got {got}).",
                       "El modelo debe ser texto: 'base', una revisión del repositorio de adaptadores del Space u "
                       "owner/name@revision (se recibió {got})."),
    "upload_first": ("Upload a .txt, .csv or .tsv file first.", "Primero sube un archivo .txt, .csv o .tsv."),
    "translating_rows": ("Translating the rows", "Traduciendo las filas"),
    "file_text": ("the text", "el texto"),
    "file_rows": ("{rows} rows", "{rows} filas"),
    "file_translated": ("Translated {what} of {name} with {label}. Download it below.",
                        "Se tradujo {what} de {name} con {label}. Descárgalo abajo."),
    # Compare.
    "reference_too_long": (
        "The reference has {chars} characters; the limit is {limit} (NLLB_MAX_CHARS), as for the text.",
        "La referencia tiene {chars} caracteres; el límite es {limit} (NLLB_MAX_CHARS), como para el texto.",
    ),
    "translating_both": ("Translating with both models", "Traduciendo con ambos modelos"),
    "same_model": ("ℹ️ Both sides are {model}: the two translations will be the same. Pick another model on one side "
                   "to see what it changes.",
                   "ℹ️ Los dos lados son {model}: las dos traducciones serán iguales. Elige otro modelo en un lado "
                   "para ver qué cambia."),
    "summary_time": ("time", "tiempo"),
    "summary_tokens": ("tokens generated", "tokens generados"),
    "one_batch": ("Both models ran in one batch (one generate call), so they share its {seconds} s.",
                  "Ambos modelos corrieron en un solo lote (una llamada a generate), así que comparten sus "
                  "{seconds} s."),
    "one_after_other": ("The models ran one after the other ({seconds} s in all).",
                        "Los modelos corrieron uno tras otro ({seconds} s en total)."),
    "right_minus_left": ("right − left", "derecha − izquierda"),
    "better_right": ("right is better", "mejor la derecha"),
    "better_left": ("left is better", "mejor la izquierda"),
    "better_same": ("a tie", "empate"),
    "reference_not_aligned": (
        " The reference does not split into the same {sentences} sentence(s) as the text, so only the whole text is "
        "scored: put one reference sentence for each source sentence to score each row.",
        " La referencia no se divide en las mismas {sentences} oración(es) que el texto, así que solo se puntúa el "
        "texto entero: pon una oración de referencia por cada oración de origen para puntuar cada fila.",
    ),
    "source": ("source", "origen"),
    "reference_short": ("reference", "referencia"),
    "rows_legend": ("One row per sentence: words only one side wrote are marked (red: only left, green: only right).",
                    "Una fila por oración: se marcan las palabras que solo escribió un lado (rojo: solo izquierda, "
                    "verde: solo derecha)."),
    "add_reference": (" Add a reference translation to see chrF++ and BLEU.",
                      " Añade una traducción de referencia para ver chrF++ y BLEU."),
    # Batch scoring.
    "upload_scoring_first": ("Upload a .tsv file with source<TAB>reference on each line first.",
                             "Primero sube un archivo .tsv con origen<TAB>referencia en cada línea."),
    "translating_lines": ("Translating the lines with both models", "Traduciendo las líneas con ambos modelos"),
    "nothing_scored": ("Translated {rows} lines with both models. No line had a reference (source<TAB>reference), so "
                       "nothing was scored.",
                       "Se tradujeron {rows} líneas con ambos modelos. Ninguna tenía referencia "
                       "(origen<TAB>referencia), así que no se puntuó nada."),
    "corpus_scores": ("Corpus scores over the {scored} of {rows} lines that have a reference:",
                      "Puntuaciones de corpus sobre las {scored} de {rows} líneas que tienen referencia:"),
    "signatures": ("<small>sacreBLEU signatures, to report these scores comparably: chrF++ {chrf} · BLEU {bleu}. "
                   "Click a column's header to sort the table below by it.</small>",
                   "<small>Firmas de sacreBLEU, para dar estas puntuaciones de forma comparable: chrF++ {chrf} · "
                   "BLEU {bleu}. Pulsa la cabecera de una columna para ordenar la tabla de abajo.</small>"),
    "model": ("model", "modelo"),
    "left": ("left", "izquierda"),
    "right": ("right", "derecha"),
    # Attention.
    "translate_first": ("Translate something in the Translate tab first.",
                        "Primero traduce algo en la pestaña Traducir."),
    "first_sentence": ("The attention view takes one sentence: using the first one of the last translation.",
                       "La vista de atención toma una oración: se usa la primera de la última traducción."),
    "view_expired": ("This view is no longer kept (the Space keeps the last {capacity} attention views): press Show "
                     "attention again.",
                     "Esta vista ya no se conserva (el Space guarda las últimas {capacity} vistas de atención): pulsa "
                     "Mostrar la atención otra vez."),
    "mean_layers": ("mean over layers", "media de las capas"),
    "mean_heads": ("mean over heads", "media de las cabezas"),
    "layer_n": ("layer {n}", "capa {n}"),
    "head_n": ("head {n}", "cabeza {n}"),
    # Figures.
    "axis_predicting": ("while predicting (target)", "al predecir (destino)"),
    "axis_source_read": ("source token read", "token de origen leído"),
    "axis_source_query": ("source token (query)", "token de origen (consulta)"),
    "axis_source_key": ("source token (key)", "token de origen (clave)"),
    "axis_earlier_target": ("earlier target token (key)", "token de destino anterior (clave)"),
    "predicting": ("predicting {token}", "al predecir {token}"),
    "input_predicting": ("input {token}, predicting {next}", "entrada {token}, al predecir {next}"),
    "map_title": ("{kind}: {model} ({where})", "{kind}: {model} ({where})"),
    "difference_title": (
        "{kind}: {model} minus {other} ({where}), attention weight in percentage points; largest change {change} pp, "
        "{row} → {col}",
        "{kind}: {model} menos {other} ({where}), peso de atención en puntos porcentuales; mayor cambio {change} pp, "
        "{row} → {col}",
    ),
    "grid_title": ("{kind}: every layer (down) and head (across)",
                   "{kind}: cada capa (hacia abajo) y cabeza (a lo ancho)"),
    "weight": ("weight", "peso"),
    "alignment_title": (
        "Which source words each word of {model}'s translation reads most (cross-attention, mean over layers and "
        "heads)",
        "Qué palabras de origen lee más cada palabra de la traducción de {model} (atención cruzada, media de capas y "
        "cabezas)",
    ),
    "update_title": ("Where {label} changed the model: ‖ΔW‖ / ‖W‖ per layer and module",
                     "Dónde cambió {label} el modelo: ‖ΔW‖ / ‖W‖ por capa y módulo"),
    "not_adapted": ("not adapted", "no adaptado"),
    "tokens_title": ("Why a word changed: {base} vs {lora}", "Por qué cambió una palabra: {base} frente a {lora}"),
    "top_alternatives": ("top alternatives", "alternativas principales"),
    "token_probability": ("probability of this token (%)", "probabilidad de este token (%)"),
}
MESSAGES.update(TRAIN_MESSAGES)  # the Train tab's, kept in their own file


def say(key: str, language: str, **values: object) -> str:
    """Message ``key`` in ``language`` ("en" or "es"), with ``values`` filled in."""
    english, spanish = MESSAGES[key]
    return (spanish if language == "es" else english).format(**values)


def both(key: str, **values: object) -> dict[str, str]:
    """Message ``key`` as an error's two texts: ``InputError(**both(key))`` is English with Spanish beside it."""
    english, spanish = MESSAGES[key]
    return {"message": english.format(**values), "es": spanish.format(**values)}
