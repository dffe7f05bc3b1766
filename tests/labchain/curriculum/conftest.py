"""Fixtures of the curriculum tests."""
from __future__ import annotations

import pytest

from course_fixtures import CourseDir


@pytest.fixture
def course_dir(tmp_path) -> CourseDir:
    """A valid two-lab course in a temporary folder (curriculum/course.yaml + labs/)."""
    return CourseDir(tmp_path)
