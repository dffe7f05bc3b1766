"""Every rule that ties ``course.yaml`` to the lab notebooks, as one list of problems.

Course-wide rules always cover every lab in the file:
    ids are unique; each lab sits in exactly one module; competencies are declared areas and
    every area is served by some lab; prerequisites name listed labs and form no cycle; each
    objective starts with a verb of its Bloom level.
Notebook rules cover the labs selected (all of them by default):
    ``labs/<id>/<id>.ipynb`` exists and is readable; grade ids are unique; region markers are
    balanced; every autograded test cell names its objectives (``# objectives: ...``) and only
    objectives of its lab; every objective is assessed by at least one such cell; at least one
    cell has hidden tests; ``points`` equals the sum of the autograded cells' points; a test
    cell reads no name the student's code can rebind (``testcells``, docs/labs.md).

Selecting labs (``labs=[...]``, CLI ``--lab``) exists for a course whose later labs are still
being written: the course-wide rules still see the whole file, only the notebook rules are
limited. The default checks everything.

A course with ``translations: [zh-CN]`` also gets the translation rules of
:mod:`labchain.curriculum.translations` (missing/outdated cell translations, missing ``*_zh``
texts, glossary terms).
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterable

from labchain.curriculum import notebook as nbmod
from labchain.curriculum import testcells, translations
from labchain.curriculum.model import Course, CourseFileError, Lab, Problem, load_course
from labchain.curriculum.schema import BLOOM_VERBS

__all__ = ["Problem", "check_course", "check_loaded"]


def check_course(path: str | Path, labs: Iterable[str] | None = None,
                 root: str | Path | None = None) -> list[Problem]:
    """Load the course file at ``path`` and return every problem (empty list: all good)."""
    try:
        course = load_course(path, root=root)
    except CourseFileError as exc:
        return list(exc.problems)
    return check_loaded(course, labs)


def check_loaded(course: Course, labs: Iterable[str] | None = None) -> list[Problem]:
    """All problems of an already loaded course; notebook rules only for ``labs`` when given."""
    problems = _course_rules(course) + translations.course_rules(course)
    known = {lab.id for lab in course.labs}
    selected = list(course.labs)
    if labs is not None:
        wanted = list(labs)
        for lab_id in wanted:
            if lab_id not in known:
                problems.append(course.problem("labs", f"--lab {lab_id!r} is not a lab of this course"))
        selected = [lab for lab in course.labs if lab.id in wanted]
    for lab in selected:
        problems.extend(_notebook_rules(course, lab))
        problems.extend(translations.notebook_rules(course, lab))
    return problems


# --- course-wide rules ------------------------------------------------------------------

def _course_rules(course: Course) -> list[Problem]:
    p: list[Problem] = []
    p += _duplicates(course, [a.id for a in course.competency_areas], "competency_areas", "competency area")
    p += _duplicates(course, [m.id for m in course.modules], "modules", "module")
    p += _duplicates(course, [lab.id for lab in course.labs], "labs", "lab")

    lab_ids = {lab.id for lab in course.labs}
    placed: Counter[str] = Counter()
    for mi, module in enumerate(course.modules):
        for li, lab_id in enumerate(module.labs):
            placed[lab_id] += 1
            if lab_id not in lab_ids:
                p.append(course.problem(f"modules[{mi}].labs[{li}]", f"names {lab_id!r}, which is not in labs"))
    for lab in course.labs:
        if placed[lab.id] != 1:
            how = "no module" if placed[lab.id] == 0 else f"{placed[lab.id]} modules"
            p.append(course.problem(f"labs[{lab.index}].id", f"lab {lab.id!r} is in {how}; it must be in exactly one"))

    areas = {a.id for a in course.competency_areas}
    served: set[str] = set()
    for lab in course.labs:
        base = f"labs[{lab.index}]"
        for ci, comp in enumerate(lab.competencies):
            served.add(comp)
            if comp not in areas:
                p.append(course.problem(f"{base}.competencies[{ci}]",
                                        f"{comp!r} is not a competency area; use one of {', '.join(sorted(areas))}"))
        p += _duplicates(course, [o.id for o in lab.objectives], f"{base}.objectives", "objective")
        for oi, obj in enumerate(lab.objectives):
            if obj.verb not in BLOOM_VERBS[obj.bloom]:
                fits = [level for level, verbs in BLOOM_VERBS.items() if obj.verb in verbs]
                hint = f" ({obj.verb!r} is a verb of: {', '.join(fits)})" if fits else ""
                p.append(course.problem(f"{base}.objectives[{oi}].text",
                                        f"starts with {obj.verb!r}, not a Bloom verb of level {obj.bloom!r}{hint}"))
        for pi, pre in enumerate(lab.prerequisites):
            if pre == lab.id:
                p.append(course.problem(f"{base}.prerequisites[{pi}]", "a lab cannot be its own prerequisite"))
            elif pre not in lab_ids:
                p.append(course.problem(f"{base}.prerequisites[{pi}]", f"names {pre!r}, which is not in labs"))
    for area in course.competency_areas:
        if area.id not in served:
            p.append(course.problem("competency_areas", f"competency area {area.id!r} is served by no lab"))
    cycle = find_cycle({lab.id: [x for x in lab.prerequisites if x in lab_ids and x != lab.id]
                        for lab in course.labs})
    if cycle:
        first = course.lab(cycle[0])
        p.append(course.problem(f"labs[{first.index}].prerequisites",
                                f"prerequisites form a cycle: {' -> '.join(cycle)}"))
    return p


def _duplicates(course: Course, ids: list[str], where: str, what: str) -> list[Problem]:
    return [course.problem(where, f"{what} id {i!r} appears {n} times")
            for i, n in Counter(ids).items() if n > 1]


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle in ``graph`` (node -> prerequisites) as [a, b, ..., a], or None."""
    state: dict[str, int] = {}      # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state and (found := visit(node)):
            return found
    return None


# --- notebook rules ---------------------------------------------------------------------

def _notebook_rules(course: Course, lab: Lab) -> list[Problem]:
    base = f"labs[{lab.index}]"
    folder = course.root / "labs" / lab.id
    nb_path = course.notebook_path(lab.id)
    if not folder.is_dir():
        return [course.problem(f"{base}.id", f"lab {lab.id!r} has no folder {_rel(course, folder)}/")]
    if not nb_path.is_file():
        return [course.problem(f"{base}.id", f"lab {lab.id!r} has no notebook {_rel(course, nb_path)}")]
    file = _rel(course, nb_path)
    try:
        cells = nbmod.read_cells(nb_path)
    except nbmod.NotebookError as exc:
        return [Problem(file, "", str(exc))]

    p: list[Problem] = []
    for grade_id, n in Counter(c.grade_id for c in cells).items():
        if n > 1:
            p.append(Problem(file, f"cell {grade_id!r}", f"grade_id used by {n} cells; nbgrader needs unique ids"))
    objective_ids = {o.id for o in lab.objectives}
    assessed: set[str] = set()
    autograded = [c for c in cells if c.autograded_test]
    exercise = testcells.exercise_names([c for c in cells if c.solution])
    for cell in cells:
        where = f"cell {cell.grade_id!r} (#{cell.index})"
        p += [Problem(file, where, msg) for msg in nbmod.marker_problems(cell)]
        if cell.grade and not (cell.points > 0):
            p.append(Problem(file, where, f"a graded cell needs points > 0; has {cell.points!r}"))
        if not cell.autograded_test:
            continue
        p += [Problem(file, where, msg) for msg in testcells.untrusted_reads(cell, exercise)]
        if cell.objectives is None:
            p.append(Problem(file, where, "autograded test cell must start with '# objectives: <id>[, <id>...]'"))
            continue
        if not cell.objectives:
            p.append(Problem(file, where, "'# objectives:' line names no objective"))
        for obj in cell.objectives:
            if obj in objective_ids:
                assessed.add(obj)
            else:
                p.append(Problem(file, where, f"names objective {obj!r}, which {lab.id} does not have "
                                              f"(its objectives: {', '.join(sorted(objective_ids))})"))
    for oi, obj in enumerate(lab.objectives):
        if obj.id not in assessed:
            p.append(course.problem(f"{base}.objectives[{oi}]",
                                    f"objective {obj.id!r} is assessed by no autograded test cell in {file}"))
    if autograded and not any(c.has_hidden_tests for c in autograded):
        p.append(Problem(file, "", "no autograded test cell has '### BEGIN HIDDEN TESTS'; "
                                   "visible asserts alone can be matched without solving the exercise"))
    total = sum(c.points for c in autograded)
    if total != lab.points:
        p.append(course.problem(f"{base}.points",
                                f"is {lab.points} but the autograded test cells of {file} add up to {_num(total)}"))
    return p


def _rel(course: Course, path: Path) -> str:
    return course.relative(path)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)
