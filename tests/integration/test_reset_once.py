"""test_reset_once.py: a reset link works once even when it is used many times at once (API.md §5).

The link is bound to the password it was made for; the check and the write must be one
transaction, or two POSTs that both pass the check before either writes both change the password.
Eight clients send the same link at the same moment (a barrier releases them together), through
the JSON API and through the HTML form: exactly one succeeds, the others get the used-link answer
(API.md §7: 400 invalid_token).
"""

import threading

from accounts_lib import (RESET_SUBJECT, Browser, csrf_of, input_value, link_path, mailed_token,
                          mails, new_password, register)
from api_lib import Client
from stack import assert_problem

N = 8


def reset_token(stack, account):
    r = Browser(stack).form("/forgot-password", {"email": account.email})
    assert r.status_code == 200, r.text[:300]
    assert len(mails(stack, account.email, RESET_SUBJECT)) == 1
    return mailed_token(stack, account.email, "/reset-password")


def all_at_once(sends):
    """Runs every callable of SENDS in a thread of its own, released together; returns results."""
    barrier = threading.Barrier(len(sends))
    results = [None] * len(sends)

    def run(i):
        barrier.wait(timeout=30)
        try:
            results[i] = sends[i]()
        except Exception as e:  # reported as the result, so the assertion names it
            results[i] = e
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(sends))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a request never came back"
    return results


def logs_in(stack, account, password):
    r = Client(stack).post("/api/v1/auth/login", {"login": account.username,
                                                 "password": password})
    return r.status_code == 200


def test_eight_concurrent_api_resets_with_one_link_change_the_password_once(stack):
    account = register(stack, verified=True)
    token = reset_token(stack, account)
    passwords = [new_password() for _ in range(N)]
    clients = [Client(stack) for _ in range(N)]
    sends = [(lambda c=c, p=p: c.post("/api/v1/auth/password/reset",
                                      {"token": token, "password": p}))
             for c, p in zip(clients, passwords)]
    results = all_at_once(sends)
    for r in results:
        assert not isinstance(r, Exception), repr(r)
    won = [i for i, r in enumerate(results) if r.status_code == 204]
    assert len(won) == 1, "expected exactly one 204, got %r" % [r.status_code for r in results]
    for i, r in enumerate(results):
        if i not in won:
            assert_problem(r, 400, "invalid_token")
    assert logs_in(stack, account, passwords[won[0]]), "the winning password does not work"
    for i, p in enumerate(passwords):
        if i not in won:
            assert not logs_in(stack, account, p), "a losing request's password works"
    changed = mails(stack, account.email, "password was changed")
    assert len(changed) == 1, "expected one change notice, got %d" % len(changed)


def test_eight_concurrent_html_resets_with_one_link_change_the_password_once(stack):
    account = register(stack, verified=True)
    token = reset_token(stack, account)
    forms = []
    for _ in range(N):
        b = Browser(stack)
        page = b.get(link_path(token, "/reset-password"))
        assert page.status_code == 200, page.text[:300]
        password = new_password()
        forms.append((b, password, {"csrf_token": csrf_of(page.text),
                                    "token": input_value(page.text, "token"),
                                    "password": password, "password_confirm": password}))
    sends = [(lambda b=b, f=f: b.post("/reset-password", f)) for b, _, f in forms]
    results = all_at_once(sends)
    for r in results:
        assert not isinstance(r, Exception), repr(r)
    won = [i for i, r in enumerate(results) if r.status_code == 200]
    assert len(won) == 1, "expected exactly one 200, got %r" % [r.status_code for r in results]
    assert "Password changed" in results[won[0]].text
    for i, r in enumerate(results):
        if i not in won:
            assert r.status_code == 400, (r.status_code, r.text[:300])
            assert "This link is not valid" in r.text, r.text[:600]
    assert logs_in(stack, account, forms[won[0]][1]), "the winning password does not work"
    changed = mails(stack, account.email, "password was changed")
    assert len(changed) == 1, "expected one change notice, got %d" % len(changed)
