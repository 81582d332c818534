"""The store serves only what this netspectra computed for this input: algorithm versions, seals, the key,
atomic creation, bounded listing (issues 24.5 and 25; the file-level attacks are in tests/round3/store.py)."""

import json
import os
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from safetensors.numpy import save_file

from netspectra.cli import main
from netspectra.io import content_hash, iter_weight_matrices
from netspectra.pipeline import analyze, analyze_matrix
from netspectra.spec import AnalysisSpec
from netspectra.store import ModelInfo, Store, StoreError, analyze_into_store
from netspectra.store import analyze as store_analyze
from netspectra.store import db as store_db
from netspectra.store.errors import UntrustedRun
from netspectra.store.seal import KEY_BYTES, encode, key_path, load_key
from netspectra.version import ALGORITHM_VERSION


@pytest.fixture()
def model(tmp_path):
    rng = np.random.default_rng(5)
    path = tmp_path / "model.safetensors"
    save_file({f"fc{i}.weight": rng.standard_normal((80, 40)).astype(np.float32) for i in range(3)}, str(path))
    return path


@pytest.fixture()
def own_key(tmp_path, monkeypatch):
    """A key file of this test's own (absent until netspectra creates it)."""
    path = tmp_path / "keys" / "store.key"
    monkeypatch.setenv("NETSPECTRA_KEY_FILE", str(path))
    return path


def _alphas(report):
    return [layer.alpha for layer in report.layers]


def test_a_run_of_another_algorithm_version_is_recomputed_and_says_why(model, tmp_path, monkeypatch, capsys):
    db = tmp_path / "s.db"
    first = analyze_into_store(model, db)
    assert (first.status, first.reason, first.report.algorithm_version) == ("computed", "", ALGORITHM_VERSION)
    assert Store(db).get_run(first.run_id).algorithm_version == ALGORITHM_VERSION
    assert analyze_into_store(model, db).status == "cached"
    for module in (store_db, store_analyze):  # a netspectra whose rows changed
        monkeypatch.setattr(module, "ALGORITHM_VERSION", ALGORITHM_VERSION + 1)
    again = analyze_into_store(model, db)
    assert (again.status, again.run_id) == ("computed", 2)
    assert (
        again.reason
        == f"run 1 was computed by algorithm version {ALGORITHM_VERSION}, this netspectra's is {ALGORITHM_VERSION + 1}: recomputed"
    )
    assert analyze_into_store(model, db).status == "cached"  # run 2, of the new version
    assert main(["analyze", str(model), "--store", str(db), "--quiet", "--min-tail", "7"]) == 0
    monkeypatch.setattr(store_db, "ALGORITHM_VERSION", ALGORITHM_VERSION + 2)
    monkeypatch.setattr(store_analyze, "ALGORITHM_VERSION", ALGORITHM_VERSION + 2)
    capsys.readouterr()
    assert main(["analyze", str(model), "--store", str(db), "--quiet", "--min-tail", "7"]) == 0
    err = capsys.readouterr().err  # said even with --quiet: why the stored run was not served
    assert err == (
        f"computed run 4 in {db}: run 3 was computed by algorithm version {ALGORITHM_VERSION + 1}, "
        f"this netspectra's is {ALGORITHM_VERSION + 2}: recomputed\n"
    )


def test_a_store_sealed_with_another_key_is_recomputed(model, tmp_path, monkeypatch):
    db = tmp_path / "s.db"
    monkeypatch.setenv("NETSPECTRA_KEY_FILE", str(tmp_path / "first.key"))
    analyze_into_store(model, db)
    monkeypatch.setenv("NETSPECTRA_KEY_FILE", str(tmp_path / "second.key"))  # the same file, another user
    again = analyze_into_store(model, db)
    assert again.status == "computed" and "run 1 fails its integrity check" in again.reason
    assert _alphas(again.report) == _alphas(analyze(model))


@pytest.mark.hardening
def test_a_forged_row_is_never_served(model, tmp_path):
    db = tmp_path / "s.db"
    analyze_into_store(model, db)
    with sqlite3.connect(db) as con:
        con.execute("UPDATE layers SET alpha = 42 WHERE layer_index = 1")
    with Store(db) as store:
        with pytest.raises(UntrustedRun, match=r"run 1 fails its integrity check \(layer 'fc1.weight' does not carry"):
            store.load_report(1, verify=True)
        shown = store.read_run(1)  # shown as stored, and said
        assert _alphas(shown.report)[1] == 42 and not shown.verified and "fc1.weight" in shown.problem
    result = analyze_into_store(model, db)
    assert result.status == "computed" and 42 not in _alphas(result.report)


@pytest.mark.hardening
def test_runs_show_says_a_run_is_unverified(model, tmp_path, capsys):
    db = tmp_path / "s.db"
    analyze_into_store(model, db)
    assert main(["runs", "--store", str(db), "--show", "1", "--json"]) == 0
    assert capsys.readouterr().err == ""
    with sqlite3.connect(db) as con:
        con.execute("UPDATE layers SET alpha = 42 WHERE layer_index = 0")
    assert main(["runs", "--store", str(db), "--show", "1", "--json"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: run 1 is shown as stored, unverified: layer 'fc0.weight'") and err.count("\n") == 1


@pytest.mark.hardening
def test_resume_recomputes_a_forged_layer(model, tmp_path):
    db = tmp_path / "s.db"
    with Store(db) as store:  # a run killed after two layers, the first then forged
        info = ModelInfo(content_hash(model), str(model), "safetensors")
        run_id = store.begin_run(str(model), AnalysisSpec().identity(), model=info)
        for weight in list(iter_weight_matrices(model))[:2]:
            store.record_layer(run_id, analyze_matrix(weight))
        with sqlite3.connect(db) as con:
            con.execute("UPDATE layers SET alpha = 42 WHERE layer_index = 0")
        result = analyze_into_store(model, store, resume=True)
    assert (result.run_id, result.status, result.num_computed) == (run_id, "resumed", 2)
    assert result.reason == "1 stored layer(s) of run 1 failed the integrity check: recomputed"
    assert _alphas(result.report) == _alphas(analyze(model))


def test_a_negative_zero_and_nan_keep_their_seal(model, tmp_path):
    report = analyze(model)
    layers = (report.layers[0].with_columns(alpha=-0.0, xmin=float("nan")), *report.layers[1:])
    with Store(tmp_path / "s.db") as store:
        run_id = store.record_run(type(report)(report.source, layers), {})
        assert store.read_run(run_id).verified
        assert store.load_report(run_id, verify=True).layers[0].alpha == 0.0


def test_seal_encoding_is_unambiguous():
    assert encode(["ab", "c"]) != encode(["a", "bc"])
    assert encode([1]) != encode([1.0]) != encode(["1"]) != encode([b"1"])
    assert encode([None]) != encode([""]) and encode([-0.0]) == encode([0.0])


def test_the_key_is_created_once_private_and_refused_when_others_may_read_it(own_key):
    key = load_key()
    assert key_path() == own_key and len(key) == KEY_BYTES and load_key() == key
    assert own_key.stat().st_mode & 0o777 == 0o600 and own_key.parent.stat().st_mode & 0o777 == 0o700
    assert [p.name for p in own_key.parent.iterdir()] == ["store.key"]  # no temporary file left
    own_key.chmod(0o644)
    with pytest.raises(StoreError, match="others may read or change it"):
        load_key()
    own_key.chmod(0o600)
    own_key.write_bytes(b"short")
    with pytest.raises(StoreError, match=f"not a regular file of {KEY_BYTES} bytes"):
        load_key()
    own_key.unlink()
    os.mkfifo(own_key)
    with pytest.raises(StoreError, match=f"not a regular file of {KEY_BYTES} bytes"):
        load_key()
    own_key.unlink()
    own_key.symlink_to(own_key.parent / "elsewhere")
    with pytest.raises(StoreError, match="store key .*: Too many levels of symbolic links"):
        load_key()


def test_an_unusable_key_is_one_line_and_shown_runs_say_so(model, tmp_path, own_key, capsys):
    db = tmp_path / "s.db"
    analyze_into_store(model, db)
    own_key.chmod(0o644)
    assert main(["analyze", str(model), "--store", str(db)]) == 2
    assert capsys.readouterr().err.startswith(f"netspectra: error: store key {own_key}: others may read or change it")
    assert [run.id for run in Store(db).list_runs()] == [1]  # no run begun
    assert main(["runs", "--store", str(db), "--show", "1", "--json"]) == 0
    assert "unverified: its seals cannot be checked" in capsys.readouterr().err


def test_runs_lists_the_newest_runs_and_says_how_many_there_are(model, tmp_path, capsys):
    db = tmp_path / "s.db"
    analyze_into_store(model, db)
    with sqlite3.connect(db) as con:
        for _ in range(119):
            con.execute(
                "INSERT INTO runs (source, options, layout, started, status) SELECT source, options, layout, started, status FROM runs WHERE id = 1"
            )
    assert main(["runs", "--store", str(db)]) == 0
    out = capsys.readouterr().out
    assert "the newest 50 of 120 runs" in out and " 120 " in out and " 70 " not in out and " 71 " in out
    assert main(["runs", "--store", str(db), "--json", "--limit", "3"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [118, 119, 120]
    assert main(["runs", "--store", str(db), "--json", "--limit", "0"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 120
    assert main(["runs", "--store", str(db), "--limit", "-1"]) == 2
    assert Store(db).list_runs()[0].id == 1 and len(Store(db).list_runs(limit=7)) == 7


_FULL_DISK = textwrap.dedent(
    """
    import resource, signal, sys
    from netspectra.cli import main
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG, as on a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), resource.RLIM_INFINITY))
    sys.exit(main(sys.argv[2:]))
    """
)


@pytest.mark.hardening
@pytest.mark.parametrize("limit", [0, 4096, 12288])
def test_a_full_disk_leaves_no_partial_store(model, tmp_path, limit):
    work = tmp_path / "work"
    work.mkdir()
    run = subprocess.run(
        [sys.executable, "-c", _FULL_DISK, str(limit), "analyze", str(model), "--store", str(work / "s.db"), "--quiet"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    assert run.stderr.startswith(f"netspectra: error: {work / 's.db'}: cannot create the store:"), run.stderr
    assert list(work.iterdir()) == []  # no s.db, no temporary file, no journal


def test_a_store_appears_whole_and_a_concurrent_one_is_kept(tmp_path, monkeypatch):
    path = tmp_path / "s.db"
    created = []
    real_link = os.link

    def link_after_another(source, target):  # another process creates the store between our build and link
        monkeypatch.setattr(store_db.os, "link", real_link)
        Store(tmp_path / "other.db").close()
        os.replace(tmp_path / "other.db", target)
        created.append(os.stat(target).st_ino)
        real_link(source, target)

    monkeypatch.setattr(store_db.os, "link", link_after_another)
    with Store(path) as store:
        assert store.list_runs() == []
    assert os.stat(path).st_ino == created[0]  # theirs, not replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.db"]
