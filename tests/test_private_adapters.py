"""A private adapter is never served to a visitor without the owner's token: not while the Hub is down, not while its
threads are busy, and not later because it was once served (issue 23, section 1).

The Space's Hub cache holds a commit of the owner's private repo because the Space once served it as
``NLLB_ADAPTER_REPO``. A visitor then asks for ``owner/private@<full sha>``. The rule: a visitor's request uses
cached files only for a repo a Hub answer showed readable *anonymously*; otherwise it gets the same message as a repo
that does not exist.
"""

from __future__ import annotations

import pytest

from nllb_space.testing.pairs import SOURCES
from tests.model_fixtures import tiny_settings

SENTENCE = SOURCES[0]

PRIVATE_REPO = "owner/private-lora"


@pytest.fixture()
def cached_private_sha(hub, tiny_model_dir, adapter_dirs):
    """A private repo's commit, served once by a Space configured with it, so its files are in the Hub cache."""
    from nllb_space.service.engine import Engine

    files = {p.name: p.read_bytes() for p in adapter_dirs["a"].iterdir()}
    sha = hub.commit_files(PRIVATE_REPO, files, message="the owner's private adapter")
    hub.set_private(PRIVATE_REPO)
    owner = Engine(tiny_settings(tiny_model_dir, adapter_repo=PRIVATE_REPO, visitor_revisions="all"))
    assert owner.translate(SENTENCE, model=sha).model.sha == sha  # with the owner's token: served, and now cached
    return sha


@pytest.fixture()
def visitors_space(tiny_model_dir):
    """A Space that no longer configures the private repo: visitors' repos are read anonymously."""
    from nllb_space.service.engine import Engine

    engine = Engine(tiny_settings(tiny_model_dir, adapter_repo=None))
    engine.load()
    return engine


def _refused_as_missing(engine, spec: str) -> str:
    from nllb_space.hub import revisions as hub

    with pytest.raises(hub.RepoNotFound) as refused:
        engine.translate(SENTENCE, model=spec)
    assert "not found" in str(refused.value) and "private" in str(refused.value)
    return str(refused.value)


def test_refused_while_the_hub_is_healthy(cached_private_sha, visitors_space):
    _refused_as_missing(visitors_space, f"{PRIVATE_REPO}@{cached_private_sha}")


def test_refused_while_the_hub_is_down_and_afterwards(hub, cached_private_sha, visitors_space):
    spec = f"{PRIVATE_REPO}@{cached_private_sha}"
    hub.fail(r".*", status=503, times=10_000)
    try:
        down = _refused_as_missing(visitors_space, spec)
    finally:
        hub.clear_faults()
    # Nothing was remembered from the outage: with the Hub back, the same answer as for a repo that doesn't exist.
    missing = _refused_as_missing(visitors_space, f"owner/no-such-lora@{cached_private_sha}")
    assert _refused_as_missing(visitors_space, spec) == down == missing.replace("no-such-lora", "private-lora")


def test_refused_while_the_hub_threads_are_busy(cached_private_sha, visitors_space):
    from nllb_space.hub import deadlines as time_bound

    taken = 0
    try:
        while time_bound._places.acquire(blocking=False):  # every Hub-call thread busy with others' slow downloads
            taken += 1
        _refused_as_missing(visitors_space, f"{PRIVATE_REPO}@{cached_private_sha}")
    finally:
        for _ in range(taken):
            time_bound._places.release()


def test_a_public_repo_checked_before_still_serves_its_cached_commit_through_an_outage(hub, visitors_space,
                                                                                       adapter_dirs):
    files = {p.name: p.read_bytes() for p in adapter_dirs["b"].iterdir()}
    sha = hub.commit_files("stranger/public-lora", files, message="public")
    spec = f"stranger/public-lora@{sha}"
    before = visitors_space.translate(SENTENCE, model=spec)
    hub.fail(r".*", status=503, times=10_000)
    try:
        assert visitors_space.translate(SENTENCE, model=spec).text == before.text
    finally:
        hub.clear_faults()


def test_the_configured_private_repo_serves_its_cached_commit_through_an_outage(hub, cached_private_sha,
                                                                                tiny_model_dir):
    """The owner's repo is readable with the owner's token: a pinned commit in the cache starts even with no Hub."""
    from nllb_space.service.engine import Engine

    owner = Engine(tiny_settings(tiny_model_dir, adapter_repo=PRIVATE_REPO, visitor_revisions="all"))
    hub.fail(r".*", status=503, times=10_000)
    try:
        assert owner.translate(SENTENCE, model=cached_private_sha).model.sha == cached_private_sha
    finally:
        hub.clear_faults()


# -- a private configured repo: what visitors may see and run (section 6) ------------------------------------------


@pytest.fixture()
def private_configured(hub, adapter_dirs):
    """The owner's private repo with main (the configured revision), a work-in-progress branch and a tag."""
    files = {p.name: p.read_bytes() for p in adapter_dirs["a"].iterdir()}
    import uuid

    repo = f"owner/private-served-{uuid.uuid4().hex[:8]}"
    hub.commit_files(repo, files, message="release")
    hub.create_branch(repo, "wip/secret-idea")
    hub.commit_files(repo, {p.name: p.read_bytes() for p in adapter_dirs["b"].iterdir()},
                     message="secret idea", branch="wip/secret-idea")
    hub.create_tag(repo, "v0-internal")
    hub.set_private(repo)
    return repo


def _space(tiny_model_dir, repo, **settings):
    from nllb_space.service.engine import Engine

    engine = Engine(tiny_settings(tiny_model_dir, adapter_repo=repo, **settings))
    engine.load()
    return engine


def test_a_private_configured_repo_serves_visitors_its_configured_revision_only(private_configured,
                                                                               tiny_model_dir):
    from nllb_space.errors import InputError

    space = _space(tiny_model_dir, private_configured)
    assert space.adapter_error is None
    assert space.translate(SENTENCE, model="main").model.revision == "main"
    for other in ("wip/secret-idea", "v0-internal", f"{private_configured}@wip/secret-idea", "no-such-branch"):
        with pytest.raises(InputError) as refused:
            space.translate(SENTENCE, model=other)
        assert "NLLB_VISITOR_REVISIONS" in str(refused.value)
        assert "secret" not in str(refused.value).replace(other, "")  # no other revision is named
    listed = space.list_revisions()
    assert [ref.name for ref in (*listed.branches, *listed.tags)] == ["main"] and not listed.commits


def test_the_owner_may_open_every_revision_and_the_readme_says_what_that_shows(private_configured,
                                                                              tiny_model_dir):
    space = _space(tiny_model_dir, private_configured, visitor_revisions="all")
    assert space.translate(SENTENCE, model="wip/secret-idea").model.revision == "wip/secret-idea"
    listed = space.list_revisions()
    assert {ref.name for ref in (*listed.branches, *listed.tags)} == {"main", "wip/secret-idea", "v0-internal"}
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "NLLB_VISITOR_REVISIONS" in readme and "private" in readme


def test_an_allow_list_and_a_public_repo(private_configured, hub, tiny_model_dir, hub_adapters):
    space = _space(tiny_model_dir, private_configured, visitor_revisions="main, v0-internal")
    assert space.translate(SENTENCE, model="v0-internal").model.revision == "v0-internal"
    public = _space(tiny_model_dir, "tester/nllb-lora")  # public: every revision, as before
    assert public.translate(SENTENCE, model="exp/run-1").model.revision == "exp/run-1"
