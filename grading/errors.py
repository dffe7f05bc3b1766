"""Errors of the grading package: precise subclasses of LabChain's one exception root.

Each carries the offending object in ``.obj`` and a message an instructor can act on.
"""
from __future__ import annotations

from labchain.core.errors import LabchainError


class GradingError(LabchainError):
    """Root of every error the grader raises on purpose."""


class CourseError(GradingError):
    """The course directory is missing, incomplete or inconsistent."""


class SubmissionError(GradingError):
    """One submission cannot be read or graded (the batch goes on without it)."""
