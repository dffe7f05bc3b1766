"""``collect``: folder trees, Canvas and Moodle zips, rosters, and bad input."""
from __future__ import annotations

import zipfile

import nbformat
import pytest

from grading import api
from grading.errors import CourseError


def _release_bytes(course, lab="lab-a") -> bytes:
    return nbformat.writes(nbformat.read(str(course.release(lab, lab)), as_version=4)).encode()


def test_folder_tree_is_imported_per_student_and_lab(course, tmp_path):
    for student, lab in [("ann", "lab-a"), ("ann", "lab-b"), ("bob", "lab-a")]:
        p = tmp_path / "in" / student / lab / f"{lab}.ipynb"
        p.parent.mkdir(parents=True)
        p.write_bytes(_release_bytes(course, lab))
    stray = tmp_path / "in" / "bob" / "lab-z" / "lab-z.ipynb"
    stray.parent.mkdir(parents=True)
    stray.write_text("{}")
    result = api.collect(course, tmp_path / "in")
    assert sorted(result.imported) == [("ann", "lab-a", "lab-a"), ("ann", "lab-b", "lab-b"), ("bob", "lab-a", "lab-a")]
    assert [why for _, why in result.skipped] == ["lab-z/lab-z.ipynb is not a notebook of any lab"]
    assert course.submissions("lab-a") == ["ann", "bob"]
    assert course.submitted("lab-b", "ann", "lab-b").read_bytes() == _release_bytes(course, "lab-b")


def test_canvas_zip_maps_user_ids_through_the_roster(course, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,first_name,last_name,email,lms_user_id,sis_user_id,sis_login_id,section\n"
                      "ann,Ann,Lee,ann@uni.edu,1001,S-1,alee,A\n")
    zpath = tmp_path / "submissions.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("leeann_1001_555_lab-a.ipynb", _release_bytes(course))
        zf.writestr("doejohn_LATE_1002_556_lab-a-1.ipynb", _release_bytes(course))
        zf.writestr("../evil_1003_557_lab-a.ipynb", b"{}")
        zf.writestr("readme.txt", b"hello")
        zf.writestr("someone_1004_558_homework.ipynb", b"{}")
    result = api.collect(course, zpath, roster=roster)
    assert sorted(result.imported) == [("ann", "lab-a", "lab-a")]
    assert {why for _, why in result.skipped} == {"not a notebook", "homework.ipynb is not a notebook of any lab"}
    assert dict(result.failed) == {
        "../evil_1003_557_lab-a.ipynb": "../evil_1003_557_lab-a.ipynb has an unsafe path (absolute or with "
                                        "'..') and was not extracted.",
        "doejohn_LATE_1002_556_lab-a-1.ipynb": "student '1002' is not in the roster; add them to roster.csv "
                                               "(or map their LMS id) and collect again."}
    assert result.summary.exit_code == 1
    assert course.roster()["ann"]["sis_login_id"] == "alee"
    from grading.gradebook import gradebook
    with gradebook(course.db_url) as gb:
        ann = gb.find_student("ann")
        assert (ann.first_name, ann.last_name, ann.lms_user_id) == ("Ann", "Lee", "1001")


def test_moodle_zip_folders_are_mapped_to_participants(course, tmp_path):
    zpath = tmp_path / "moodle.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("Ann Lee_2001_assignsubmission_file_/lab-b.ipynb", _release_bytes(course, "lab-b"))
        zf.writestr("lab-b.ipynb", b"{}")
    result = api.collect(course, zpath)
    assert result.imported == [("2001", "lab-b", "lab-b")]
    assert len(result.skipped) == 1 and "matches no" in result.skipped[0][1]


def test_bad_roster_and_bad_path_are_rejected_with_a_reason(course, tmp_path):
    bad = tmp_path / "roster.csv"
    bad.write_text("name,email\nAnn,ann@uni.edu\n")
    with pytest.raises(CourseError, match="needs an 'id' column"):
        api.collect(course, tmp_path, roster=bad)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(CourseError, match="neither a folder nor a zip"):
        api.collect(course, tmp_path / "file.txt")
