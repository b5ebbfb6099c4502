"""The engine's looks inside a model: attention maps, token probabilities, and where an adapter changed it.

Mixed into ``Engine`` (service/engine.py), whose checks, model choices and GPU calls it uses. Each view takes one
sentence pair: the sentence and a translation of it (the model's own greedy one when none is given), encoded once and
run teacher-forced through every model in one batched pass, so the models' numbers can be put side by side.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from ..errors import AdapterError, InputError
from ..model import worker
from ..model.attention import AttentionMaps, readable_tokens
from ..model.token_probs import TokenComparison, comparison
from ..model.update_map import UpdateMap, update_map
from ..results import BASE
from . import request_limits as limits

UPDATE_MAPS_KEPT = 64
"""Update maps remembered (each a few KB of numbers), least recently used dropped first."""
TOP_ALTERNATIVES = 5
"""How many alternatives the token view shows per position and model."""


WRITTEN_ROOM = 4
"""How many times ``NLLB_MAX_NEW_TOKENS`` the model's own translation may take once tokenized again (see ``_pair``)."""


class Inspection:
    """Attention, token probabilities and the update map (``Engine`` provides the rest)."""

    def attention(
        self, text: str, src_lang: str | None = None, tgt_lang: str | None = None, model: str = BASE,
        translation: str | None = None, also: Sequence[str] = (), num_beams: int | None = None,
        max_new_tokens: int | None = None,
    ) -> list[AttentionMaps]:
        """Attention maps of ``model`` (then of each model in ``also``) over ONE (source, translation) pair.

        Without ``translation``, ``model`` translates ``text`` first, through the same path and with the same
        decoding options as Translate, so the maps are of the translation Translate shows. Every model is run on the
        same pair in one teacher-forced batched forward pass, so their maps can be subtracted
        (``maps[0].minus(maps[1])``).
        """
        tgt, source_ids, target_ids = self._pair(text, src_lang, tgt_lang, translation)
        if target_ids is None:
            translation = self.translate(text, src_lang, tgt_lang, model=model, num_beams=num_beams,
                                         max_new_tokens=max_new_tokens).text
            tgt, source_ids, target_ids = self._pair(text, src_lang, tgt_lang, translation, written=True)
        prepared = [self.prepare(spec) for spec in (model, *also)]
        call = worker.AttentionCall(
            slot=self._slot, source_ids=source_ids, target_ids=target_ids,
            names=tuple(ref.adapter_name for ref, _ in prepared), tgt_lang=tgt,
            max_new_tokens=self.settings.max_new_tokens, adapters=files_of(prepared),
        )
        with self._lanes.take() as lane:
            out = unless_refused(self.run_attention(replace(call, slot=lane)))
        tokenizer = self.load().tokenizer
        source_tokens = readable_tokens(tokenizer, list(source_ids))
        target_tokens = readable_tokens(tokenizer, list(out.decoder_ids))
        target_text = tokenizer.decode(list(out.target_ids), skip_special_tokens=True)
        return [
            AttentionMaps(source_tokens, target_tokens, enc, dec, cross, ref, text.strip(), target_text)
            for (ref, _), (enc, dec, cross) in zip(prepared, out.maps)
        ]

    def token_probabilities(
        self, text: str, src_lang: str | None = None, tgt_lang: str | None = None, model: str = BASE,
        translation: str | None = None,
    ) -> TokenComparison:
        """Each token of one translation of ``text``, as likely as the base model and ``model`` find it.

        Without ``translation``, ``model`` translates greedily first: the view then explains that translation.
        """
        tgt, source_ids, target_ids = self._pair(text, src_lang, tgt_lang, translation)
        prepared = [self.prepare(spec) for spec in (BASE, model)]
        call = worker.TokenProbsCall(
            slot=self._slot, source_ids=source_ids, target_ids=target_ids,
            names=tuple(ref.adapter_name for ref, _ in prepared), tgt_lang=tgt,
            max_new_tokens=self.settings.max_new_tokens, top_k=TOP_ALTERNATIVES, adapters=files_of(prepared),
        )
        with self._lanes.take() as lane:
            out = unless_refused(self.run_token_probs(replace(call, slot=lane)))
        tokenizer = self.load().tokenizer
        names = [*tokenizer.convert_ids_to_tokens(list(out.target_ids)), tokenizer.eos_token]
        readable = [name.replace("▁", " ").strip() or name for name in names]
        top = tuple(tuple(tuple((_piece(tokenizer, i), p) for i, p in step) for step in row) for row in out.top)
        return comparison(text.strip(), tokenizer.decode(list(out.target_ids), skip_special_tokens=True),
                          (prepared[0][0].label, prepared[1][0].label), readable, out.probabilities, top)

    def update_map(self, model: str) -> UpdateMap:
        """Where the adapter ``model`` names changed the base: ‖ΔW‖ / ‖W‖ per layer and module (attention and
        feed-forward), from its tensors (no model call).

        Computed once per commit, and under the model gate like every other piece of model work: its cost grows with
        the adapter (rank, layers), so a visitor asking for maps over and over neither recomputes nor jumps ahead
        of other visitors' translations.
        """
        ref, files = self.prepare(model)
        if files is None:
            raise InputError("The base model has no adapter to map: pick an adapter revision.",
                             es="El modelo base no tiene ningún adaptador que mapear: elige una revisión de un "
                                "adaptador.")
        maps, name = self._update_maps, ref.adapter_name
        with self._update_maps_lock:
            known = maps.get(name)
            if known is not None:
                maps.move_to_end(name)
        if known is None:
            base = self.load()
            with self._lanes.take():
                known = update_map(files.folder, files.plan, base.weight_norms, base.parameters)
            with self._update_maps_lock:
                maps[name] = known
                while len(maps) > UPDATE_MAPS_KEPT:
                    maps.popitem(last=False)
        return replace(known, label=ref.label)

    def _pair(self, text: str, src_lang: str | None, tgt_lang: str | None, translation: str | None,
              written: bool = False) -> tuple[str, tuple[int, ...], tuple[int, ...] | None]:
        """``(target language, source ids, translation ids or None)`` of one checked sentence pair.

        ``written``: the translation is the model's own, so it is as long as the model writes; its text tokenized
        again may take more tokens than were generated: pieces merge differently, and a piece generated without its
        word-start mark is read back letter by letter (a model stuck repeating a 3-letter piece came back 2.6 times as
        long). The model's own translation gets :data:`WRITTEN_ROOM` times the room.
        """
        src, tgt = limits.languages(self.settings, src_lang, tgt_lang)
        if not (text or "").strip():
            raise InputError("Enter a sentence to look inside.", es="Escribe una oración para mirar dentro.")
        for what, value in ((("The sentence", "La oración"), text),
                            (("The translation to inspect", "La traducción a inspeccionar"), translation or "")):
            limits.bounded(what, value, self.settings.max_chars, "NLLB_MAX_CHARS")
            limits.valid_unicode(value, what)
        tokenizer = self.load().tokenizer
        source_ids = self._pipeline().encode([text.strip()], src)[0]
        if len(source_ids) > self.settings.max_input_tokens + 2:
            raise InputError(
                f"This view takes one sentence of at most {self.settings.max_input_tokens} tokens "
                f"(NLLB_MAX_INPUT_TOKENS); this text has {len(source_ids) - 2}.",
                es=f"Esta vista admite una oración de {self.settings.max_input_tokens} tokens como máximo "
                   f"(NLLB_MAX_INPUT_TOKENS); este texto tiene {len(source_ids) - 2}.",
            )
        if not (translation and translation.strip()):
            return tgt, tuple(source_ids), None
        target_ids = tuple(tokenizer(translation.strip(), add_special_tokens=False)["input_ids"])
        if len(target_ids) > self.settings.max_new_tokens * (WRITTEN_ROOM if written else 1):
            # Maps grow with the square of the length: the model never writes more than this per sentence.
            raise InputError(
                f"The translation to inspect has {len(target_ids)} tokens; this view takes at most "
                f"{self.settings.max_new_tokens} (NLLB_MAX_NEW_TOKENS), as many as the model writes for one sentence.",
                es=f"La traducción a inspeccionar tiene {len(target_ids)} tokens; esta vista admite como máximo "
                   f"{self.settings.max_new_tokens} (NLLB_MAX_NEW_TOKENS), tantos como escribe el modelo para una "
                   "oración.",
            )
        return tgt, tuple(source_ids), target_ids


def _piece(tokenizer, token_id: int) -> str:
    name = tokenizer.convert_ids_to_tokens(token_id)
    return name.replace("▁", " ").strip() or name


def files_of(prepared) -> tuple:
    """Each distinct adapter's files among ``(ModelRef, AdapterFiles | None)`` pairs, in order (base needs none)."""
    unique = {files.name: files for _, files in prepared if files is not None}
    return tuple(unique.values())


def unless_refused(result):
    """A model call's result, or the refusal it came back with as the visitor's error."""
    if isinstance(result, worker.Refused):
        raise AdapterError(result.message, es=result.es)
    return result
