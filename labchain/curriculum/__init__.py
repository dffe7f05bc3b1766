"""The course as data: ``curriculum/course.yaml``, its schema, its checks and its syllabus.

Terminology
    course       the whole programme, described by one YAML file (``curriculum/course.yaml``)
    module       a group of labs taught together (a chapter of the course)
    lab          one graded Jupyter notebook, ``labs/<lab-id>/<lab-id>.ipynb`` in nbgrader
                 *source* format (solutions and hidden tests included)
    objective    a learning objective of one lab, phrased with a Bloom verb and tagged with
                 its Bloom level; assessed by the autograded test cells that name it
    competency   one of the six areas of work of China's occupational standard for blockchain
                 engineering technicians (2021)

Modules
    :mod:`.schema`    the declared fields of each record, the Bloom levels and their verbs
    :mod:`.model`     load the YAML into frozen records, with errors that name file, line and path
    :mod:`.notebook`  read the graded cells and objective tags of an nbgrader source notebook
    :mod:`.check`     every rule that ties the course file to the lab notebooks
    :mod:`.translations`  the zh-CN rules: every cell and objective translated, current, on-glossary
    :mod:`.syllabus`  render ``curriculum/SYLLABUS.md``
    :mod:`.cli`       ``labchain curriculum check|build``
"""
from __future__ import annotations

from labchain.curriculum.check import Problem, check_course
from labchain.curriculum.model import Course, CourseFileError, Lab, Objective, load_course
from labchain.curriculum.syllabus import render_syllabus

__all__ = [
    "Course",
    "CourseFileError",
    "Lab",
    "Objective",
    "Problem",
    "check_course",
    "load_course",
    "render_syllabus",
]
