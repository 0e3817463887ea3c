"""conftest.py: one deploy/cluster/run for the whole cluster layer, its mailers on a fake Mailjet."""

import os
import secrets
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
pytest.register_assert_rewrite("cluster_lib")

from cluster_lib import Cluster  # noqa: E402
from fake_mailjet import FakeMailjet  # noqa: E402  (tests/integration, on the path now)

# The per-IP limit of the cluster's workers (test_cluster.py checks it across both hosts).
PER_IP = 20


@pytest.fixture(scope="session")
def mailjet():
    fake = FakeMailjet(api_key="mjkey-" + secrets.token_hex(8),
                       api_secret="mjsecret-" + secrets.token_hex(12))
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture(scope="session")
def cluster(mailjet):
    c = Cluster({
        "USERMGR_MAIL_TRANSPORT": "mailjet", "MAILJET_API_URL": mailjet.url,
        "MAILJET_API_KEY": mailjet.api_key, "MAILJET_API_SECRET": mailjet.api_secret,
        "SENDER_EMAIL": "no-reply@example.com", "SENDER_NAME": "usermgr cluster",
        "USERMGR_RATE_PER_IP_PER_MIN": str(PER_IP),
    })
    try:
        c.start()
    except Exception:
        c.stop()
        raise
    yield c
    rc = c.stop()
    assert rc == 0, "deploy/cluster/run did not stop cleanly (%r); log: %s" % (rc, c.run_log)
