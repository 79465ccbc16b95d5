"""The build pipeline on a two-page fixture book (tests/fixtures/mini_book)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from analysis.build import cache as build_cache
from analysis.build import BuildError, build_book, convert_value

FIXTURE = Path(__file__).parent / "fixtures" / "mini_book"


@pytest.fixture()
def book(tmp_path):
    root = tmp_path / "book_root"
    shutil.copytree(FIXTURE, root)
    return root


def quiet_build(root, out, **kw):
    lines = []
    result = build_book(root=root, out=out, validate=False, log=lines.append, jobs=1, **kw)
    return result, lines


def results_of(out: Path) -> dict:
    return json.loads((out / "results.json").read_text())


def test_parameters_reach_the_chapter_with_their_declared_types(book, tmp_path):
    out = tmp_path / "out"
    quiet_build(book, out, params={"greeting": "no", "scale": "1e-3", "repeats": "3"})
    results = results_of(out)
    # "no" stays a string (not YAML's False) and "1e-3" is a float (not YAML's string)
    assert results["fixture.greeting"] == "nonono"
    assert results["fixture.scaled"] == pytest.approx(3 * 1e-3)
    assert results["fixture.rows"] == 3


def test_injected_parameters_cell_is_hidden(book, tmp_path):
    out = tmp_path / "out"
    result, _ = quiet_build(book, out, params={"greeting": "salut"})
    executed = json.loads((out / "stage" / "book" / "chapter.ipynb").read_text())
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and "remove-cell" in injected[0]["metadata"]["tags"]
    html = (result.html_index.parent / "book" / "chapter.html").read_text()
    assert 'greeting = "salut"' not in html and "salutsalut" in html


def test_unknown_parameter_is_refused_and_known_ones_are_named(book, tmp_path):
    with pytest.raises(BuildError) as caught:
        quiet_build(book, tmp_path / "out", params={"greting": "typo"})
    message = str(caught.value)
    assert "'greting'" in message
    assert message.endswith("Known parameters: fail, greeting, pause, repeats, scale")
    # the build's own parameters are options, not -p values
    for name, hint in (("cohort", "--cohort FILE"), ("results_path", "the build chooses it")):
        with pytest.raises(BuildError, match=hint):
            quiet_build(book, tmp_path / "out", params={name: "x"})


def test_bad_value_for_a_numeric_parameter_is_refused(book, tmp_path):
    with pytest.raises(BuildError, match="parameter 'repeats': expected an integer, got 'many'"):
        quiet_build(book, tmp_path / "out", params={"repeats": "many"})


def test_a_failing_chapter_fails_the_build_and_shows_its_error(book, tmp_path):
    with pytest.raises(BuildError) as caught:
        quiet_build(book, tmp_path / "out", params={"fail": "true"})
    message = str(caught.value)
    assert "1 of 1 chapter(s) failed" in message
    assert "book/chapter" in message
    assert "RuntimeError: the fixture chapter was asked to fail" in message
    assert "code cell 3, line 40 of book/chapter.md" in message


def test_all_failures_are_reported_together(book, tmp_path):
    second = book / "book" / "second.md"
    second.write_text((book / "book" / "chapter.md").read_text().replace("Fixture chapter", "Second"))
    toc = book / "_toc.yml"
    toc.write_text(toc.read_text() + "  - file: book/second\n")
    with pytest.raises(BuildError) as caught:
        build_book(root=book, out=tmp_path / "out", validate=False, log=lambda _: None, jobs=2,
                   params={"fail": "yes"})
    message = str(caught.value)
    assert "2 of 2 chapter(s) failed" in message
    assert "book/chapter:" in message and "book/second:" in message


def statuses(lines):
    return [line.split()[1] if "unchanged" in line else "executed" for line in lines
            if line.startswith("  book/")]


def test_unchanged_chapter_is_not_re_executed_until_an_input_changes(book, tmp_path, monkeypatch):
    out = tmp_path / "out"
    _, lines = quiet_build(book, out)
    assert any("executed in" in line for line in lines)

    _, lines = quiet_build(book, out)
    assert any("unchanged, not re-executed" in line for line in lines)

    # a data file of the book changes -> re-executed
    (book / "data" / "extra.yaml").write_text("changed: true\n")
    _, lines = quiet_build(book, out)
    assert any("executed in" in line for line in lines)

    # the cohort file changes -> re-executed, and the new figure reaches results.json
    (book / "data" / "cohort.csv").write_text("patient_id,value\nA,1\nB,2\n")
    _, lines = quiet_build(book, out)
    assert any("executed in" in line for line in lines)
    assert results_of(out)["fixture.rows"] == 2

    # the analysis package changes -> re-executed
    fake_package = tmp_path / "pkg" / "analysis"
    fake_package.mkdir(parents=True)
    (fake_package / "survival.py").write_text("X = 1\n")
    monkeypatch.setattr(build_cache, "PACKAGE_DIR", fake_package)
    _, lines = quiet_build(book, out)
    assert any("executed in" in line for line in lines)
    _, lines = quiet_build(book, out)
    assert any("unchanged" in line for line in lines)
    (fake_package / "survival.py").write_text("X = 2\n")
    _, lines = quiet_build(book, out)
    assert any("executed in" in line for line in lines)

    # --force re-executes an unchanged chapter
    _, lines = quiet_build(book, out, force=True)
    assert any("executed in" in line for line in lines)


def test_results_json_is_byte_identical_across_builds(book, tmp_path):
    first, _ = quiet_build(book, tmp_path / "a")
    second, _ = quiet_build(book, tmp_path / "b", force=True)
    assert first.results_json.read_bytes() == second.results_json.read_bytes()


def test_published_notebooks_are_byte_identical_across_builds(book, tmp_path):
    # the executed notebook is published as the page's source: no random cell id, no timing
    quiet_build(book, tmp_path / "a")
    quiet_build(book, tmp_path / "b", force=True)
    first = sorted((tmp_path / "a" / "html" / "_sources").rglob("*.ipynb"))
    assert first
    for path in first:
        twin = tmp_path / "b" / path.relative_to(tmp_path / "a")
        assert path.read_bytes() == twin.read_bytes(), path.name


def test_a_cells_prints_are_one_output_however_the_kernel_flushed_them():
    import nbformat

    from analysis.build.execute import _merge_streams

    stream = lambda name, text: nbformat.v4.new_output("stream", name=name, text=text)  # noqa: E731
    cell = nbformat.v4.new_code_cell("print(a); print(b)")
    cell.outputs = [stream("stdout", "a\n"), stream("stdout", "\nb"), stream("stderr", "warn\n"),
                    stream("stdout", "c\n"), nbformat.v4.new_output("execute_result", data={"text/plain": "1"})]
    nb = nbformat.v4.new_notebook(cells=[cell])
    _merge_streams(nb)
    assert [(o.output_type, o.get("name"), o.get("text")) for o in nb.cells[0].outputs] == [
        ("stream", "stdout", "a\n\nb"), ("stream", "stderr", "warn\n"), ("stream", "stdout", "c\n"),
        ("execute_result", None, None)]


def test_deleted_page_does_not_linger_in_the_stage(book, tmp_path):
    out = tmp_path / "out"
    (book / "book" / "old.md").write_text("# Old\n")
    quiet_build(book, out)
    assert (out / "stage" / "book" / "old.md").exists()
    (book / "book" / "old.md").unlink()
    quiet_build(book, out)
    assert not (out / "stage" / "book" / "old.md").exists()


def test_a_page_that_left_the_book_is_not_published_with_the_next_build(book, tmp_path):
    # Sphinx keeps the HTML of a document that left the project; the build must not publish it
    out = tmp_path / "out"
    toc = (book / "_toc.yml").read_text()
    (book / "book" / "old.md").write_text("# Old\n")
    (book / "_toc.yml").write_text(toc + "  - file: book/old\n")
    quiet_build(book, out)
    assert list((out / "html").rglob("old.html"))
    (book / "book" / "old.md").unlink()
    (book / "_toc.yml").write_text(toc)
    quiet_build(book, out)
    assert not list((out / "html").rglob("old.html"))


def test_a_toc_loses_the_left_out_chapters_and_folders_and_any_part_left_empty():
    from analysis.build.chapters import is_bundled_only, toc_without
    import yaml

    toc = yaml.safe_dump({"format": "jb-book", "root": "book/index", "parts": [
        {"caption": "Paper", "chapters": [{"file": "book/cohort"}, {"file": "book/calibration"}]},
        {"caption": "Primer", "chapters": [{"file": "book/primer/censoring"}, {"file": "book/primer/cox.md"}]},
        {"caption": "Beyond", "chapters": [{"file": "book/primer_notes"}]}]})
    kept = yaml.safe_load(toc_without(toc, ("book/calibration", "book/primer/")))
    assert [p["caption"] for p in kept["parts"]] == ["Paper", "Beyond"]  # "book/primer_notes" is no folder
    assert kept["parts"][0]["chapters"] == [{"file": "book/cohort"}]
    assert toc_without(toc, ()) == toc
    assert is_bundled_only("book/primer/rmst") and is_bundled_only("book/calibration")
    assert not is_bundled_only("book/calibration_notes") and not is_bundled_only("book/primer")


@pytest.mark.parametrize(
    "raw, default, expected",
    [("1e-3", "0.5", 1e-3), ("7", "0", 7), ("no", "False", False), ("yes", "True", True),
     ("no", "'text'", "no"), ("1e-3", "'text'", "1e-3"), ("anything", "None", "anything")],
)
def test_values_take_the_type_of_the_declared_default(raw, default, expected):
    value = convert_value("p", raw, default)
    assert value == expected and type(value) is type(expected)


def test_chapters_sharing_a_kernel_start_clean_in_their_own_folder(book, tmp_path):
    # jobs=1: both chapters run in one reused kernel, the fixture chapter first
    probe = book / "book" / "sub" / "probe.md"
    probe.parent.mkdir()
    header = (book / "book" / "chapter.md").read_text().split("# Fixture chapter")[0]
    probe.write_text(header + '''# Probe

```{code-cell} ipython3
:tags: [parameters, remove-cell]
results_path = None
```

```{code-cell} ipython3
import os
from analysis.results import Results

left_over = sorted(n for n in ("results", "rows", "pd", "greeting") if n in globals())
probe = Results("probe", results_path)
probe.add("left_over", ", ".join(left_over) or "none")
probe.add("folder", os.path.basename(os.getcwd()))
```
''')
    toc = book / "_toc.yml"
    toc.write_text(toc.read_text() + "  - file: book/sub/probe\n")
    out = tmp_path / "out"
    quiet_build(book, out)
    results = results_of(out)
    assert results["fixture.rows"] > 0  # the fixture chapter ran (first) and defined those names
    assert results["probe.left_over"] == "none"
    assert results["probe.folder"] == "sub"
    executed = json.loads((out / "stage" / "book" / "sub" / "probe.ipynb").read_text())
    counts = [c["execution_count"] for c in executed["cells"] if c["cell_type"] == "code"]
    assert counts == list(range(1, len(counts) + 1))
    assert not any("reset" in "".join(c["source"]) for c in executed["cells"])


def test_a_parameter_out_of_range_is_refused_before_any_chapter_runs():
    from analysis.build.chapters import Chapter, resolve_parameters

    chapters = [Chapter("book/a", Path("a.md")), Chapter("book/b", Path("b.md"))]
    declared = {"book/a": {"min_cell": {"default": "0"}}, "book/b": {"min_cell": {"default": "0"}}}
    assert resolve_parameters(chapters, {"min_cell": "5"}, declared)["book/b"] == {"min_cell": 5}
    with pytest.raises(BuildError, match=r"'min_cell': must be a whole number, 0 \(no suppression\) or more"):
        resolve_parameters(chapters, {"min_cell": "-1"}, declared)
    with pytest.raises(BuildError, match="expected an integer"):
        resolve_parameters(chapters, {"min_cell": "2.5"}, declared)


def test_alternating_cohorts_in_one_folder_always_give_a_clean_builds_figures(book, tmp_path):
    # the same path, rewritten with another cohort of the same size: only the bytes tell them apart
    cohort = book / "data" / "cohort.csv"
    first, second = "patient_id,value\nA,1\nB,2\nC,3\n", "patient_id,value\nA,1\nB,2\n\n\n\n\n"
    assert len(first) == len(second)
    clean = {}
    for name, text in (("first", first), ("second", second)):
        cohort.write_text(text)
        quiet_build(book, tmp_path / f"clean_{name}")
        clean[name] = results_of(tmp_path / f"clean_{name}")
    assert clean["first"] != clean["second"]
    one_folder = tmp_path / "alternating"
    for name, text in (("first", first), ("second", second), ("first", first), ("second", second)):
        cohort.write_text(text)
        quiet_build(book, one_folder)
        assert results_of(one_folder) == clean[name], name


def test_small_count_suppression_is_on_by_default_for_any_cohort_but_the_bundled_one(tmp_path):
    from analysis.build.runner import USER_COHORT_MIN_CELL, suppression_in_force
    from analysis.paths import BUNDLED_COHORT

    said = []
    assert suppression_in_force(BUNDLED_COHORT, None, said.append) == 0
    copy = tmp_path / "copy.csv"
    copy.write_bytes(BUNDLED_COHORT.read_bytes())
    assert suppression_in_force(copy, None, said.append) == 0  # the same synthetic bytes
    real = tmp_path / "ward7.csv"
    real.write_bytes(BUNDLED_COHORT.read_bytes().replace(b"SYN-0001", b"SYN-9999"))
    assert suppression_in_force(real, None, said.append) == USER_COHORT_MIN_CELL == 5
    assert suppression_in_force(real, "0", said.append) == 0 and "suppression off" in said[-1]
    assert suppression_in_force(real, "10", said.append) == 10
    assert all(line.startswith("small-count suppression: min_cell ") for line in said)
