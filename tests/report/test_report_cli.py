"""``netspectra analyze --report/--plots`` and ``netspectra report RUN_ID`` as a user runs them."""

from __future__ import annotations

import json

import pytest

from netspectra.cli import main


@pytest.fixture()
def model(small_model):
    return small_model


ONE_GOOD_ONE_BROKEN = ["--include", "random|broken"]


def test_analyze_writes_the_report_and_the_plots(model, tmp_path, capsys):
    html, plots = tmp_path / "r.html", tmp_path / "plots"
    assert (
        main(["analyze", str(model), *ONE_GOOD_ONE_BROKEN, "--report", str(html), "--plots", str(plots), "--plot-format", "svg"])
        == 0
    )
    out = capsys.readouterr().out
    assert f"wrote {html}\n" in out and f"wrote 4 SVG files in {plots}\n" in out
    assert "model summary" in out  # the terminal table is still printed
    text = html.read_text(encoding="utf-8")
    assert text.count('<details class="layer"') == 2 and text.count("<template>") == 1
    assert sorted(p.name for p in plots.iterdir()) == [
        "0_blocks.0.random_esd.svg",
        "0_blocks.0.random_mp.svg",
        "0_blocks.0.random_spacing.svg",
        "alpha_depth.svg",
    ]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_analyze_json_stays_pure_json_with_a_report(model, tmp_path, capsys):
    html = tmp_path / "r.html"
    assert main(["analyze", str(model), *ONE_GOOD_ONE_BROKEN, "--report", str(html), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["summary"]["num_layers"] == 2
    assert captured.err == "" and html.is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--report", "r.txt"], "must end in .html"),
        (["--report", "a_file/r.html"], "a_file is not a directory"),
        (["--plots", "a_file"], "is not a directory"),
    ],
)
def test_bad_outputs_are_refused_before_any_work(model, tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("x")
    assert main(["analyze", str(model), "--quiet", *args]) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_report_renders_a_stored_run_with_its_spectra(model, tmp_path, capsys):
    store = tmp_path / "runs.db"
    assert main(["analyze", str(model), "--include", "heavy|broken", "--store", str(store), "--quiet"]) == 0
    html = tmp_path / "run1.html"
    assert main(["report", "1", "--store", str(store), "-o", str(html), "--plots", str(tmp_path / "p")]) == 0
    err = capsys.readouterr().err
    assert f"wrote {html}\n" in err and "wrote 4 PNG files" in err
    text = html.read_text(encoding="utf-8")
    assert text.count("<template>") == 1  # the stored eigenvalues are plotted
    assert "blocks.2.heavy.weight" in text and "blocks.3.broken.weight" in text


def test_report_errors_end_with_one_line_and_code_2(model, tmp_path, capsys):
    store = tmp_path / "runs.db"
    assert main(["report", "1", "--store", str(store), "-o", str(tmp_path / "r.html")]) == 2
    assert "no such store" in capsys.readouterr().err
    assert main(["analyze", str(model), "--include", "broken", "--store", str(store), "--quiet"]) == 0
    assert main(["report", "7", "--store", str(store), "-o", str(tmp_path / "r.html")]) == 2
    assert "7" in capsys.readouterr().err
    assert main(["report", "1", "--store", str(store)]) == 2
    assert "nothing to write" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()
