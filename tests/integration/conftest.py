"""conftest.py: the session-wide real stack every integration test talks to (see stack.py)."""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# stack.py holds shared assertions: rewrite them so failures show the values compared.
pytest.register_assert_rewrite("stack")

from stack import Stack, StackError  # noqa: E402


@pytest.fixture(scope="session")
def stack():
    """A fresh deploy/local/run (4 workers, cheap Argon2, known admin password).

    At the end it must stop on SIGTERM with exit status 0 and leave no process behind
    (API.md §7); a stack that does not is a failure of the session.
    """
    s = Stack(workers=4)
    failure = None
    try:
        s.start()
    except StackError as e:
        failure = str(e)
    except Exception as e:  # anything else still has to stop what was started
        failure = "%s: %s" % (type(e).__name__, e)
    if failure is not None:
        problems = s.stop()
        # The details once (pytest shows them with the first test's error), a short line for
        # every test that could not run.
        print("\n".join([failure] + problems), file=sys.stderr)
        pytest.fail("the stack did not start (output of deploy/local/run: %s)" % s.run_log,
                    pytrace=False)
    yield s
    problems = s.stop()
    if problems:
        pytest.fail("the stack did not stop cleanly:\n%s\n--- deploy/local/run output ---\n%s"
                    % ("\n".join(problems), s.log_tail()), pytrace=False)


# Files whose tests break the shared stack on purpose (stop or freeze MariaDB, kill workers):
# they run after every other test, whatever their names sort as.
LAST_FILES = ("test_resilience.py", "test_fastpath.py")


def pytest_collection_modifyitems(session, config, items):
    """Moves the tests of LAST_FILES to the end, keeping the order within each group."""
    def is_last(item):
        return os.path.basename(str(item.fspath)) in LAST_FILES

    items[:] = [i for i in items if not is_last(i)] + [i for i in items if is_last(i)]
