"""``labchain curriculum``: the shipped course passes; broken courses fail with a precise message."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from course_fixtures import CourseDir, base_course, graded_cell, lab_notebook, notebook, solution_cell
from labchain.cli import main as labchain_main
from labchain.curriculum import CourseFileError, check_course, load_course, render_syllabus
from labchain.curriculum.check import find_cycle

REPO = Path(__file__).resolve().parents[3]
SHIPPED = REPO / "curriculum" / "course.yaml"
def messages(problems) -> str:
    return "\n".join(str(p) for p in problems)


# --- the shipped course -----------------------------------------------------------------

def test_shipped_course_passes_the_full_check():
    problems = check_course(SHIPPED)
    assert problems == [], messages(problems)


def test_shipped_course_lists_its_labs_in_order_and_six_competency_areas():
    course = load_course(SHIPPED)
    assert [lab.id for lab in course.labs] == [
        "01-hashes-merkle", "02-keys-signatures", "03-utxo-transactions",
        "04-mining-difficulty", "05-forks-double-spend", "06-p2p-network",
        "07-accounts-world-state", "08-national-cryptography", "09-consortium-identity",
        "10-smart-contracts", "11-contract-security", "12-crash-fault-tolerance",
        "13-byzantine-consensus", "14-traceability-capstone"]
    assert sorted(p.name for p in (REPO / "labs").iterdir() if p.is_dir()) == [lab.id for lab in course.labs]
    assert [a.id for a in course.competency_areas] == [
        "architecture-design", "underlying-technology", "system-application",
        "system-testing", "system-deployment", "operation-maintenance"]


def test_committed_syllabus_is_up_to_date():
    committed = (REPO / "curriculum" / "SYLLABUS.md").read_text(encoding="utf-8")
    assert committed == render_syllabus(load_course(SHIPPED)), \
        "curriculum/SYLLABUS.md is stale: run `labchain curriculum build`"


def test_build_check_command_agrees_on_the_shipped_syllabus():
    done = subprocess.run([sys.executable, "-m", "labchain.cli", "curriculum", "build", "--check"],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


# --- a valid fixture, then one breakage at a time ----------------------------------------

def test_fixture_course_is_valid(course_dir: CourseDir):
    assert check_course(course_dir.course) == []


def test_missing_lab_folder_is_reported_with_its_yaml_line(course_dir: CourseDir):
    data = base_course()
    data["labs"][1]["id"] = data["modules"][1]["labs"][0] = "02-gamma"
    course_dir.write_yaml(data)
    problems = check_course(course_dir.course)
    assert len(problems) == 1
    text = str(problems[0])
    assert "labs[1].id" in text and "02-gamma" in text and "has no folder labs/02-gamma/" in text
    assert problems[0].line == _line_of(course_dir.course, "- id: 02-gamma")


def test_missing_notebook_in_existing_folder(course_dir: CourseDir):
    (course_dir.root / "labs" / "02-beta" / "02-beta.ipynb").unlink()
    assert "has no notebook labs/02-beta/02-beta.ipynb" in messages(check_course(course_dir.course))


def test_unassessed_objective(course_dir: CourseDir):
    course_dir.write_notebook("01-alpha", lab_notebook("01-alpha", [("a1", 3, "hash"), ("a2", 2, "hash")]))
    problems = check_course(course_dir.course)
    assert [p.where for p in problems] == ["labs[0].objectives[1]"]
    assert "objective 'why' is assessed by no autograded test cell in labs/01-alpha/01-alpha.ipynb" in str(problems[0])


def test_test_cell_without_objective_tag(course_dir: CourseDir):
    nb = lab_notebook("02-beta", [])
    nb["cells"].append(graded_cell("beta-test", 3, None))
    course_dir.write_notebook("02-beta", nb)
    text = messages(check_course(course_dir.course))
    assert "cell 'beta-test' (#1): autograded test cell must start with '# objectives:" in text
    assert "objective 'break' is assessed by no autograded test cell" in text


def test_test_cell_naming_an_unknown_objective(course_dir: CourseDir):
    course_dir.write_notebook("02-beta", lab_notebook("02-beta", [("beta-test", 3, "break, brake")]))
    assert "names objective 'brake', which 02-beta does not have (its objectives: break)" in \
        messages(check_course(course_dir.course))


def test_points_must_match_the_notebook(course_dir: CourseDir):
    data = base_course()
    data["labs"][0]["points"] = 7
    course_dir.write_yaml(data)
    problems = check_course(course_dir.course)
    assert len(problems) == 1 and problems[0].where == "labs[0].points"
    assert "is 7 but the autograded test cells of labs/01-alpha/01-alpha.ipynb add up to 5" in problems[0].message


def test_prerequisite_cycle_is_reported_with_the_cycle(course_dir: CourseDir):
    data = base_course()
    data["labs"][0]["prerequisites"] = ["02-beta"]
    course_dir.write_yaml(data)
    text = messages(check_course(course_dir.course))
    assert "prerequisites form a cycle: 01-alpha -> 02-beta -> 01-alpha" in text


def test_unknown_and_self_prerequisites(course_dir: CourseDir):
    data = base_course()
    data["labs"][1]["prerequisites"] = ["00-intro", "02-beta"]
    course_dir.write_yaml(data)
    text = messages(check_course(course_dir.course))
    assert "labs[1].prerequisites[0]: names '00-intro', which is not in labs" in text
    assert "labs[1].prerequisites[1]: a lab cannot be its own prerequisite" in text


def test_bloom_verb_must_fit_its_level(course_dir: CourseDir):
    data = base_course()
    data["labs"][0]["objectives"][1]["bloom"] = "create"
    course_dir.write_yaml(data)
    text = messages(check_course(course_dir.course))
    assert "labs[0].objectives[1].text: starts with 'explain', not a Bloom verb of level 'create'" in text
    assert "is a verb of: understand" in text


def test_unknown_competency_and_unplaced_lab(course_dir: CourseDir):
    data = base_course()
    data["labs"][1]["competencies"] = ["system-tests"]
    data["modules"][1]["labs"] = []
    course_dir.write_yaml(data)
    text = messages(check_course(course_dir.course))
    assert "labs[1].competencies[0]: 'system-tests' is not a competency area" in text
    assert "lab '02-beta' is in no module" in text
    assert "competency area 'system-testing' is served by no lab" in text


def test_duplicate_grade_ids_and_missing_hidden_tests(course_dir: CourseDir):
    nb = notebook([solution_cell("s"), graded_cell("t", 2, "break", hidden=False),
                   graded_cell("t", 1, "break", hidden=False)])
    course_dir.write_notebook("02-beta", nb)
    text = messages(check_course(course_dir.course))
    assert "cell 't': grade_id used by 2 cells" in text
    assert "no autograded test cell has '### BEGIN HIDDEN TESTS'" in text


def test_unbalanced_solution_markers(course_dir: CourseDir):
    nb = lab_notebook("02-beta", [("beta-test", 3, "break")])
    nb["cells"][0]["source"] = "def f():\n    ### BEGIN SOLUTION\n    return 1\n"
    course_dir.write_notebook("02-beta", nb)
    assert "'### BEGIN SOLUTION' is never closed by '### END SOLUTION'" in messages(check_course(course_dir.course))


def test_notebook_that_is_not_json(course_dir: CourseDir):
    (course_dir.root / "labs" / "02-beta" / "02-beta.ipynb").write_text("{not json", encoding="utf-8")
    assert "labs/02-beta/02-beta.ipynb: not valid JSON (line 1)" in messages(check_course(course_dir.course))


def test_selecting_labs_limits_only_the_notebook_rules(course_dir: CourseDir):
    (course_dir.root / "labs" / "02-beta" / "02-beta.ipynb").unlink()
    data = base_course()
    data["labs"][0]["prerequisites"] = ["02-beta"]         # a course-wide problem
    course_dir.write_yaml(data)
    text = messages(check_course(course_dir.course, labs=["01-alpha"]))
    assert "prerequisites form a cycle" in text
    assert "has no notebook" not in text
    assert "'09-nope' is not a lab of this course" in messages(check_course(course_dir.course, labs=["09-nope"]))


# --- a broken YAML: file, line, path, what is wrong -------------------------------------

def test_yaml_syntax_error_names_the_line(course_dir: CourseDir):
    text = course_dir.course.read_text(encoding="utf-8").replace("title: Beta", "title: [Beta")
    course_dir.course.write_text(text, encoding="utf-8")
    problems = check_course(course_dir.course)
    assert len(problems) == 1 and "not valid YAML" in problems[0].message
    assert problems[0].line is not None and problems[0].line >= _line_of(course_dir.course, "title: [Beta")


def test_schema_errors_name_file_line_and_path(course_dir: CourseDir):
    data = base_course()
    del data["labs"][0]["summary"]
    data["labs"][1]["estimated_minutes"] = "an hour"
    data["labs"][1]["objectives"][0]["bloom"] = "memorise"
    data["labs"][1]["colour"] = "blue"
    course_dir.write_yaml(data)
    with pytest.raises(CourseFileError) as caught:
        load_course(course_dir.course)
    text = str(caught.value)
    assert "course.yaml:" in text
    assert "labs[0]: missing required key 'summary'" in text
    assert "labs[1].estimated_minutes: must be a non-negative integer; got 'an hour'" in text
    assert "labs[1].objectives[0].bloom: must be one of remember, understand, apply, analyze, evaluate, create" in text
    assert "labs[1].colour: unknown key 'colour'" in text
    line = next(p.line for p in caught.value.problems if p.where == "labs[1].estimated_minutes")
    assert line == _line_of(course_dir.course, "estimated_minutes: an hour")


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "course.yaml"
    empty.write_text("", encoding="utf-8")
    assert "must be a mapping" in messages(check_course(empty))
    assert "cannot read the course file" in messages(check_course(tmp_path / "absent.yaml"))


# --- the command line -------------------------------------------------------------------

def test_cli_check_exit_codes_and_messages(course_dir: CourseDir, capsys):
    assert labchain_main(["curriculum", "check", "--course", str(course_dir.course)]) == 0
    assert "OK (all labs)" in capsys.readouterr().out
    data = base_course()
    data["labs"][0]["prerequisites"] = ["02-beta"]
    course_dir.write_yaml(data)
    assert labchain_main(["curriculum", "check", "--course", str(course_dir.course)]) == 1
    err = capsys.readouterr().err
    assert "prerequisites form a cycle" in err and "1 problem(s)" in err


def test_cli_build_writes_then_reports_up_to_date(course_dir: CourseDir, capsys):
    args = ["curriculum", "build", "--course", str(course_dir.course)]
    assert labchain_main(args + ["--check"]) == 1
    assert labchain_main(args) == 0
    syllabus = (course_dir.course.parent / "SYLLABUS.md").read_text(encoding="utf-8")
    assert "| One | `01-alpha` | Alpha | none | 30 min | 5 |" in syllabus
    assert "| `02-beta` |  |  | ● |" in syllabus
    assert labchain_main(args + ["--check"]) == 0


def test_cli_build_on_a_broken_course_fails_cleanly(course_dir: CourseDir, capsys):
    course_dir.course.write_text("course: [", encoding="utf-8")
    assert labchain_main(["curriculum", "build", "--course", str(course_dir.course)]) == 1
    assert "not valid YAML" in capsys.readouterr().err


def test_find_cycle():
    assert find_cycle({"a": ["b"], "b": ["c"], "c": []}) is None
    assert find_cycle({"a": ["b"], "b": ["c"], "c": ["a"]}) == ["a", "b", "c", "a"]


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")
