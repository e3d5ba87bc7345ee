import pytest


@pytest.fixture(scope="session")
def lab01():
    from vmlab.grading.labs import lab01
    return lab01
