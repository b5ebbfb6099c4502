"""The Train tab's words in English and Spanish: its labels (translated in the browser, merged into web/i18n.py's
table) and what its handler writes for one visitor (merged into web/messages.py's)."""

from __future__ import annotations

from ..training.teaching import TEACHING_SETS

TRAIN_TEXTS: dict[str, tuple[str, str]] = {
    "tab_train": ("Train", "Entrenar"),
    "train_intro": (
        "Train your own LoRA adapter here, in about a minute, and then see what it changed in every other tab. The "
        "base model stays frozen: LoRA learns a small update ΔW = (alpha/r)·B·A for each projection you pick, from "
        "the pairs you give it. The curve below is the training loss, how far the model's predictions are from your "
        "Italian sentences: it falls as the adapter learns them. Afterwards the adapter is yours only, for an hour, "
        "as **my adapter** in the model pickers.",
        "Entrena aquí tu propio adaptador LoRA, en más o menos un minuto, y luego mira qué cambió en las demás "
        "pestañas. El modelo base queda congelado: LoRA aprende un pequeño cambio ΔW = (alpha/r)·B·A en cada "
        "proyección que elijas, a partir de los pares que le des. La curva de abajo es la pérdida de "
        "entrenamiento, cuánto se alejan las predicciones del modelo de tus oraciones en italiano: baja a medida "
        "que el adaptador las aprende. Después el adaptador es solo tuyo, durante una hora, como **mi adaptador** "
        "en los selectores de modelo.",
    ),
    "train_source": ("Training pairs", "Pares de entrenamiento"),
    "train_source_set": ("A teaching set", "Un conjunto de enseñanza"),
    "train_source_paste": ("Paste pairs", "Pegar pares"),
    "train_source_file": ("Upload a file", "Subir un archivo"),
    "train_set": ("Teaching set", "Conjunto de enseñanza"),
    "train_pasted": ("Pairs, one per line: Spanish<TAB>Italian", "Pares, uno por línea: español<TAB>italiano"),
    "train_file": ("A .tsv, .csv or .jsonl of pairs (es and it columns)",
                   "Un .tsv, .csv o .jsonl de pares (columnas es e it)"),
    "train_settings": ("LoRA settings", "Ajustes de LoRA"),
    "train_rank": ("Rank r", "Rango r"),
    "train_rank_info": ("The rank of each update B·A: how many directions it may change.",
                        "El rango de cada cambio B·A: cuántas direcciones puede cambiar."),
    "train_alpha": ("alpha", "alpha"),
    "train_alpha_info": ("The update is scaled by alpha / r.", "El cambio se multiplica por alpha / r."),
    "train_targets": ("Projections to adapt", "Proyecciones que adaptar"),
    "train_targets_info": ("q, k, v and out are attention's; fc1 and fc2 the feed-forward block's.",
                           "q, k, v y out son de la atención; fc1 y fc2, del bloque feed-forward."),
    "train_lr": ("Learning rate", "Tasa de aprendizaje"),
    "train_steps": ("Steps", "Pasos"),
    "train_steps_info": ("Optimizer steps; each sees one batch of pairs.",
                         "Pasos del optimizador; cada uno ve un lote de pares."),
    "train_button": ("Train", "Entrenar"),
    "train_stop": ("Stop", "Detener"),
    "train_plot": ("Training loss", "Pérdida de entrenamiento"),
    "publish_heading": ("Publish your adapter to your Hugging Face account",
                        "Publica tu adaptador en tu cuenta de Hugging Face"),
    "publish_intro": (
        "Sign in with the Hugging Face button below (signed in, it shows your name; click it again to sign out), "
        "then push the adapter you trained last, with its model card and scores, to a repo in your own account, on "
        "a branch and a tag. The Space asks only to create repos and write the ones it "
        "created (scope contribute-repos); its owner's token is never used for your push. Once pushed, any page "
        "loads it by revision as owner/name@tag.",
        "Inicia sesión con el botón Hugging Face de abajo (con la sesión iniciada muestra tu nombre; vuelve a "
        "pulsarlo para cerrarla) y sube el adaptador que entrenaste por último, con su ficha de modelo y sus "
        "puntuaciones, a un repositorio de tu cuenta, en una rama y una etiqueta. El Space solo pide crear "
        "repositorios y escribir en los que creó (alcance contribute-repos); nunca usa el token de su dueño para tu "
        "subida. Una vez subido, cualquier página lo carga por revisión como dueño/nombre@etiqueta."),
    "publish_name": ("Repo name (in your account)", "Nombre del repositorio (en tu cuenta)"),
    "publish_branch": ("Branch", "Rama"),
    "publish_tag": ("Tag (optional)", "Etiqueta (opcional)"),
    "publish_button": ("Publish", "Publicar"),
}

TRAIN_MESSAGES: dict[str, tuple[str, str]] = {
    "train_starting": ("Starting a training process…", "Arrancando un proceso de entrenamiento…"),
    "train_scoring_base": ("Loading a trainable copy of the model and scoring the base model on {held_out}…",
                           "Cargando una copia entrenable del modelo y puntuando el modelo base en {held_out}…"),
    "train_training": ("Training…", "Entrenando…"),
    "train_step": ("Step {step}/{steps} · loss {loss:.3f} · about {left} s left",
                   "Paso {step}/{steps} · pérdida {loss:.3f} · quedan unos {left} s"),
    "train_scoring_adapter": ("Trained. Scoring the adapter on {held_out}…",
                              "Entrenado. Puntuando el adaptador en {held_out}…"),
    "train_held_out": ("the teaching set's held-out pairs", "los pares reservados del conjunto"),
    "train_held_out_share": ("a fifth of your pairs, held out", "una quinta parte de tus pares, reservada"),
    "train_stopped": ("Stopped: nothing was kept.", "Detenido: no se guardó nada."),
    "train_failed": ("Training failed: {error}", "El entrenamiento falló: {error}"),
    "train_done": ("**Trained {label}** in {steps} steps. It is now in every model picker; Compare shows it beside "
                   "the base model.",
                   "**Entrenado {label}** en {steps} pasos. Ya está en todos los selectores de modelo; Comparar lo "
                   "muestra junto al modelo base."),
    "train_scores": ("| | BLEU | chrF++ |\n|---|---|---|\n| base | {base_bleu:.1f} | {base_chrf:.1f} |\n"
                     "| {label} | {lora_bleu:.1f} | {lora_chrf:.1f} |\n\nOn {pairs} held-out pair(s), greedy.",
                     "| | BLEU | chrF++ |\n|---|---|---|\n| base | {base_bleu:.1f} | {base_chrf:.1f} |\n"
                     "| {label} | {lora_bleu:.1f} | {lora_chrf:.1f} |\n\nEn {pairs} par(es) reservado(s), voraz."),
    "train_look_for": ("**What to look for:** {line}", "**Qué buscar:** {line}"),
    "train_command": ("The same run on the command line (same pairs, settings and seed, same adapter):",
                      "La misma ejecución desde la línea de órdenes (mismos pares, ajustes y semilla, el mismo "
                      "adaptador):"),
    "my_adapter": ("my adapter ({sha})", "mi adaptador ({sha})"),
    "publish_sign_in": ("Sign in first with the Hugging Face button above: the adapter goes to your own account.",
                        "Inicia sesión primero con el botón Hugging Face de arriba: el adaptador va a tu propia "
                        "cuenta."),
    "publish_nothing": ("Train an adapter first: there is nothing of yours to publish yet.",
                        "Entrena un adaptador primero: todavía no hay nada tuyo que publicar."),
    "published": ("**Published** to [{repo}]({url}) (branch {branch}{tagged}), commit {sha}. Load it in any model "
                  "picker as {spec}.",
                  "**Publicado** en [{repo}]({url}) (rama {branch}{tagged}), commit {sha}. Cárgalo en cualquier "
                  "selector de modelo como {spec}."),
    "loss_step": ("step", "paso"),
    "loss_axis": ("training loss", "pérdida de entrenamiento"),
}

# The teaching sets' names and what to look for, from the sets themselves (training/teaching.py).
TRAIN_TEXTS.update({f"train_set_{found.key}": found.title for found in TEACHING_SETS})
TRAIN_TEXTS.update({f"train_look_{found.key}": tuple(f"{head} {line}" for head, line in zip(
    ("**What to look for:**", "**Qué buscar:**"), found.look_for)) for found in TEACHING_SETS})
