"""Issue 6's load scenario, what is asked: who sends which request (``LoadScenario``), each request (``Request``).

``bench/load.py`` runs it and ``bench/load_report.py`` turns what it measured into a report; both read these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SENTENCES = ("Hola, ¿cómo estás?", "El gato duerme en el sofá.", "Mañana vamos a la playa.", "Gracias por tu ayuda.")
"""Default Spanish inputs of the mix (the benchmark passes its own FLORES sentences)."""
ENDPOINTS = ("/translate", "/compare", "/attention")


@dataclass(frozen=True)
class Request:
    """One API call: ``client.predict(*args, api_name=endpoint)``. Hashable, so equal requests share one answer."""

    endpoint: str
    args: tuple[str, ...]
    label: str = field(compare=False)
    """Short readable name, unique per distinct request (the key of :attr:`LoadReport.alone_s`)."""


@dataclass(frozen=True)
class LoadScenario:
    """Who asks what: the request mix of the concurrent clients and the switcher's cycle of revisions."""

    repo: str
    """The app's adapter repo (``NLLB_ADAPTER_REPO``), holding ``main``, ``branch`` and ``tag`` as three commits."""
    branch: str = "exp/run-1"
    tag: str = "v1"
    clients: int = 16
    """Concurrent clients; request ``k`` of the mix goes to client ``k % clients``, each sends its share in order."""
    requests: int = 48
    """Requests the clients send in all (the switcher's come on top)."""
    sentences: tuple[str, ...] = SENTENCES
    src_lang: str = "spa_Latn"
    tgt_lang: str = "ita_Latn"

    def __post_init__(self) -> None:
        if self.clients < 1:
            raise ValueError(f"A load scenario needs at least one client (got {self.clients}).")
        if self.requests < self.clients:
            raise ValueError(f"{self.requests} requests leave some of the {self.clients} clients idle.")
        if not self.sentences:
            raise ValueError("A load scenario needs at least one sentence.")

    @property
    def models(self) -> tuple[str, str, str]:
        """What the mix asks for: the base model and two revisions of the adapter repo."""
        return "base", f"{self.repo}@main", f"{self.repo}@{self.branch}"

    @property
    def switch_models(self) -> tuple[str, ...]:
        """The switcher's cycle: tag, branch, base, main (the tag is the one revision the mix never uses)."""
        return f"{self.repo}@{self.tag}", f"{self.repo}@{self.branch}", "base", f"{self.repo}@main"

    def request(self, k: int) -> Request:
        """The k-th request of the mix.

        The model turns fastest, the endpoint every ``len(models)`` requests, and the sentence independently, so
        even a short mix has each endpoint on each model, and Compare pairs every model with another.
        """
        models = self.models
        index = k % len(self.sentences)
        text, model = self.sentences[index], models[k % len(models)]
        endpoint = ENDPOINTS[(k // len(models)) % len(ENDPOINTS)]
        head = (text, self.src_lang, self.tgt_lang, model)
        if endpoint == "/compare":
            right = models[(k + 1) % len(models)]
            return Request(endpoint, (*head, right, ""), f"compare {_short(model)}|{_short(right)} s{index}")
        return Request(endpoint, head, f"{endpoint[1:]} {_short(model)} s{index}")

    def mix(self) -> list[Request]:
        """Every request the concurrent clients send, in order of ``k``."""
        return [self.request(k) for k in range(self.requests)]

    def switch_request(self, i: int) -> Request:
        """The switcher's i-th request: the first sentence translated with the next revision of its cycle."""
        model = self.switch_models[i % len(self.switch_models)]
        return Request("/translate", (self.sentences[0], self.src_lang, self.tgt_lang, model),
                       f"translate {_short(model)} s0")


def _short(model: str) -> str:
    return model.rsplit("@", 1)[-1]
