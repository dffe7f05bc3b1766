"""LabChain's autograder: nbgrader's grading model, run fast and sandboxed.

Layers (see docs/ARCHITECTURE.md and docs/grading.md):

- ``grading.sandbox``  runs ONE notebook in isolation with a real Jupyter kernel.
- ``grading.pipeline`` nbgrader's steps around it: sanitize -> execute -> save grades.
- ``grading.api``      init, generate, collect, autograde, feedback, export, report.
- ``grading.cli``      ``labchain-grade``, a thin argparse layer over ``grading.api``.

Terminology follows nbgrader: a *lab* is an nbgrader *assignment* (one folder under
``source/``), a *grade cell* is a cell with points, a *submission* is one student's copy.
"""
