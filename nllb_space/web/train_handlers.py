"""What the Train tab's controls do: pick where the pairs come from, train with a live loss curve, stop.

Training itself is the service's (service/training_jobs.py), which runs the command line's training code. Here the
visitor's choices become a :class:`~nllb_space.training.page_runs.PageRun`, each event of the run becomes what the
tab shows, and the finished adapter joins the session's model choices, picked in Compare (beside the base model)
and in What LoRA changed.
"""

from __future__ import annotations

import shlex
import tempfile
from pathlib import Path
from typing import Any, Iterator, NamedTuple

import gradio as gr

from .. import visitors
from ..errors import InputError
from ..hub.model_choice import TRAINED_REPO, ChoicePolicy, parse_choice, spec_of
from ..results import BASE
from ..service.training_jobs import Trained, write_pasted
from ..training.page_runs import PageRun, Phase, RunFailed, StepLogged, defaults
from ..training.teaching import teaching_set
from .handler_inputs import user_errors
from .i18n import visitor_language
from .job_progress import stop_if_gone
from .markdown import Choice, code, escape, merge_choices
from .messages import both, say
from .train_plots import loss_figure

TRAINED_ONLY = ChoicePolicy(None, "main", allow_custom_repos=False)
"""Reads ``trained@<sha>`` and nothing else of the grammar (Publish pushes only what this visitor trained)."""


class TrainSourceShown(NamedTuple):
    train_set: Any
    train_look_for: Any
    train_pasted: Any
    train_upload: Any


class TrainShown(NamedTuple):
    train_status: str
    train_plot: Any
    train_result: str | Any
    choices: list[Choice] | Any
    model: Any
    left: Any
    right: Any
    attention_model: Any
    lora_model: Any
    trained_spec: str | Any


def _same(result: type) -> NamedTuple:
    return result(*(gr.update() for _ in result._fields))


class TrainHandlers:
    """The Train tab's handlers (mixed into ``Handlers``: ``self.engine`` and ``self.settings``)."""

    @staticmethod
    def train_source_changed(source: str) -> TrainSourceShown:
        """Show the control of the chosen source only."""
        return TrainSourceShown(gr.update(visible=source == "set"), gr.update(visible=source == "set"),
                                gr.update(visible=source == "paste"), gr.update(visible=source == "file"))

    @user_errors
    def train_set_changed(self, key: str, request: gr.Request = None) -> str:
        """What to look for after training on the set just picked, in the visitor's language."""
        language = visitor_language(request)
        return say("train_look_for", language, line=teaching_set(key).look_for[language == "es"])

    @user_errors
    def train_adapter(self, source: str, set_key: str, pasted: str, upload: str | None, rank: float, alpha: float,
                      targets: list[str], learning_rate: float, steps: float, choices: list[Choice],
                      request: gr.Request = None) -> Iterator[TrainShown]:
        """Train an adapter on the chosen pairs, showing the loss as it falls; at the end, offer it everywhere."""
        language = visitor_language(request)
        with tempfile.TemporaryDirectory(prefix="nllb-space-pairs-") as work:
            run, held_out = self._page_run(source, set_key, pasted, upload, Path(work), rank, alpha, targets,
                                           learning_rate, steps)
            points: list[StepLogged] = []
            yield _same(TrainShown)._replace(train_status=say("train_starting", language),
                                             train_plot=loss_figure(points, run.steps, language), train_result="")
            for event in self.engine.training.run(run, visitors.current.get()):
                stop_if_gone()  # the page was closed or the request cancelled: closing the run stops it
                if isinstance(event, Phase):
                    yield _same(TrainShown)._replace(train_status=say(f"train_{event.name}", language,
                                                                      held_out=say(held_out, language)))
                elif isinstance(event, StepLogged):
                    points.append(event)
                    yield _same(TrainShown)._replace(
                        train_status=say("train_step", language, step=event.step, steps=event.max_steps,
                                         loss=event.loss, left=round(event.remaining_s)),
                        train_plot=loss_figure(points, run.steps, language))
                elif isinstance(event, RunFailed):
                    message = (say("train_stopped", language) if event.stopped
                               else say("train_failed", language, error=escape(event.message)))
                    yield _same(TrainShown)._replace(train_status=message)
                elif isinstance(event, Trained):
                    yield self._trained(event, run, source, set_key, choices, language)

    def trained_choices(self, visitor: str, language: str) -> list[Choice]:
        """The adapters ``visitor`` trained and still has, as model choices (a reloaded page offers them again)."""
        return [(say("my_adapter", language, sha=trained.sha[:7]), spec_of(TRAINED_REPO, trained.sha))
                for trained in self.engine.trained.of(visitor)]

    def stop_training(self, request: gr.Request = None) -> str | Any:
        """The Stop button: the visitor's run ends at its next step and keeps nothing. With no run going (it had just
        finished, and kept its adapter), the status the run left stays."""
        if not self.engine.training.stop(visitors.of_request(request)):
            return gr.update()
        return say("train_stopped", visitor_language(request))

    def page_closed(self, request: gr.Request = None) -> None:
        """The visitor closed the page: a run of theirs has nobody to show its adapter to."""
        self.engine.training.stop(visitors.of_request(request))

    def _page_run(self, source: str, set_key: str, pasted: str, upload: str | None, work: Path, rank: float,
                  alpha: float, targets: list[str], learning_rate: float, steps: float) -> tuple[PageRun, str]:
        """The run the controls describe, and which pairs its scores are on."""
        eval_file = None
        if source == "set":
            chosen = teaching_set(set_key)
            train_file, eval_file = chosen.train_file, chosen.eval_file
        elif source == "paste":
            train_file = write_pasted(pasted, work)
        else:
            if not upload:
                raise InputError("Choose a .tsv, .csv or .jsonl file of pairs first.",
                                 es="Elige primero un archivo .tsv, .csv o .jsonl de pares.")
            train_file = work / f"pairs{Path(upload).suffix.lower()}"
            train_file.write_bytes(Path(upload).read_bytes())
        settings = self.settings
        run = PageRun(train_file=str(train_file), eval_file=str(eval_file) if eval_file else None,
                      base_model=settings.base_model, base_revision=settings.base_revision,
                      src_lang=settings.src_lang, tgt_lang=settings.tgt_lang, r=int(rank), alpha=int(alpha),
                      targets=tuple(targets or ()), learning_rate=float(learning_rate), steps=int(steps),
                      batch_size=defaults(self.engine.training.on_gpu)["batch_size"])
        if not run.targets:
            raise InputError("Pick at least one projection to adapt.", es="Elige al menos una proyección que adaptar.")
        return run, "train_held_out" if eval_file else "train_held_out_share"

    def _trained(self, trained: Trained, run: PageRun, source: str, set_key: str, choices: list[Choice],
                 language: str) -> TrainShown:
        """The finished run: its scores, what to look for, the same run as a command, and the adapter offered."""
        label = say("my_adapter", language, sha=trained.adapter.sha[:7])
        report = trained.report
        lines = [say("train_done", language, label=code(label), steps=report["training"]["steps"]),
                 say("train_scores", language, label=label, base_bleu=report["base"]["bleu"],
                     base_chrf=report["base"]["chrf"], lora_bleu=report["lora"]["bleu"],
                     lora_chrf=report["lora"]["chrf"], pairs=report["base"]["sentences"])]
        if source == "set":
            lines.append(say("train_look_for", language, line=teaching_set(set_key).look_for[language == "es"]))
        flags = run.flags("runs/my-adapter")
        in_repo = f"nllb_space/training/teaching_sets/{set_key}"  # where a checkout of this Space has the set
        named = {"--train-file": f"{in_repo}.tsv" if source == "set" else "my_pairs.tsv",
                 "--eval-file": f"{in_repo}.eval.tsv"}
        shown = [named.get(flags[i - 1], flag) if i else flag for i, flag in enumerate(flags)]
        lines.append(say("train_command", language) + "\n\n```\npython train/run.py "
                     + " ".join(shlex.quote(part) for part in shown) + "\n```")
        known = merge_choices(choices or [], [(label, trained.spec)])
        return TrainShown(gr.update(value=""), gr.update(), "\n\n".join(lines), known,
                          model=gr.update(choices=known), left=gr.update(choices=known, value=BASE),
                          right=gr.update(choices=known, value=trained.spec),
                          attention_model=gr.update(choices=known),
                          lora_model=gr.update(choices=known, value=trained.spec), trained_spec=trained.spec)

    @user_errors
    def publish_adapter(self, spec: str, name: str, branch: str, tag: str,
                        oauth_profile: gr.OAuthProfile | None = None, oauth_token: gr.OAuthToken | None = None,
                        request: gr.Request = None) -> str:
        """Push the visitor's last trained adapter, with its card, to a repo in the visitor's own account, with the
        visitor's own token (Spaces OAuth; run locally, the machine's ``hf auth login``)."""
        language = visitor_language(request)
        if oauth_token is None or oauth_profile is None:
            raise InputError(**both("publish_sign_in"))
        if not spec:
            raise InputError(**both("publish_nothing"))
        repo_id = f"{oauth_profile.username}/{(name or '').strip()}"
        folder = self.engine.trained.folder(parse_choice(spec, TRAINED_ONLY).revision, visitors.current.get())
        pushed = self.engine.training.publish(folder, repo_id, branch=(branch or "").strip() or "main",
                                              tag=(tag or "").strip() or None, token=oauth_token.token)
        return say("published", language, repo=escape(pushed.repo_id), url=pushed.url, branch=code(pushed.branch),
                   tagged=f", tag {code(pushed.tag)}" if pushed.tag else "", sha=code(pushed.sha[:7]),
                   spec=code(spec_of(pushed.repo_id, pushed.tag or pushed.branch)))
