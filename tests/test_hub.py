"""nllb_space.hub.revisions against the loopback Hub emulator, through the real huggingface_hub client (and PEFT).

The emulator (nllb_space/testing/hub_emulator.py) is started by conftest.py before huggingface_hub is imported;
``HF_TOKEN`` is set to the token it accepts. One module-scoped repo holds two PEFT adapters pushed with ``push_folder``:
A on ``main`` (tagged ``v1``) and B on the branch ``exp/run-1``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
import torch
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file

from nllb_space.hub import calls as hub_calls
from nllb_space.hub.downloads import download_adapter
from nllb_space.hub.ids import is_commit_sha
from nllb_space.hub.revisions import (
    HubError,
    HubUnavailable,
    RepoNotFound,
    RevisionNotFound,
    list_revisions,
    push_folder,
    resolve_revision,
)
from nllb_space.testing.hub_emulator import HubEmulator, git_blob_sha1

REPO = "tester/hubtest-nllb-lora"
BRANCH = "exp/run-1"


class Tiny(torch.nn.Module):
    """Stands in for NLLB: same projection names, so the LoRA targets match (q_proj ... out_proj)."""

    def __init__(self) -> None:
        super().__init__()
        self.q_proj = torch.nn.Linear(4, 4)
        self.out_proj = torch.nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_proj(self.q_proj(x))


def save_adapter(folder: Path, seed: int) -> Path:
    """A real PEFT adapter folder (adapter_config.json, adapter_model.safetensors, README.md with YAML)."""
    torch.manual_seed(seed)
    model = get_peft_model(Tiny(), LoraConfig(r=2, target_modules=["q_proj", "out_proj"], init_lora_weights=False))
    model.save_pretrained(folder)
    return folder


def lora_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if "lora_" in k}


@dataclass
class Pushed:
    repo_id: str
    folder_a: Path
    folder_b: Path
    sha_a: str
    sha_b: str
    url_a: str


@pytest.fixture(autouse=True)
def _fast_and_clean(hub: HubEmulator, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(hub_calls, "RETRY_BASE_DELAY_S", 0.01)
    hub.clear_faults()
    yield
    hub.clear_faults()


@pytest.fixture(scope="module")
def pushed(hub: HubEmulator, tmp_path_factory: pytest.TempPathFactory) -> Pushed:
    root = tmp_path_factory.mktemp("adapters")
    folder_a = save_adapter(root / "a", seed=1)
    folder_b = save_adapter(root / "b", seed=2)
    a = push_folder(folder_a, REPO, tag="v1", commit_message="LoRA A", commit_description="first run")
    b = push_folder(folder_b, REPO, branch=BRANCH, commit_message="LoRA B")
    assert (a.branch, a.tag, b.branch, b.tag) == ("main", "v1", BRANCH, None)
    return Pushed(REPO, folder_a, folder_b, a.sha, b.sha, a.url)


# ---------------------------------------------------------------------------------------------------------------------
# push_folder
# ---------------------------------------------------------------------------------------------------------------------


def test_push_makes_one_commit_per_folder_on_its_branch(hub: HubEmulator, pushed: Pushed) -> None:
    assert is_commit_sha(pushed.sha_a) and is_commit_sha(pushed.sha_b) and pushed.sha_a != pushed.sha_b
    assert hub.resolve(REPO, "main") == pushed.sha_a
    assert hub.resolve(REPO, BRANCH) == pushed.sha_b
    assert hub.resolve(REPO, "v1") == pushed.sha_a
    assert hub.commit_parent(REPO, pushed.sha_b) == pushed.sha_a  # the branch started from main
    assert pushed.url_a.endswith(f"/{REPO}/commit/{pushed.sha_a}")
    for name in ("adapter_config.json", "adapter_model.safetensors", "README.md"):
        assert hub.file_content(REPO, name, "v1") == (pushed.folder_a / name).read_bytes()
        assert hub.file_content(REPO, name, BRANCH) == (pushed.folder_b / name).read_bytes()


def test_push_with_existing_tag_fails_before_uploading(hub: HubEmulator, pushed: Pushed, tmp_path: Path) -> None:
    folder = save_adapter(tmp_path / "c", seed=3)
    before = len(hub.requests)
    with pytest.raises(HubError, match="Tag 'v1' already exists") as info:
        push_folder(folder, REPO, tag="v1", commit_message="LoRA C")
    assert "nothing was uploaded" in str(info.value)
    calls = hub.requests[before:]
    assert not [path for _, path in calls if "/preupload/" in path or "/commit/" in path]
    assert hub.resolve(REPO, "main") == pushed.sha_a


def test_push_unchanged_folder_makes_no_new_commit(hub: HubEmulator, tmp_path: Path) -> None:
    folder = save_adapter(tmp_path / "same", seed=4)
    first = push_folder(folder, "tester/hubtest-unchanged", commit_message="once")
    again = push_folder(folder, "tester/hubtest-unchanged", commit_message="twice")
    assert again.sha == first.sha
    assert [c.title for c in list_revisions("tester/hubtest-unchanged").commits] == ["once", "initial commit"]


def test_push_private_repo_and_commit_description(hub: HubEmulator, tmp_path: Path) -> None:
    folder = save_adapter(tmp_path / "p", seed=5)
    result = push_folder(folder, "tester/hubtest-private-push", private=True, commit_message="t", commit_description="d")
    commits = HfApi().list_repo_commits("tester/hubtest-private-push")
    assert (commits[0].commit_id, commits[0].title, commits[0].message) == (result.sha, "t", "d")
    assert HfApi().model_info("tester/hubtest-private-push").private is True


# ---------------------------------------------------------------------------------------------------------------------
# resolve_revision / list_revisions
# ---------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("revision, expected", [("main", "a"), ("v1", "a"), (BRANCH, "b"), ("sha_a", "a"),
                                                ("sha_b", "b"), ("", "a"), (" exp/run-1 ", "b")])
def test_resolve_revision(pushed: Pushed, revision: str, expected: str) -> None:
    if revision.startswith("sha_"):
        revision = getattr(pushed, revision)
    assert resolve_revision(REPO, revision) == getattr(pushed, f"sha_{expected}")


def test_resolve_full_sha_is_normalized(pushed: Pushed) -> None:
    assert resolve_revision(REPO, pushed.sha_b.upper()) == pushed.sha_b


def test_list_revisions(pushed: Pushed) -> None:
    revs = list_revisions(REPO)
    assert revs.repo_id == REPO
    assert [(r.name, r.kind, r.sha) for r in revs.branches] == [
        ("main", "branch", pushed.sha_a),
        (BRANCH, "branch", pushed.sha_b),
    ]
    assert [(r.name, r.kind, r.sha) for r in revs.tags] == [("v1", "tag", pushed.sha_a)]
    assert [(c.sha, c.title) for c in revs.commits][:1] == [(pushed.sha_a, "LoRA A")]
    assert revs.commits[-1].title == "initial commit"
    assert revs.commits[0].date >= revs.commits[-1].date and "T" in revs.commits[0].date
    assert len(list_revisions(REPO, max_commits=1).commits) == 1


def test_unknown_repo(hub: HubEmulator) -> None:
    with pytest.raises(RepoNotFound, match="Repository 'tester/hubtest-nope' was not found on the Hub"):
        resolve_revision("tester/hubtest-nope", "main")
    with pytest.raises(RepoNotFound):
        list_revisions("tester/hubtest-nope")


def test_invalid_repo_id() -> None:
    with pytest.raises(HubError, match="not a valid Hub repository id"):
        resolve_revision("not a/valid//id", "main")


def test_unknown_revision_lists_branches_and_tags(pushed: Pushed) -> None:
    with pytest.raises(RevisionNotFound) as info:
        resolve_revision(REPO, "exp/run-9")
    message = str(info.value)
    assert f"Revision 'exp/run-9' does not exist in '{REPO}'" in message
    assert f"Branches: main, {BRANCH}; tags: v1" in message


def test_unknown_revision_reads_in_spanish_too(pushed: Pushed) -> None:
    with pytest.raises(RevisionNotFound) as info:
        resolve_revision(REPO, "exp/run-9")
    assert str(info.value).startswith(f"Revision 'exp/run-9' does not exist in '{REPO}'. Branches: main, {BRANCH}")
    assert info.value.in_language("en") == str(info.value)
    assert info.value.in_language("es") == (
        f"La revisión 'exp/run-9' no existe en '{REPO}'. Ramas: main, {BRANCH}; etiquetas: v1. "
        "Usa una de ellas o el sha completo de un commit (40 caracteres)."
    )


def test_unknown_sha_is_revision_not_found(pushed: Pushed) -> None:
    with pytest.raises(RevisionNotFound):
        resolve_revision(REPO, "0" * 40)


# ---------------------------------------------------------------------------------------------------------------------
# download_adapter
# ---------------------------------------------------------------------------------------------------------------------


def test_download_adapter_at_each_sha(hub: HubEmulator, pushed: Pushed) -> None:
    for sha, source in ((pushed.sha_a, pushed.folder_a), (pushed.sha_b, pushed.folder_b)):
        folder = download_adapter(REPO, sha)
        assert sorted(p.name for p in folder.iterdir()) == ["README.md", "adapter_config.json",
                                                            "adapter_model.safetensors"]
        for path in folder.iterdir():
            assert path.read_bytes() == (source / path.name).read_bytes()
    assert download_adapter(REPO, pushed.sha_a) != download_adapter(REPO, pushed.sha_b)


def test_download_adapter_again_needs_no_network(hub: HubEmulator, pushed: Pushed) -> None:
    first = download_adapter(REPO, pushed.sha_a)
    before = len(hub.requests)
    hub.fail(".*", status=503, times=100)  # the Hub is down: the cached commit must still load
    assert download_adapter(REPO, pushed.sha_a) == first
    assert len(hub.requests) == before


def test_download_adapter_needs_a_sha(pushed: Pushed) -> None:
    with pytest.raises(ValueError, match="resolve_revision"):
        download_adapter(REPO, "main")


def test_pickle_only_adapter_is_refused(hub: HubEmulator) -> None:
    sha = hub.commit_files("tester/hubtest-pickle-lora", {
        "adapter_config.json": json.dumps({"peft_type": "LORA", "r": 2}),
        "adapter_model.bin": b"\x80\x04pickle bytes",
    })
    with pytest.raises(HubError, match="pickle files are refused") as info:
        download_adapter("tester/hubtest-pickle-lora", sha)
    assert "adapter_model.bin" in str(info.value) and "safetensors only" in str(info.value).lower()


def test_repo_without_adapter_config_is_refused(hub: HubEmulator, tmp_path: Path) -> None:
    save_file({"w": torch.zeros(2)}, tmp_path / "model.safetensors")
    sha = hub.commit_files("tester/hubtest-full-model", {"config.json": b"{}",
                                                 "model.safetensors": (tmp_path / "model.safetensors").read_bytes()})
    with pytest.raises(HubError, match="is not a PEFT adapter: it has no adapter_config.json"):
        download_adapter("tester/hubtest-full-model", sha)


def test_adapter_without_weights_is_refused(hub: HubEmulator) -> None:
    sha = hub.commit_files("tester/hubtest-no-weights", {"adapter_config.json": b"{}"})
    with pytest.raises(HubError, match=r"no adapter_model\.safetensors"):
        download_adapter("tester/hubtest-no-weights", sha)


# ---------------------------------------------------------------------------------------------------------------------
# Authentication
# ---------------------------------------------------------------------------------------------------------------------


def test_private_repo_without_token(hub: HubEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    sha = hub.commit_files("tester/hubtest-secret-lora", {"adapter_config.json": b"{}"}, private=True)
    assert resolve_revision("tester/hubtest-secret-lora", "main") == sha  # HF_TOKEN is the emulator's token
    monkeypatch.delenv("HF_TOKEN")
    # What the real Hub does, and so the emulator: 401 + X-Error-Code RepoNotFound -> RepositoryNotFoundError.
    with pytest.raises(RepositoryNotFoundError):
        HfApi().model_info("tester/hubtest-secret-lora")
    with pytest.raises(RepoNotFound, match="or it is private and no HF_TOKEN is set"):
        resolve_revision("tester/hubtest-secret-lora", "main")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("tester/hubtest-secret-lora", "adapter_config.json")


def test_wrong_token_is_reported_without_leaking_it(hub: HubEmulator, pushed: Pushed) -> None:
    secret = "hf_wrongTokenValue42"
    with pytest.raises(HubError, match="rejected the token") as info:
        resolve_revision(REPO, "main", token=secret)
    assert secret not in str(info.value)


def test_whoami(hub: HubEmulator) -> None:
    assert HfApi().whoami()["name"] == "tester"


# ---------------------------------------------------------------------------------------------------------------------
# Transient failures
# ---------------------------------------------------------------------------------------------------------------------


def test_one_503_is_retried(hub: HubEmulator, pushed: Pushed) -> None:
    hub.fail(r"/revision/main$", status=503, times=1)
    before = len(hub.requests)
    assert resolve_revision(REPO, "main") == pushed.sha_a
    assert [p for _, p in hub.requests[before:]] == [f"/api/models/{REPO}/revision/main"] * 2


def test_persistent_503_is_hub_unavailable(hub: HubEmulator, pushed: Pushed) -> None:
    hub.fail(r"/revision/main$", status=503, times=10)
    before = len(hub.requests)
    with pytest.raises(HubUnavailable, match=r"did not answer \(HTTP 503\).*try again in a minute"):
        resolve_revision(REPO, "main")
    assert len(hub.requests) - before == hub_calls.RETRY_ATTEMPTS


def test_4xx_is_not_retried(hub: HubEmulator, pushed: Pushed) -> None:
    hub.fail(r"/revision/main$", status=400, times=10)
    before = len(hub.requests)
    with pytest.raises(HubError, match="refused"):
        resolve_revision(REPO, "main")
    assert len(hub.requests) - before == 1


def test_timeout_is_hub_unavailable(hub: HubEmulator, pushed: Pushed, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub_calls, "REQUEST_TIMEOUT_S", 0.2)
    hub.fail(r"/revision/v1$", status=0, delay_s=0.6, times=hub_calls.RETRY_ATTEMPTS)
    with pytest.raises(HubUnavailable, match=r"timeout"):
        resolve_revision(REPO, "v1")


def test_dropped_connection_is_retried(hub: HubEmulator, pushed: Pushed) -> None:
    hub.fail(r"/refs$", status=-1, times=1)
    assert [r.name for r in list_revisions(REPO).tags] == ["v1"]


def test_download_survives_a_failed_file_request(hub: HubEmulator) -> None:
    sha = hub.commit_files("tester/hubtest-blip", {"adapter_config.json": b"{}", "adapter_model.safetensors": b"w"})
    hub.fail(r"/resolve/.*/adapter_model\.safetensors$", status=503, times=1)
    folder = download_adapter("tester/hubtest-blip", sha)  # huggingface_hub retries the file itself (after ~1 s)
    assert (folder / "adapter_model.safetensors").read_bytes() == b"w"


def test_hub_down_confirms_no_revision_not_even_a_full_sha(hub: HubEmulator, pushed: Pushed) -> None:
    """Whether the caller may read the repo is the Hub's answer: the app's registry decides what to serve without it
    (tests/test_private_adapters.py)."""
    hub.fail(r"/revision/", status=503, times=10)
    for revision in (pushed.sha_b, BRANCH):
        with pytest.raises(HubUnavailable):
            resolve_revision(REPO, revision)


def test_503_during_push_is_retried(hub: HubEmulator, tmp_path: Path) -> None:
    folder = save_adapter(tmp_path / "r", seed=6)
    hub.fail(r"/commit/main$", status=503, times=1)
    result = push_folder(folder, "tester/hubtest-retried-push", commit_message="retried")
    assert hub.resolve("tester/hubtest-retried-push", "main") == result.sha


def test_offline_mode(pushed: Pushed, monkeypatch: pytest.MonkeyPatch) -> None:
    cached = download_adapter(REPO, pushed.sha_b)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubUnavailable, match="HF_HUB_OFFLINE"):
        resolve_revision(REPO, BRANCH)
    assert download_adapter(REPO, pushed.sha_b) == cached


# ---------------------------------------------------------------------------------------------------------------------
# PEFT and the plain client against the emulator
# ---------------------------------------------------------------------------------------------------------------------


def test_hf_hub_download_by_tag(pushed: Pushed) -> None:
    path = hf_hub_download(REPO, "adapter_config.json", revision="v1")
    assert Path(path).read_bytes() == (pushed.folder_a / "adapter_config.json").read_bytes()
    path = hf_hub_download(REPO, "adapter_config.json", revision=BRANCH)
    assert Path(path).read_bytes() == (pushed.folder_b / "adapter_config.json").read_bytes()


def test_peft_from_pretrained_by_revision(pushed: Pushed) -> None:
    for revision, source in (("v1", pushed.folder_a), (BRANCH, pushed.folder_b), (pushed.sha_b, pushed.folder_b)):
        model = PeftModel.from_pretrained(Tiny(), REPO, revision=revision)
        expected = load_file(str(source / "adapter_model.safetensors"))
        got = {k.replace(".default", ""): v for k, v in lora_weights(model).items()}
        assert len(expected) == 4
        for key, tensor in expected.items():
            assert torch.equal(got[key], tensor), (revision, key)


# ---------------------------------------------------------------------------------------------------------------------
# The emulator itself
# ---------------------------------------------------------------------------------------------------------------------


def test_stale_parent_commit_is_refused_with_412(hub: HubEmulator, pushed: Pushed) -> None:
    api = HfApi()
    api.create_repo("tester/hubtest-race", exist_ok=True)
    old = api.model_info("tester/hubtest-race").sha
    api.upload_file(path_or_fileobj=b"one", path_in_repo="f.txt", repo_id="tester/hubtest-race", commit_message="one")
    with pytest.raises(HfHubHTTPError) as info:
        api.upload_file(path_or_fileobj=b"two", path_in_repo="f.txt", repo_id="tester/hubtest-race", commit_message="two",
                        parent_commit=old)
    assert info.value.response.status_code == 412
    assert hub.file_content("tester/hubtest-race", "f.txt") == b"one"


def test_emulator_http_contract(hub: HubEmulator, pushed: Pushed) -> None:
    client = httpx2.Client(base_url=hub.url, headers={"authorization": f"Bearer {hub.token}"})
    quoted = BRANCH.replace("/", "%2F")
    r = client.head(f"/{REPO}/resolve/{quoted}/adapter_config.json")
    content = (pushed.folder_b / "adapter_config.json").read_bytes()
    assert r.status_code == 200
    assert r.headers["X-Repo-Commit"] == pushed.sha_b
    assert r.headers["ETag"] == f'"{git_blob_sha1(content)}"'
    assert int(r.headers["Content-Length"]) == len(content)
    assert client.get(f"/{REPO}/resolve/{pushed.sha_a}/README.md", headers={"Range": "bytes=3-"}).content == (
        pushed.folder_a / "README.md").read_bytes()[3:]
    for path, code in ((f"/{REPO}/resolve/main/missing.txt", "EntryNotFound"),
                       (f"/{REPO}/resolve/nope/adapter_config.json", "RevisionNotFound"),
                       ("/tester/absent/resolve/main/x", "RepoNotFound")):
        r = client.head(path)
        assert (r.status_code, r.headers.get("X-Error-Code")) == (404, code), path
    assert client.get("/api/agent-harnesses").status_code == 404
    r = client.post("/api/repos/create", json={"name": "hubtest-nllb-lora", "organization": "tester"})
    assert r.status_code == 409 and r.json()["url"] == f"{hub.url}/{REPO}"
    assert client.post(f"/api/models/{REPO}/branch/main", json={}).status_code == 409
    assert client.post(f"/api/models/{REPO}/tag/main", json={"tag": "v1"}).status_code == 409
    tree = client.get(f"/api/models/{REPO}/tree/{quoted}", params={"recursive": "true"}).json()
    assert {e["path"] for e in tree} == {".gitattributes", "README.md", "adapter_config.json",
                                         "adapter_model.safetensors"}
    info = client.get(f"/api/models/{REPO}/revision/v1").json()
    assert info["sha"] == pushed.sha_a and {"rfilename": "adapter_config.json"} in info["siblings"]
    r = client.post(f"/api/models/{REPO}/commit/nope", content=b'{"key":"header","value":{"summary":"x"}}\n')
    assert (r.status_code, r.headers["X-Error-Code"]) == (404, "RevisionNotFound")
    anonymous = httpx2.Client(base_url=hub.url)
    assert anonymous.post("/api/repos/create", json={"name": "x"}).status_code == 401
    client.close()
    anonymous.close()


def test_emulator_branches_tags_deletions_and_datasets(hub: HubEmulator) -> None:
    api = HfApi()
    api.create_repo("tester/hubtest-data", repo_type="dataset")
    api.upload_file(path_or_fileobj=b"a,b\n", path_in_repo="d/train.csv", repo_id="tester/hubtest-data",
                    repo_type="dataset", commit_message="data")
    api.create_branch("tester/hubtest-data", branch="dev", repo_type="dataset")
    api.create_tag("tester/hubtest-data", tag="t1", revision="dev", repo_type="dataset")
    api.delete_folder("d", repo_id="tester/hubtest-data", repo_type="dataset", revision="dev", commit_message="rm")
    assert [f.path for f in api.list_repo_tree("tester/hubtest-data", repo_type="dataset", revision="dev")] == [
        ".gitattributes"]
    path = hf_hub_download("tester/hubtest-data", "d/train.csv", repo_type="dataset", revision="t1")
    assert Path(path).read_bytes() == b"a,b\n"
    api.delete_tag("tester/hubtest-data", tag="t1", repo_type="dataset")
    api.delete_branch("tester/hubtest-data", branch="dev", repo_type="dataset")
    refs = api.list_repo_refs("tester/hubtest-data", repo_type="dataset")
    assert ([b.name for b in refs.branches], refs.tags) == (["main"], [])


def test_emulator_paginates_commits(hub: HubEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hub, "commits_page_size", 2)
    for i in range(4):
        hub.commit_files("tester/hubtest-long-history", {"n.txt": str(i)}, message=f"c{i}")
    titles = [c.title for c in HfApi().list_repo_commits("tester/hubtest-long-history")]
    assert titles == ["c3", "c2", "c1", "c0", "initial commit"]
    assert [c.title for c in list_revisions("tester/hubtest-long-history", max_commits=3).commits] == ["c3", "c2", "c1"]
