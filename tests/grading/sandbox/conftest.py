"""Shared fixtures of the sandbox tests: real zygotes, real forked IPython kernels."""
from __future__ import annotations

import pytest
from needs import unsandboxed_ok
from sandbox_helpers import LIMITS

from grading.sandbox import make_executor


@pytest.fixture(scope="session")
def one():
    """One worker: consecutive submissions are forked by the same zygote."""
    with make_executor("os", workers=1, limits=LIMITS, allow_unsandboxed=unsandboxed_ok()) as executor:
        executor.warm_up()
        yield executor


@pytest.fixture(scope="session")
def pool():
    """Two workers, for the parallel tests."""
    with make_executor("os", workers=2, limits=LIMITS, allow_unsandboxed=unsandboxed_ok()) as executor:
        executor.warm_up()
        yield executor
