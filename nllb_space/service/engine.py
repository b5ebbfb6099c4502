"""The translation engine, the UI's face: plain strings in, plain results out, and every model call by value.

Data flows one way: the UI calls ``translate`` / ``compare`` / ``translate_many`` / ``attention`` with strings; the
engine checks them (service/request_limits.py), parses each model choice once (hub/model_choice.py), resolves it to a
commit and gets its files (service/adapter_registry.py: Hub work, here in the main process), then runs the texts through
the one translation path (model/pipeline.py) with the GPU functions of ``model/worker.py`` as its model call, which on
ZeroGPU run in forked worker processes. The results are plain values (results.py).

Each call to the model is one batch of at most ``NLLB_BATCH_SIZE`` rows, sorted by length so padding wastes little;
so a long text reports progress between batches, and on ZeroGPU each call asks for a GPU only as long as its batch
needs.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from typing import Callable, Iterator, Sequence

from ..errors import InputError, ModelLoadError, UserFacingError
from ..hub import revisions as hub
from ..hub.ids import is_repo_id
from ..hub.model_choice import ChoicePolicy, local_folder, parse_choice, spec_of
from ..hub.revision_facts import RevisionFacts
from ..lora_config import linear_shapes
from ..model import worker
from ..model.adapter_check import AdapterFiles, AdapterPlan
from ..model.hardware import cpu_threads, model_concurrency, on_zero_gpu
from ..model.loading import LoadedBase, load_base, pick_device
from ..model.pipeline import Pipeline, Progress, Splitting, TextOutput
from ..model.slot import Decoding, SlotLimits
from ..model.update_map import UpdateMap
from ..results import BASE, BASE_MODEL, Comparison, EngineStatus, ModelRef, RowTranslations, Translation
from ..settings import Settings
from ..text.segment import Segmented
from . import disk
from . import request_limits as limits
from .adapter_registry import AdapterRegistry
from .fair_gate import FairGate
from .model_copies import Lanes
from .model_views import Inspection, files_of, unless_refused
from .revision_listing import RevisionListing
from .trained_adapters import TrainedAdapters
from .training_jobs import TrainingJobs

logger = logging.getLogger(__name__)

Prepared = tuple[ModelRef, AdapterFiles | None]
"""A model choice ready for a model call: what answered, and the files a worker attaches it from."""


class Engine(Inspection, RevisionListing):
    """Serves translations from one base model with any number of LoRA adapter revisions."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._base: LoadedBase | None = None
        self._shapes: dict[str, tuple[int, int]] = {}
        self._load_lock = threading.Lock()
        self._slot = uuid.uuid4().hex
        self._adapter_disk = disk.AdapterDisk(int(settings.adapter_disk_mb * 1_000_000),
                                              (settings.base_model, settings.adapter_repo or ""), self._adapters_in_use)
        self.trained = TrainedAdapters(settings.trained_ttl_s, settings.trained_max)
        """Adapters visitors trained in the Train tab, each for its trainer only (service/trained_adapters.py)."""
        self._registry = AdapterRegistry(settings, self._adapter_disk, self.trained)
        self.training = TrainingJobs(settings, self.trained, on_gpu=on_zero_gpu())
        """The Train tab's runs: limits, and where they run (service/training_jobs.py)."""
        self._revision_facts = RevisionFacts()
        self._default_adapter: ModelRef | None = None
        self._repo_private: bool | None = None
        """Whether ``NLLB_ADAPTER_REPO`` is private, as the Hub said at load (``None``: not asked, or no answer)."""
        self.adapter_error: UserFacingError | None = None
        """Why the configured adapter could not be loaded at start-up (the base model is served meanwhile)."""
        self.model_slots = model_concurrency(settings.concurrency, on_cpu=_on_cpu(settings.device))
        """Model calls run at once (``NLLB_CONCURRENCY``); other requests' input checks and Hub work go on meanwhile."""
        self._model_gate = FairGate(self.model_slots)
        self._lanes = Lanes(self._model_gate, self._slot)
        """The model copies calls run on (service/model_copies.py): one, or ``NLLB_CONCURRENCY`` of them on a CPU."""
        self._update_maps: OrderedDict[str, UpdateMap] = OrderedDict()
        """Update maps by adapter name (repo and commit): a commit's tensors never change, so each is computed once."""
        self._update_maps_lock = threading.Lock()
        self.run_generate = worker.run_generate
        self.run_attention = worker.run_attention
        self.run_token_probs = worker.run_token_probs
        """The ``@spaces.GPU`` functions; tests wrap them in ZeroGPU's own worker machinery."""

    @property
    def _policy(self) -> ChoicePolicy:
        return ChoicePolicy.of(self.settings, self._repo_private)

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
                                    self.settings.restrict_vocab,
                                    cpu_threads(self.settings.cpu_threads, self.model_slots))
                worker.install(self._slot, base, limits)
                # A CPU model call holds its copy to the end: one more copy per slot (ZeroGPU's workers have theirs).
                if base.device == "cpu" and not on_zero_gpu():
                    for _ in range(self.model_slots - 1):
                        key = uuid.uuid4().hex
                        worker.install(key, load_base(self.settings), limits)
                        self._lanes.add(key)
                self._base = base
                if self.settings.adapter_repo:
                    self._repo_private = self._ask_private()
                    self._load_default_adapter()
        return self._base

    def _ask_private(self) -> bool | None:
        """Whether the configured repo is private, when ``NLLB_VISITOR_REVISIONS=auto`` needs to know."""
        repo = self.settings.adapter_repo
        if self.settings.visitor_revisions.strip().lower() != "auto" or local_folder(repo) or not is_repo_id(repo):
            return None
        try:
            return hub.repo_is_private(repo, self._registry.token_for(repo))
        except hub.HubError as error:  # unknown: visitors get the configured revision only, as for a private repo
            logger.warning("Could not tell whether %s is private (%s); serving visitors its configured revision only",
                           repo, error)
            return None

    def _load_default_adapter(self) -> None:
        try:
            self._default_adapter = self.prepare(self._policy.configured.spec)[0]
            self.adapter_error = None
        except (InputError, hub.HubError, ValueError) as error:
            # The Space still serves the base model; the page shows why the adapter is missing, in each visitor's
            # language, so the error is kept with both texts.
            spec = spec_of(self.settings.adapter_repo, self.settings.adapter_revision)
            reason_es = error.in_language("es") if isinstance(error, UserFacingError) else str(error)
            self.adapter_error = UserFacingError(f"Adapter {spec}: {error}", es=f"Adaptador {spec}: {reason_es}")
            logger.error(self.adapter_error)

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
        """Remove old result files, visitors' cached adapters beyond ``NLLB_ADAPTER_DISK_MB`` (service/disk.py; each
        download makes its own room first; nothing ready to serve or attached here is touched) and trained adapters
        past ``NLLB_TRAINED_TTL``."""
        disk.sweep_results(self.settings.file_ttl_s)
        self._adapter_disk.trim()
        self.trained.sweep()

    def _adapters_in_use(self) -> set[str]:
        """The folders of the adapter revisions ready to serve or attached here: the disk budget never removes them."""
        in_use = self._registry.folders()
        if self._base is not None:
            for key in self._lanes.keys:
                in_use |= set(worker.slot(key).folders())
        return in_use

    def attached(self) -> tuple[str, ...]:
        """Adapter names attached to the model in THIS process, every lane's (on ZeroGPU the workers hold their
        own)."""
        if self._base is None:
            return ()
        return tuple(dict.fromkeys(name for key in self._lanes.keys for name in worker.slot(key).attached()))

    # -- model choice ----------------------------------------------------------------------------------------------

    def prepare(self, spec: str) -> Prepared:
        """What ``spec`` names, ready for a model call: resolved to a commit, its files fetched and checked (cached
        by repo and commit). Attaching happens inside the model call, in whichever process runs it."""
        self.load()
        choice = parse_choice(spec, self._policy)
        if choice.is_base:
            return BASE_MODEL, None
        return self._registry.ready(self._registry.fetch(choice.repo, choice.revision), self._shapes)

    def describe(self, spec: str) -> tuple[ModelRef, AdapterPlan | None]:
        """What ``spec`` serves: the commit and, for an adapter, what it adapts (ranks, layers, warnings)."""
        ref, files = self.prepare(spec)
        return ref, files.plan if files else None

    # -- requests ----------------------------------------------------------------------------------------------------

    def translate(
        self, text: str, src_lang: str | None = None, tgt_lang: str | None = None, model: str = BASE,
        num_beams: int | None = None, max_new_tokens: int | None = None, progress: Progress | None = None,
        adapter_scale: float | None = None,
    ) -> Translation:
        """Translate ``text`` of any length with one model, keeping its paragraphs and line breaks.

        ``adapter_scale`` sets how strongly an adapter applies its update for this request only: 0 is the base
        model, 1 (the default) the adapter as trained, up to 2.
        """
        *_, result = self.translate_stream(text, src_lang, tgt_lang, model, num_beams, max_new_tokens, progress,
                                           adapter_scale)
        return result

    def translate_stream(
        self, text: str, src_lang: str | None = None, tgt_lang: str | None = None, model: str = BASE,
        num_beams: int | None = None, max_new_tokens: int | None = None, progress: Progress | None = None,
        adapter_scale: float | None = None,
    ) -> Iterator[str | Translation]:
        """:meth:`translate`, yielding the text as far as it is translated after each batch but the last (sentences
        not done yet read ``…``), then the :class:`Translation`."""
        src, tgt = limits.languages(self.settings, src_lang, tgt_lang)
        segmented = self._segment(text)
        decoding = limits.decoding(self.settings, num_beams, max_new_tokens, adapter_scale)
        prepared = [self.prepare(model)]
        start = time.perf_counter()
        names = [prepared[0][0].adapter_name]
        steps = self._pipeline(decoding.num_beams).translate_steps(
            [segmented], src, names, self._batches(prepared, tgt, decoding), progress, decoding.max_new_tokens)
        while True:
            try:
                yield next(steps)[0][0]
            except StopIteration as finished:
                (output,), = finished.value
                break
        yield self._translation(output, prepared[0][0], src, tgt, decoding, time.perf_counter() - start)

    def compare(
        self, text: str, src_lang: str | None = None, tgt_lang: str | None = None, left: str = BASE,
        right: str | None = None, num_beams: int | None = None, max_new_tokens: int | None = None,
        batched: bool = True, progress: Progress | None = None,
    ) -> Comparison:
        """The same text through two models with the same decoding (default: base vs the configured adapter).

        With ``batched`` both run in the SAME batches (PEFT's ``adapter_names``: one entry per row, ``__base__``
        for the base), which costs about one translation on a memory-bound CPU; otherwise one pass each.
        """
        src, tgt = limits.languages(self.settings, src_lang, tgt_lang)
        segmented = self._segment(text)
        decoding = limits.decoding(self.settings, num_beams, max_new_tokens)
        self.load()
        if right is None:
            if self._policy.configured is None:
                raise InputError("Nothing to compare with: no adapter repo is configured; pick the right model.",
                                 es="No hay con qué comparar: no hay ningún repositorio de adaptadores configurado; "
                                    "elige el modelo derecho.")
            right = self._policy.configured.spec
        prepared = [self.prepare(spec) for spec in (left, right)]
        start = time.perf_counter()
        if batched:
            outputs = [out[0] for out in self._run([segmented], src, tgt, prepared, decoding, progress)]
            seconds = [time.perf_counter() - start] * 2
        else:
            outputs, seconds = [], []
            for one in prepared:
                t0 = time.perf_counter()
                outputs.append(self._run([segmented], src, tgt, [one], decoding, progress)[0][0])
                seconds.append(time.perf_counter() - t0)
        left_t, right_t = (
            self._translation(out, ref, src, tgt, decoding, secs)
            for out, (ref, _), secs in zip(outputs, prepared, seconds)
        )
        return Comparison(left=left_t, right=right_t, batched=batched, seconds=time.perf_counter() - start)

    def translate_many(
        self, texts: Sequence[str], src_lang: str | None = None, tgt_lang: str | None = None,
        models: Sequence[str] = (BASE,), num_beams: int | None = None, max_new_tokens: int | None = None,
        progress: Progress | None = None,
    ) -> RowTranslations:
        """Many short texts (a file's rows) through each model in ``models``, all in shared batches.

        Each row keeps its own layout; the rows together are one job, budgeted by ``NLLB_MAX_JOB_SENTENCES``.
        """
        src, tgt = limits.languages(self.settings, src_lang, tgt_lang)
        decoding = limits.decoding(self.settings, num_beams, max_new_tokens)
        pipeline = self._pipeline()
        segmented = [pipeline.segment(text if isinstance(text, str) else "") for text in texts]
        limits.job_rows(self.settings, texts, segmented)
        prepared = [self.prepare(spec) for spec in models]
        start = time.perf_counter()
        outputs = self._run(segmented, src, tgt, prepared, decoding, progress)
        return RowTranslations(
            models=tuple(ref for ref, _ in prepared), outputs=tuple(tuple(o.text for o in out) for out in outputs),
            seconds=time.perf_counter() - start,
        )

    # -- internals -----------------------------------------------------------------------------------------------

    def _pipeline(self, num_beams: int = 1) -> Pipeline:
        """The translation path for a request decoding with ``num_beams`` (batches: ``Splitting.for_decoding``)."""
        base = self.load()
        return Pipeline(base.tokenizer, Splitting.of(self.settings).for_decoding(num_beams, base.device))

    def _segment(self, text: str) -> Segmented:
        limits.text_before_splitting(self.settings, text)
        segmented = self._pipeline().segment(text)
        limits.sentence_count(self.settings, segmented)
        return segmented

    def _run(
        self, texts: Sequence[Segmented], src: str, tgt: str, prepared: Sequence[Prepared], decoding: Decoding,
        progress: Progress | None,
    ) -> list[list[TextOutput]]:
        """``texts`` through each prepared model, one GPU call per batch; ``outputs[model][text]``."""
        names = [ref.adapter_name for ref, _ in prepared]
        return self._pipeline(decoding.num_beams).translate(
            texts, src, names, self._batches(prepared, tgt, decoding), progress, decoding.max_new_tokens)

    def _batches(self, prepared: Sequence[Prepared], tgt: str, decoding: Decoding) -> Callable:
        """The pipeline's model call: one GPU call per batch of rows, each row through its own model."""
        adapters = files_of(prepared)

        def run(ids: tuple[tuple[int, ...], ...], names: tuple[str, ...]) -> list[list[int]]:
            # Per batch: a long text lets other requests in between its batches.
            with self._lanes.take() as lane:
                call = worker.GenerateCall(
                    slot=lane, ids=ids, names=names, tgt_lang=tgt, decoding=decoding,
                    adapters=tuple(files for files in adapters if files.name in names),
                )
                return unless_refused(self.run_generate(call))

        return run

    @staticmethod
    def _translation(
        output: TextOutput, ref: ModelRef, src: str, tgt: str, decoding: Decoding, seconds: float
    ) -> Translation:
        return Translation(
            text=output.text, sentences=output.sentences, model=ref, src_lang=src, tgt_lang=tgt,
            num_beams=decoding.num_beams, max_new_tokens=decoding.max_new_tokens, seconds=seconds,
            new_tokens=output.new_tokens, adapter_scale=decoding.adapter_scale,
            stopped_at_limit=output.stopped_at_limit,
        )


def _on_cpu(device_setting: str) -> bool:
    """Whether ``NLLB_DEVICE`` resolves to the CPU; a device that cannot be had is reported by ``load()``, with the
    rest of what start-up says, not here."""
    try:
        return pick_device(device_setting) == "cpu"
    except ModelLoadError:
        return False
