"""How every Hub call is made, and how its failures become messages a user can act on.

Every call of :mod:`nllb_space.hub.revisions` and :mod:`nllb_space.hub.downloads` goes through :func:`call`, so retries,
deadlines and error wording are decided here once. Every failure leaves as a :class:`HubError` whose message says
what happened and what to do, never containing the token. Transient failures (timeouts, connection errors, HTTP 5xx)
are retried :data:`RETRY_ATTEMPTS` times with exponential backoff from :data:`RETRY_BASE_DELAY_S`; 4xx are not
retried. Calls that huggingface_hub already retries itself (paginated listings such as the commit history, and file
downloads: up to ~23 s of 1-8 s backoff) are not retried again here.

huggingface_hub 2.4's default HTTP client has no timeout; calls that accept one get :data:`REQUEST_TIMEOUT_S`.

The timing constants are read through this module at call time (``calls.REQUEST_TIMEOUT_S``, never imported by
name), so that setting them here (tests do) reaches every caller. ``huggingface_hub`` is imported lazily, so
``HF_ENDPOINT``, ``HF_HOME`` and friends may still be set after this module is imported.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Callable, TypeVar

from ..errors import UserFacingError
from .deadlines import Saturated, within
from .ids import DEFAULT_BRANCH

if TYPE_CHECKING:  # pragma: no cover - typing only; the real import is lazy
    from huggingface_hub import HfApi

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_ATTEMPTS = 3
"""How many times a call is tried when the Hub fails transiently (timeout, connection error, HTTP 5xx)."""
RETRY_BASE_DELAY_S = 0.5
"""Wait before the first retry; it doubles for each further one (0.5 s, 1 s with the defaults)."""
REQUEST_TIMEOUT_S = 10.0
"""Timeout of the metadata calls that take one (repo info, file metadata during downloads)."""
CALL_TIMEOUT_S = 20.0
"""The longest a visitor's request waits for one Hub call of any kind (listings take no timeout of their own)."""
DOWNLOAD_TIMEOUT_S = 300.0
"""The longest one adapter file download may take (200 MB at under 1 MB/s)."""


class HubError(UserFacingError):
    """A Hub operation failed. The message is user-facing: it says what happened and what to do, without the token."""


class RepoNotFound(HubError):
    """The repository does not exist, or it is private/gated and the token (if any) cannot read it."""


class RevisionNotFound(HubError):
    """The branch, tag or commit does not exist in the repository."""


class HubUnavailable(HubError):
    """The Hub could not be reached or did not answer properly (timeout, connection error, HTTP 5xx, offline mode)."""


def api(token: str | None) -> "HfApi":
    """A client for ``token`` (``None``: ``HF_TOKEN`` or the saved login; ``False``: anonymous)."""
    from huggingface_hub import HfApi

    return HfApi(token=token)


def call(
    fn: Callable[[], T],
    *,
    action: str,
    action_es: str,
    repo_id: str,
    api: "HfApi",
    token: str | None,
    revision: str | None = None,
    attempts: int | None = None,
    seconds: float | None = ...,  # type: ignore[assignment]  (Ellipsis: CALL_TIMEOUT_S, read at call time)
) -> T:
    """Run ``fn``, retrying transient failures, and turn huggingface_hub/httpx errors into :class:`HubError`.

    ``action`` completes "... while trying to <action>" in messages and ``action_es`` their Spanish texts ("... al
    intentar <action_es>"): both are infinitive phrases ("list the tags of 'x'", "listar las etiquetas de 'x'"). Each
    try gets at most ``seconds`` on one of time_bound's few threads (``None``: no deadline, on this thread).
    """
    tries = max(1, RETRY_ATTEMPTS if attempts is None else attempts)
    seconds = CALL_TIMEOUT_S if seconds is ... else seconds
    for attempt in range(1, tries + 1):
        try:
            return within(fn, seconds)
        except Saturated:
            raise HubUnavailable(
                f"The Hub is not answering (earlier requests to it are still waiting) while trying to {action}; "
                "try again in a minute.",
                es=f"El Hub no responde (hay peticiones anteriores que siguen esperando) al intentar {action_es}; "
                "vuelve a intentarlo en un minuto.",
            ) from None
        except HubError:
            raise
        except Exception as exc:  # noqa: BLE001 - classified below; unknown errors are re-raised untouched
            if attempt < tries and _is_transient(exc):
                delay = RETRY_BASE_DELAY_S * 2 ** (attempt - 1)
                logger.warning(
                    "Hub call failed while trying to %s (%s); retry %d/%d in %.2f s",
                    action, _short(exc), attempt, tries - 1, delay,
                )
                time.sleep(delay)
                continue
            mapped = _to_hub_error(exc, action=action, action_es=action_es, repo_id=repo_id, revision=revision,
                                   api=api, token=token)
            if mapped is None:
                raise
            raise mapped from exc
    raise AssertionError("unreachable")  # pragma: no cover


def http_status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and its ``__cause__``/``__context__`` chain (the download layer wraps network errors)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _is_transient(exc: BaseException) -> bool:
    """Timeouts, connection errors and HTTP 5xx: worth retrying. 4xx and offline mode are not."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

    for err in _causes(exc) if isinstance(exc, LocalEntryNotFoundError) else [exc]:
        if isinstance(err, OfflineModeIsEnabled):
            return False
        if isinstance(err, HfHubHTTPError):
            return (http_status(err) or 0) >= 500
        if isinstance(err, (httpx2.TimeoutException, httpx2.NetworkError, httpx2.RemoteProtocolError)):
            return True
        if isinstance(err, (TimeoutError, ConnectionError)):
            return True
    return False


def _to_hub_error(
    exc: BaseException, *, action: str, action_es: str, repo_id: str, revision: str | None, api: "HfApi",
    token: str | None,
) -> HubError | None:
    """The :class:`HubError` a user should see for ``exc``; ``None`` for errors that are bugs, not Hub trouble."""
    import httpx2
    from huggingface_hub.errors import (
        DisabledRepoError,
        GatedRepoError,
        HfHubHTTPError,
        HFValidationError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    retry_hint, retry_hint_es = "try again in a minute.", "vuelve a intentarlo en un minuto."
    if isinstance(exc, HFValidationError):
        return HubError(f"'{repo_id}' is not a valid Hub repository id: use 'owner/name' (letters, digits, -, _, .).",
                        es=f"'{repo_id}' no es un id de repositorio válido del Hub: usa 'owner/name' (letras, dígitos, "
                        "-, _, .).")
    if any(isinstance(e, OfflineModeIsEnabled) for e in _causes(exc)):
        return HubUnavailable(
            f"Offline mode is on (HF_HUB_OFFLINE=1), so the Hub cannot be asked to {action}. "
            "Unset HF_HUB_OFFLINE, or use an adapter already downloaded, by its commit sha.",
            es=f"El modo sin conexión está activado (HF_HUB_OFFLINE=1), así que no se puede consultar al Hub para "
            f"{action_es}. Quita HF_HUB_OFFLINE o usa un adaptador ya descargado, por el sha de su commit.",
        )
    if isinstance(exc, GatedRepoError):
        return RepoNotFound(
            f"Repository '{repo_id}' is gated: accept its conditions on the Hub, then set HF_TOKEN to a token of "
            "that account.",
            es=f"El repositorio '{repo_id}' es de acceso restringido: acepta sus condiciones en el Hub y luego pon en "
            "HF_TOKEN un token de esa cuenta.",
        )
    if isinstance(exc, RepositoryNotFoundError):
        return repo_not_found(repo_id, token)
    if isinstance(exc, RevisionNotFoundError):
        message, message_es = _revision_not_found_messages(repo_id, revision, api)
        return RevisionNotFound(message, es=message_es)
    if isinstance(exc, DisabledRepoError):
        return RepoNotFound(f"Repository '{repo_id}' has been disabled on the Hub; use another repository.",
                            es=f"El repositorio '{repo_id}' está desactivado en el Hub; usa otro repositorio.")
    if isinstance(exc, RemoteEntryNotFoundError):
        return HubError(
            f"A file is missing from '{repo_id}' at '{revision or DEFAULT_BRANCH}' while trying to {action}; "
            "push a complete adapter folder to that revision.",
            es=f"Falta un archivo en '{repo_id}' en '{revision or DEFAULT_BRANCH}' al intentar {action_es}; "
            "sube a esa revisión una carpeta de adaptador completa.",
        )
    if isinstance(exc, HfHubHTTPError):
        status = http_status(exc)
        if status == 401:
            return HubError(
                f"The Hub rejected the token (401 Unauthorized) while trying to {action}. "
                "Check HF_TOKEN: it may be expired, revoked or mistyped.",
                es=f"El Hub rechazó el token (401 Unauthorized) al intentar {action_es}. "
                "Comprueba HF_TOKEN: puede estar caducado, revocado o mal escrito.",
            )
        if status == 403:
            namespace = repo_id.split("/")[0]
            return HubError(
                f"The token is not allowed to {action} (403 Forbidden). "
                f"Use a token with write access to the '{namespace}' namespace.",
                es=f"El token no tiene permiso para {action_es} (403 Forbidden). "
                f"Usa un token con acceso de escritura al espacio de nombres '{namespace}'.",
            )
        if status == 412:
            return HubError(
                f"'{repo_id}' changed on the Hub while trying to {action} (412: another push landed first, or an "
                "earlier attempt of this one went through before its answer was lost). Nothing was overwritten: "
                "look at the branch on the Hub, then push again.",
                es=f"'{repo_id}' cambió en el Hub al intentar {action_es} (412: otra subida llegó antes, o un intento "
                "anterior de esta se completó antes de que se perdiera su respuesta). No se sobrescribió nada: mira "
                "la rama en el Hub y vuelve a subir.",
            )
        if status == 429:
            return HubUnavailable(f"The Hub is rate-limiting requests (429) while trying to {action}; {retry_hint}",
                                  es=f"El Hub está limitando las peticiones (429) al intentar {action_es}; "
                                  f"{retry_hint_es}")
        if status is not None and status >= 500:
            return HubUnavailable(f"The Hub did not answer (HTTP {status}) while trying to {action}; {retry_hint}",
                                  es=f"El Hub no respondió (HTTP {status}) al intentar {action_es}; {retry_hint_es}")
        detail = _scrub(getattr(exc, "server_message", None) or "", token)
        # The Hub's own detail is English either way; it is quoted as the Hub wrote it.
        detail = f": {detail.rstrip('.')}." if detail else "."
        return HubError(f"The Hub refused to {action} (HTTP {status})" + detail,
                        es=f"El Hub se negó a {action_es} (HTTP {status})" + detail)
    if isinstance(exc, LocalEntryNotFoundError):
        return HubUnavailable(
            f"Could not {action}: the Hub did not answer and the files are not in the local cache; {retry_hint}",
            es=f"No se pudo {action_es}: el Hub no respondió y los archivos no están en la caché local; "
            f"{retry_hint_es}",
        )
    if isinstance(exc, (httpx2.TimeoutException, TimeoutError)):
        return HubUnavailable(f"The Hub did not answer in time (timeout) while trying to {action}; {retry_hint}",
                              es=f"El Hub no respondió a tiempo (timeout) al intentar {action_es}; {retry_hint_es}")
    if isinstance(exc, (httpx2.NetworkError, httpx2.RemoteProtocolError, ConnectionError)):
        from huggingface_hub import constants

        return HubUnavailable(
            f"Could not connect to the Hub at {constants.ENDPOINT} while trying to {action} (connection error); "
            f"check the network and {retry_hint}",
            es=f"No se pudo conectar con el Hub en {constants.ENDPOINT} al intentar {action_es} (error de conexión); "
            f"comprueba la red y {retry_hint_es}",
        )
    return None


def _revision_not_found_messages(repo_id: str, revision: str | None, api: "HfApi") -> tuple[str, str]:
    """The message in English and in Spanish."""
    message = f"Revision '{revision}' does not exist in '{repo_id}'."
    message_es = f"La revisión '{revision}' no existe en '{repo_id}'."
    try:  # best effort, one try: the message is still useful without the list
        refs = within(lambda: api.list_repo_refs(repo_id, repo_type="model"), CALL_TIMEOUT_S)  # bounded too
    except Exception:  # noqa: BLE001
        logger.debug("Could not list the refs of %s for an error message", repo_id, exc_info=True)
        return (message + " Use a branch, a tag or a full 40-character commit sha.",
                message_es + " Usa una rama, una etiqueta o el sha completo de un commit (40 caracteres).")
    branches = ", ".join(sorted((r.name for r in refs.branches), key=lambda name: (name != DEFAULT_BRANCH, name)))
    tags = ", ".join(sorted(r.name for r in refs.tags))
    return (
        f"{message} Branches: {branches or '(none)'}; tags: {tags or '(none)'}. "
        "Use one of those or a full 40-character commit sha.",
        f"{message_es} Ramas: {branches or '(ninguna)'}; etiquetas: {tags or '(ninguna)'}. "
        "Usa una de ellas o el sha completo de un commit (40 caracteres).",
    )


def _has_token(token: str | bool | None) -> bool:
    if token is False:  # anonymous on purpose: the environment's token is not used
        return False
    if token:
        return True
    from huggingface_hub import get_token

    return get_token() is not None


def _scrub(text: str, token: str | None) -> str:
    """Remove any token from text that goes into a message."""
    from huggingface_hub import get_token

    for secret in {token, get_token()}:
        if secret:
            text = text.replace(secret, "***")
    return text


def _short(exc: BaseException) -> str:
    """One line naming the error, for logs (never includes request headers, hence never the token)."""
    status = http_status(exc)
    return f"{type(exc).__name__}" + (f" {status}" if status else "")


def repo_not_found(repo_id: str, token: str | bool | None) -> RepoNotFound:
    """What a caller reading with ``token`` is told of a repo it cannot read: the same whether the repo does not exist
    or is private, so an answer never tells a visitor that a private repo is there."""
    if token is False:
        return RepoNotFound(
            f"Repository '{repo_id}' was not found on the Hub, or it is private: repos other than this Space's "
            "own adapter repo are read anonymously, so only public ones can be chosen. Check the name.",
            es=f"No se encontró el repositorio '{repo_id}' en el Hub, o es privado: los repositorios distintos "
            "del repositorio de adaptadores de este Space se leen de forma anónima, así que solo se pueden elegir "
            "los públicos. Comprueba el nombre.",
        )
    if _has_token(token):
        return RepoNotFound(
            f"Repository '{repo_id}' was not found on the Hub (or it is private and the token in use cannot "
            "read it). Check the name, or use a token with read access.",
            es=f"No se encontró el repositorio '{repo_id}' en el Hub (o es privado y el token en uso no puede "
            "leerlo). Comprueba el nombre o usa un token con acceso de lectura.",
        )
    return RepoNotFound(
        f"Repository '{repo_id}' was not found on the Hub (or it is private and no HF_TOKEN is set). "
        "Check the name, or set HF_TOKEN to a token that can read it.",
        es=f"No se encontró el repositorio '{repo_id}' en el Hub (o es privado y no hay ningún HF_TOKEN "
        "definido). Comprueba el nombre o pon en HF_TOKEN un token que pueda leerlo.",
    )
