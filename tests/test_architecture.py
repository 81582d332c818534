"""The package's layering, read from the source (tests/import_graph.py): no import cycle, executors that know
nothing of analysis, commands that share code only through commands/common.py, one pipeline module."""

from import_graph import cycles, import_graph

GRAPH = import_graph()


def _imports(module: str) -> set[str]:
    return {target for target in GRAPH[module] if target.startswith("netspectra")}


def test_the_import_graph_has_no_cycle():
    assert cycles(GRAPH) == []


def test_scale_holds_executors_only():
    for module in (m for m in GRAPH if m.startswith("netspectra.scale")):
        allowed = {"netspectra.errors", "netspectra._lazy"} | {m for m in GRAPH if m.startswith("netspectra.scale")}
        assert _imports(module) <= allowed, module


def test_no_command_imports_another():
    commands = {m for m in GRAPH if m.startswith("netspectra.commands.")} - {"netspectra.commands.common"}
    for module in commands:
        assert not _imports(module) & commands, module


def test_only_the_pipeline_builds_layer_rows():
    """``pipeline.py`` is the one module that turns weights into LayerReports (diagnose builds them for it)."""
    builders = {"netspectra.diagnose.layer", "netspectra.diagnose.tail"}
    users = {m for m in GRAPH if _imports(m) & builders}
    assert users <= {"netspectra.pipeline", "netspectra.diagnose.tail"}, users


def test_defaults_and_constraints_import_nothing_of_the_package():
    """Every default is stated in one module and every settings object checks itself with one vocabulary:
    both sit below everything (the command line's parser imports them, so they stay light)."""
    assert _imports("netspectra.defaults") == set()
    assert _imports("netspectra.constraints") <= {"netspectra.errors"}


def test_the_math_does_no_io():
    """``rmt/`` holds pure functions of arrays: it imports only the math below it (linalg), errors, the
    defaults (constants), and the disk cache that memoises the HTMP density tables (the same values,
    computed once per machine)."""
    allowed = ("netspectra.rmt", "netspectra.linalg", "netspectra.errors", "netspectra.cache", "netspectra.defaults")
    for module in (m for m in GRAPH if m.startswith("netspectra.rmt")):
        assert all(t.startswith(allowed) for t in _imports(module)), module
