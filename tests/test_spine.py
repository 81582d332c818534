"""One shape for every command (issue 24): the verbs of netspectra.actions share a signature, every command
that reads weights takes the same selection, executor and output-mode flags, and every action runs its
layers through the executor it is given."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from safetensors.numpy import save_file

import netspectra
from netspectra import actions
from netspectra.cli import build_parser
from netspectra.scale.executor import LocalExecutor

#: Positional parameters before ``spec``: the sources (and compress's output file).
_SOURCES = {"compress": ("source", "output"), "rank": ("sources",), "track": ("paths",), "merge_check": ("models",)}


@pytest.mark.parametrize("verb", actions.__all__)
def test_every_action_has_one_shape(verb):
    """``verb(source, spec=None, *, ..., executor=None, workers=None, progress=None, **keywords)``."""
    parameters = inspect.signature(getattr(actions, verb)).parameters
    positional = [p.name for p in parameters.values() if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
    sources = _SOURCES.get(verb, ({"compare_models": ("a", "b")}.get(verb, ("source",))))
    assert positional == [*sources, "spec"] and parameters["spec"].default is None
    for name in ("executor", "workers", "progress"):
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY and parameters[name].default is None
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    assert getattr(netspectra, verb) is getattr(actions, verb)


#: Every command that reads weight matrices, with the arguments it needs besides the shared flags.
_COMMANDS = {
    "analyze": ["m"],
    "compare": ["a", "b"],
    "track": ["c1", "c2"],
    "compress": ["m", "-o", "x.safetensors"],
    "merge-check": ["a", "b"],
    "prune": ["m", "--sparsity", "0.5"],
    "select-layers": ["m", "--top", "0.5"],
    "rank": ["a", "b"],
}
_SHARED = ["--include", "q", "--exclude", "k", "--min-dim", "3", "--max-dim", "99", "--workers", "2", "--executor", "process"]


@pytest.mark.parametrize("command", list(_COMMANDS))
def test_every_command_takes_the_same_selection_executor_and_output_flags(command):
    args = build_parser().parse_args([command, *_COMMANDS[command], *_SHARED, "--quiet", "--json"])
    assert (args.include, args.exclude, args.min_dim, args.max_dim) == ("q", "k", 3, 99)
    assert (args.workers, args.executor, args.scheduler, args.quiet, args.json) == (2, "process", None, True, True)


class CountingExecutor(LocalExecutor):
    """This process, one item after the other, counting what it is given."""

    def __init__(self) -> None:
        self.items = 0

    def map(self, fn, items):
        self.items += len(items)
        return super().map(fn, items)


@pytest.fixture
def models(tmp_path):
    rng = np.random.default_rng(0)
    base = {
        "fc1.weight": rng.standard_normal((48, 32)).astype(np.float32),
        "fc2.weight": rng.standard_normal((40, 48)).astype(np.float32),
    }
    paths = []
    for i in range(3):
        path = tmp_path / f"step_{i}.safetensors"
        save_file({k: v + 0.1 * i * rng.standard_normal(v.shape).astype(np.float32) for k, v in base.items()}, str(path))
        paths.append(path)
    return paths


@pytest.mark.parametrize(
    ("call", "items"),
    [
        (lambda p, ex: netspectra.analyze(p[0], executor=ex), 2),
        (lambda p, ex: netspectra.compare_models(p[0], p[1], executor=ex), 2),
        (lambda p, ex: netspectra.track(p, executor=ex), 6),
        (lambda p, ex: netspectra.compress(p[0], p[0].parent / "c.safetensors", method="rank:4", force=True, executor=ex), 2),
        (lambda p, ex: netspectra.merge_check(p[1:], base=p[0], executor=ex), 2),
        (lambda p, ex: netspectra.prune(p[0], sparsity=0.5, executor=ex), 2),
        (lambda p, ex: netspectra.select_layers(p[0], top=0.5, executor=ex), 2),
        (lambda p, ex: netspectra.rank(p, executor=ex), 6),
    ],
    ids=["analyze", "compare", "track", "compress", "merge_check", "prune", "select_layers", "rank"],
)
def test_every_action_runs_its_layers_through_the_executor_it_is_given(models, call, items):
    """compare ran serially with no executor, merge-check and compress had their own loops."""
    executor = CountingExecutor()
    call(models, executor)
    assert executor.items == items


def test_every_action_takes_the_layer_selection(models):
    keep = {"include": "fc1"}
    assert [x.name for x in netspectra.merge_check(models[1:], base=models[0], **keep).layers] == ["fc1.weight"]
    assert [x.name_a for x in netspectra.compare_models(models[0], models[1], **keep).layers] == ["fc1.weight"]
    report = netspectra.compress(models[0], models[0].parent / "c.safetensors", method="rank:4", exclude="fc2", force=True)
    assert [x.name for x in report.layers] == ["fc1.weight"] and [c.reason for c in report.copied] == ["matched by exclude"]
    assert [x.name for x in netspectra.prune(models[0], sparsity=0.5, **keep).layers] == ["fc1.weight"]


@pytest.mark.parametrize(
    "call",
    [
        lambda p: netspectra.analyze(p[0], include="attn"),
        lambda p: netspectra.compare_models(p[0], p[1], exclude="fc"),
        lambda p: netspectra.track(p, include="attn"),
        lambda p: netspectra.merge_check(p[1:], base=p[0], min_dim=1000),
        lambda p: netspectra.compress(p[0], p[0].parent / "c.safetensors", include="attn"),
        lambda p: netspectra.prune(p[0], sparsity=0.5, max_dim=5),
    ],
    ids=["analyze", "compare", "track", "merge_check", "compress", "prune"],
)
def test_a_selection_that_keeps_nothing_is_refused_naming_it_and_what_there_is(models, call):
    """README's own ``--include 'attn'`` matched nothing in MiniLM and exited 0 with an empty table."""
    from netspectra.errors import UsageError

    with pytest.raises(
        UsageError,
        match=r"(--include 'attn'|--exclude 'fc'|--min-dim 1000|--max-dim 5)( --min-dim 32)? selects none of its 2 weight matrices \(fc1.weight, fc2.weight\)",
    ):
        call(models)
    assert not (models[0].parent / "c.safetensors").exists()


def test_an_empty_selection_on_the_command_line_is_one_line_and_exit_2(models, capsys):
    from netspectra.cli import main

    assert main(["analyze", str(models[0]), "--include", "attn", "--quiet"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "--include 'attn' selects none of its 2 weight matrices" in err[0]
