"""The translation engine, the UI's face: plain strings in, plain results out, and every model call by value.

Data flows one way: the UI calls ``translate`` / ``compare`` / ``attention`` with strings; the engine checks the
input, resolves each model choice to a commit and gets its files (Hub work, here in the main process), splits the
text into sentences and encodes them, then hands batches of token ids to the GPU functions of ``worker.py``, which
on ZeroGPU run in forked worker processes, and finally decodes and reassembles the results from ``results``.

Each call to the model is one batch of at most ``NLLB_BATCH_SIZE`` rows, sorted by length so padding wastes little;
so a long text reports progress between batches, and on ZeroGPU each call asks for a GPU only as long as its
batch needs.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path
from typing import Callable, Sequence

from . import disk, hub, worker
from .adapter_check import AdapterPlan
from .adapters import LOCAL_REVISION, AdapterRegistry, not_a_repo_id
from .attention import AttentionMaps, readable_tokens
from .errors import AdapterError, InputError
from .fair_gate import FairGate
from .hardware import model_concurrency
from .languages import UnknownLanguageError, language_name, resolve_language
from .lora import linear_shapes
from .model_loading import LoadedBase, load_base
from .results import BASE, BASE_MODEL, Comparison, EngineStatus, ModelRef, SentencePair, Translation
from .segment import Segmented, join_text, split_text
from .settings import Settings
from .slot import AdapterFiles, Decoding, SlotLimits

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` after each batch of sentences."""

MAX_NAME_CHARS = 300
"""The longest model choice, repo id or language name accepted (real ones are well under 100 characters)."""

Prepared = tuple[ModelRef, "AdapterFiles | None"]
"""A model choice ready for a model call: what answered, and the files a worker attaches it from."""


class Engine:
    """Serves translations from one base model with any number of LoRA adapter revisions."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._base: LoadedBase | None = None
        self._shapes: dict[str, tuple[int, int]] = {}
        self._load_lock = threading.Lock()
        self._slot = uuid.uuid4().hex
        self._registry = AdapterRegistry(settings)
        self._default_adapter: ModelRef | None = None
        self.adapter_error: str | None = None
        """Why the configured adapter could not be loaded at start-up (the base model is served meanwhile)."""
        self.model_slots = model_concurrency(settings.concurrency)
        """Model calls run at once (``NLLB_CONCURRENCY``); other requests' input checks and Hub work go on meanwhile."""
        self._model_gate = FairGate(self.model_slots)
        self.run_generate = worker.run_generate
        self.run_attention = worker.run_attention
        """The ``@spaces.GPU`` functions; tests wrap them in ZeroGPU's own worker machinery."""

    # -- loading ---------------------------------------------------------------------------------------------------

    def load(self) -> LoadedBase:
        """Load the base model and tokenizer once (thread-safe), then check the configured adapter revision if any.

        The model is installed for the GPU functions of this process, and of every worker forked from it later.
        """
        if self._base is not None:
            return self._base
        with self._load_lock:
            if self._base is None:
                base = load_base(self.settings)
                self._shapes = linear_shapes(base.model)
                limits = SlotLimits(self.settings.batch_size, self.settings.adapter_cache_size,
                                    self.settings.restrict_vocab)
                worker.install(self._slot, base, limits)
                self._base = base
                if self.settings.adapter_repo:
                    self._load_default_adapter()
        return self._base

    def _load_default_adapter(self) -> None:
        try:
            self._default_adapter = self.use_model(self._configured_spec())
            self.adapter_error = None
        except (InputError, hub.HubError, ValueError) as error:
            # The Space still serves the base model; the page shows why the adapter is missing.
            self.adapter_error = f"Adapter {self.settings.adapter_repo}@{self.settings.adapter_revision}: {error}"
            logger.error(self.adapter_error)

    def _configured_spec(self) -> str:
        repo = self.settings.adapter_repo or ""
        return repo if Path(repo).expanduser().is_dir() else f"{repo}@{self.settings.adapter_revision}"

    def status(self) -> EngineStatus:
        """Which base model, device and adapter commits are live."""
        base = self._base
        return EngineStatus(
            base_model=self.settings.base_model,
            device=base.device if base else "not loaded",
            dtype=base.dtype if base else "",
            loaded=base is not None,
            adapters=self._registry.loaded(),
            default_adapter=self._default_adapter,
        )

    def clean_disk(self) -> None:
        """Remove old result files, and visitors' cached adapters beyond ``NLLB_ADAPTER_DISK_MB`` (disk.py);
        nothing that is ready to serve or attached here is touched."""
        disk.sweep_results(self.settings.file_ttl_s)
        in_use = self._registry.folders()
        if self._base is not None:
            in_use |= set(worker.slot(self._slot).folders())
        keep = {self.settings.base_model, self.settings.adapter_repo or ""}
        disk.trim_adapter_cache(int(self.settings.adapter_disk_mb * 1_000_000), keep, in_use)

    def attached(self) -> tuple[str, ...]:
        """Adapter names attached to the model in THIS process (on ZeroGPU the workers hold their own)."""
        return worker.slot(self._slot).attached() if self._base is not None else ()

    # -- model choice ----------------------------------------------------------------------------------------------

    def parse_model(self, spec: str) -> tuple[str, str] | None:
        """``None`` for the base model, else ``(repo, revision)`` for a model choice as users type it.

        Accepted: ``base``; a revision (branch, tag or sha) of the configured ``NLLB_ADAPTER_REPO``;
        ``owner/name@revision`` (another repo only when ``NLLB_ALLOW_CUSTOM_REPOS`` is on).
        """
        spec = (spec or "").strip()
        _bounded("The model choice", spec, MAX_NAME_CHARS)
        if not spec or spec.lower() == BASE:
            return None
        configured = self.settings.adapter_repo
        # Branch names may hold slashes (exp/run-1), so another repo is always written owner/name@revision;
        # a bare owner/name means its main branch only when no repo is configured.
        if "@" in spec or (not configured and "/" in spec):
            repo, _, revision = spec.partition("@")
            repo, revision = repo.strip(), revision.strip() or "main"
            if repo == configured:
                spec = revision
            else:
                if not self.settings.allow_custom_repos:
                    raise InputError(
                        f"This Space only serves {configured or 'the base model'}; other adapter repos are turned "
                        "off (NLLB_ALLOW_CUSTOM_REPOS=false)."
                    )
                if not hub.is_repo_id(repo):
                    # Checked as text only: the server's own folders are never looked at for a visitor, so the
                    # answer cannot tell which paths exist.
                    raise InputError(not_a_repo_id(repo))
                return repo, revision
        if spec == configured:
            spec = self.settings.adapter_revision
        if not configured:
            raise InputError(
                f"No adapter repo is configured (NLLB_ADAPTER_REPO), so '{spec}' is not a model here. "
                "Choose 'base' or give owner/name@revision."
            )
        if Path(configured).expanduser().is_dir():
            if spec not in (LOCAL_REVISION, self.settings.adapter_revision):
                raise InputError(f"The configured adapter is the local folder {configured}: choose 'local' or 'base'.")
            return configured, LOCAL_REVISION
        return configured, spec

    def use_model(self, spec: str) -> ModelRef:
        """Resolve the model ``spec`` names, get its files and check them; cached by (repo, commit).

        Attaching happens inside the model call, in whichever process runs it.
        """
        return self._prepare(spec)[0]

    def describe(self, spec: str) -> tuple[ModelRef, AdapterPlan | None]:
        """What ``spec`` serves: the commit and, for an adapter, what it adapts (ranks, layers, warnings)."""
        ref, files = self._prepare(spec)
        return ref, files.plan if files else None

    def _prepare(self, spec: str) -> Prepared:
        self.load()
        parsed = self.parse_model(spec)
        if parsed is None:
            return BASE_MODEL, None
        return self._registry.ready(self._registry.fetch(*parsed), self._shapes)

    def list_revisions(self, repo: str | None = None) -> hub.Revisions:
        """Branches, tags and recent commits of ``repo`` (default: the configured adapter repo)."""
        repo = (repo or "").strip() or self.settings.adapter_repo
        _bounded("The repo id", repo or "", MAX_NAME_CHARS)
        if not repo:
            raise InputError("No adapter repo is configured (NLLB_ADAPTER_REPO); type a repo id to list.")
        if repo != self.settings.adapter_repo and not self.settings.allow_custom_repos:
            raise InputError("Other adapter repos are turned off on this Space (NLLB_ALLOW_CUSTOM_REPOS=false).")
        if repo == self.settings.adapter_repo and Path(repo).expanduser().is_dir():
            fetched = self._registry.fetch(repo, LOCAL_REVISION)
            return hub.Revisions(repo, (hub.Ref(LOCAL_REVISION, "branch", fetched.sha),), (), ())
        if not hub.is_repo_id(repo):
            raise InputError(not_a_repo_id(repo))
        return hub.list_revisions(repo, token=self._registry.token_for(repo))

    # -- requests ----------------------------------------------------------------------------------------------------

    def translate(
        self,
        text: str,
        src_lang: str | None = None,
        tgt_lang: str | None = None,
        model: str = BASE,
        num_beams: int | None = None,
        max_new_tokens: int | None = None,
        progress: Progress | None = None,
    ) -> Translation:
        """Translate ``text`` of any length with one model, keeping its paragraphs and line breaks."""
        src, tgt = self._languages(src_lang, tgt_lang)
        segmented = self._segment(text)
        decoding = self._decoding(num_beams, max_new_tokens)
        prepared = self._prepare(model)
        start = time.perf_counter()
        outputs = self._translate_pieces(segmented.pieces, src, tgt, [prepared], decoding, progress)
        seconds = time.perf_counter() - start
        return self._assemble(segmented, outputs[0], prepared[0], src, tgt, decoding, seconds)

    def compare(
        self,
        text: str,
        src_lang: str | None = None,
        tgt_lang: str | None = None,
        left: str = BASE,
        right: str | None = None,
        num_beams: int | None = None,
        max_new_tokens: int | None = None,
        batched: bool = True,
        progress: Progress | None = None,
    ) -> Comparison:
        """The same text through two models with the same decoding (default: base vs the configured adapter).

        With ``batched`` both run in the SAME batches (PEFT's ``adapter_names``: one entry per row, ``__base__``
        for the base), which costs about one translation on a memory-bound CPU; otherwise one pass each.
        """
        src, tgt = self._languages(src_lang, tgt_lang)
        segmented = self._segment(text)
        decoding = self._decoding(num_beams, max_new_tokens)
        self.load()
        if right is None:
            if not self.settings.adapter_repo:
                raise InputError("Nothing to compare with: no adapter repo is configured; pick the right model.")
            right = self._configured_spec()
        prepared = [self._prepare(spec) for spec in (left, right)]
        start = time.perf_counter()
        if batched:
            outputs = self._translate_pieces(segmented.pieces, src, tgt, prepared, decoding, progress)
            seconds = [time.perf_counter() - start] * 2
        else:
            outputs, seconds = [], []
            for one in prepared:
                t0 = time.perf_counter()
                outputs.extend(self._translate_pieces(segmented.pieces, src, tgt, [one], decoding, progress))
                seconds.append(time.perf_counter() - t0)
        left_t, right_t = (
            self._assemble(segmented, out, ref, src, tgt, decoding, secs)
            for out, (ref, _), secs in zip(outputs, prepared, seconds)
        )
        return Comparison(left=left_t, right=right_t, batched=batched, seconds=time.perf_counter() - start)

    def attention(
        self,
        text: str,
        src_lang: str | None = None,
        tgt_lang: str | None = None,
        model: str = BASE,
        translation: str | None = None,
        also: Sequence[str] = (),
    ) -> list[AttentionMaps]:
        """Attention maps of ``model`` (then of each model in ``also``) over ONE (source, translation) pair.

        Without ``translation``, ``model`` translates ``text`` greedily first. Every model is run on the same pair
        in one teacher-forced batched forward pass, so their maps can be subtracted (``maps[0].minus(maps[1])``).
        """
        src, tgt = self._languages(src_lang, tgt_lang)
        if not (text or "").strip():
            raise InputError("Enter a sentence to look inside.")
        for what, value in (("The sentence", text), ("The translation to inspect", translation or "")):
            _bounded(what, value, self.settings.max_chars, "NLLB_MAX_CHARS")
            _unicode(value, what)
        prepared = [self._prepare(spec) for spec in (model, *also)]
        tokenizer = self.load().tokenizer
        source_ids = self._encode([text.strip()], src)[0]
        if len(source_ids) > self.settings.max_input_tokens + 2:
            raise InputError(
                f"The attention view takes one sentence of at most {self.settings.max_input_tokens} tokens "
                f"(NLLB_MAX_INPUT_TOKENS); this text has {len(source_ids) - 2}."
            )
        target_ids = None
        if translation and translation.strip():
            target_ids = tuple(tokenizer(translation.strip(), add_special_tokens=False)["input_ids"])
            if len(target_ids) > self.settings.max_new_tokens:
                # Maps grow with the square of the length: the model never writes more than this per sentence.
                raise InputError(
                    f"The translation to inspect has {len(target_ids)} tokens; the attention view takes at most "
                    f"{self.settings.max_new_tokens} (NLLB_MAX_NEW_TOKENS), as many as the model writes for one "
                    "sentence."
                )
        call = worker.AttentionCall(
            slot=self._slot, source_ids=tuple(source_ids), target_ids=target_ids,
            names=tuple(ref.adapter_name for ref, _ in prepared), tgt_lang=tgt,
            max_new_tokens=self.settings.max_new_tokens, adapters=_files(prepared),
        )
        with self._model_gate:
            out = _unless_refused(self.run_attention(call))
        source_tokens = readable_tokens(tokenizer, source_ids)
        target_tokens = readable_tokens(tokenizer, list(out.decoder_ids))
        target_text = tokenizer.decode(list(out.target_ids), skip_special_tokens=True)
        return [
            AttentionMaps(source_tokens, target_tokens, enc, dec, cross, ref, text.strip(), target_text)
            for (ref, _), (enc, dec, cross) in zip(prepared, out.maps)
        ]

    # -- internals -----------------------------------------------------------------------------------------------

    def _languages(self, src_lang: str | None, tgt_lang: str | None) -> tuple[str, str]:
        for name in (src_lang, tgt_lang):
            _bounded("A language name", name or "", MAX_NAME_CHARS)
        try:
            src = resolve_language(src_lang or self.settings.src_lang)
            tgt = resolve_language(tgt_lang or self.settings.tgt_lang)
        except UnknownLanguageError as error:
            raise InputError(str(error)) from None
        if src == tgt:
            raise InputError(
                f"Source and target are both {language_name(src)} ({src}); pick a different target language."
            )
        return src, tgt

    def _segment(self, text: str) -> Segmented:
        if not isinstance(text, str) or not text.strip():
            raise InputError("Enter some text to translate.")
        _unicode(text, "The text")
        if len(text) > self.settings.max_chars:
            raise InputError(
                f"The text has {len(text):,} characters; the limit is {self.settings.max_chars:,} "
                "(NLLB_MAX_CHARS). Split it into smaller parts."
            )
        segmented = split_text(text, max_chars=self.settings.max_sentence_chars)
        if len(segmented.pieces) > self.settings.max_sentences:
            raise InputError(
                f"The text has {len(segmented.pieces)} sentences; the limit is {self.settings.max_sentences} "
                "(NLLB_MAX_SENTENCES). Split it into smaller parts."
            )
        return segmented

    def _decoding(self, num_beams: int | None, max_new_tokens: int | None) -> Decoding:
        beams = self.settings.num_beams if num_beams is None else int(num_beams)
        length = self.settings.max_new_tokens if max_new_tokens is None else int(max_new_tokens)
        if not 1 <= beams <= self.settings.max_beams:
            raise InputError(f"Beam size must be between 1 and {self.settings.max_beams} (NLLB_MAX_BEAMS); got {beams}.")
        if not 1 <= length <= self.settings.max_new_tokens:
            raise InputError(
                f"Max length must be between 1 and {self.settings.max_new_tokens} tokens (NLLB_MAX_NEW_TOKENS); got {length}."
            )
        return Decoding(beams, length)

    def _encode(self, pieces: Sequence[str], src_lang: str) -> list[list[int]]:
        """``[src_lang] + tokens + [</s>]`` per piece.

        Built by hand because ``tokenizer.src_lang`` is shared mutable state (unsafe across threads) and
        ``tokenizer(text, src_lang=...)`` silently ignores the keyword in transformers 5.
        """
        tokenizer = self.load().tokenizer
        ids = tokenizer(list(pieces), add_special_tokens=False)["input_ids"]
        lang_id = tokenizer.convert_tokens_to_ids(src_lang)
        return [[lang_id, *row, tokenizer.eos_token_id] for row in ids]

    def _fit_window(self, piece: str) -> list[str]:
        """Split ``piece`` until each part fits ``max_input_tokens`` (never truncate what the user wrote)."""
        limit = self.settings.max_input_tokens
        n_tokens = len(self._base.tokenizer(piece, add_special_tokens=False)["input_ids"])
        if n_tokens <= limit or len(piece) < 2:
            return [piece]
        max_chars = max(1, min(len(piece) - 1, len(piece) * limit // n_tokens))
        parts = split_text(piece, max_chars=max_chars).pieces
        return [part for sub in parts for part in self._fit_window(sub)]

    def _translate_pieces(
        self, pieces: Sequence[str], src: str, tgt: str, prepared: Sequence[Prepared], decoding: Decoding,
        progress: Progress | None,
    ) -> list[tuple[list[str], int]]:
        """Translate ``pieces`` with each prepared model (all rows in shared batches).

        Returns, per model, the translations of ``pieces`` and the number of tokens generated for them.
        """
        parts_per_piece = [self._fit_window(piece) for piece in pieces]
        flat = [part for parts in parts_per_piece for part in parts]
        encoded = self._encode(flat, src)
        rows = [(tuple(ids), ref.adapter_name) for ref, _ in prepared for ids in encoded]
        generated = self._generate(rows, tgt, decoding, _files(prepared), progress)
        decoded = self.load().tokenizer.batch_decode(generated, skip_special_tokens=True)
        results = []
        for m in range(len(prepared)):
            own = slice(m * len(flat), (m + 1) * len(flat))
            texts = iter(decoded[own])
            joined = [" ".join(next(texts).strip() for _ in parts) for parts in parts_per_piece]
            results.append((joined, sum(len(ids) for ids in generated[own])))
        return results

    def _generate(
        self, rows: Sequence[tuple[tuple[int, ...], str]], tgt: str, decoding: Decoding,
        adapters: tuple[AdapterFiles, ...], progress: Progress | None = None,
    ) -> list[list[int]]:
        """Generated token ids per ``(ids, adapter name)`` row, one model call per batch of similar lengths."""
        order = sorted(range(len(rows)), key=lambda i: -len(rows[i][0]))
        outputs: list[list[int]] = [[] for _ in rows]
        size = self.settings.batch_size
        for start in range(0, len(order), size):
            chunk = order[start:start + size]
            names = tuple(rows[i][1] for i in chunk)
            call = worker.GenerateCall(
                slot=self._slot, ids=tuple(rows[i][0] for i in chunk), names=names, tgt_lang=tgt,
                decoding=decoding, adapters=tuple(files for files in adapters if files.name in names),
            )
            with self._model_gate:  # per batch: a long text lets other requests in between its batches
                generated = _unless_refused(self.run_generate(call))
            for i, tokens in zip(chunk, generated):
                outputs[i] = list(tokens)
            if progress:
                progress(min(start + size, len(order)), len(order))
        return outputs

    def _assemble(
        self, segmented: Segmented, output: tuple[list[str], int], ref: ModelRef, src: str, tgt: str,
        decoding: Decoding, seconds: float,
    ) -> Translation:
        outputs, new_tokens = output
        pairs = tuple(SentencePair(s, t) for s, t in zip(segmented.pieces, outputs))
        return Translation(
            text=join_text(segmented, outputs), sentences=pairs, model=ref, src_lang=src, tgt_lang=tgt,
            num_beams=decoding.num_beams, max_new_tokens=decoding.max_new_tokens, seconds=seconds,
            new_tokens=new_tokens,
        )


def _bounded(what: str, value: str, limit: int, setting: str = "") -> None:
    """Refuse a text parameter over ``limit`` characters before any work is spent on it."""
    if isinstance(value, str) and len(value) > limit:
        raise InputError(
            f"{what} has {len(value):,} characters; the limit is {limit:,}" + (f" ({setting})." if setting else ".")
        )


def _unicode(value: str, what: str) -> None:
    """Refuse text that is not valid Unicode (lone surrogates, which some clipboards and clients send)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InputError(
            f"{what} holds a character that is not valid Unicode at position {error.start} (a lone surrogate); "
            "paste it again as plain text."
        ) from None


def _files(prepared: Sequence[Prepared]) -> tuple[AdapterFiles, ...]:
    """Each distinct adapter's files, in order (base rows need none)."""
    unique = {files.name: files for _, files in prepared if files is not None}
    return tuple(unique.values())


def _unless_refused(result):
    """A model call's result, or the refusal it came back with as the visitor's error."""
    if isinstance(result, worker.Refused):
        raise AdapterError(result.message)
    return result
