"""Usernames compare case-insensitively: one account per name, never a 500."""

import threading

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.services import UsernameTaken, user_create

SIGNUP = {
    "password1": "a long enough pass 42", "password2": "a long enough pass 42",
    "age": "30", "gender": "F", "occupation": "writer", "zip_code": "",
}  # fmt: skip


def test_a_name_differing_only_in_case_is_taken_on_the_sign_up_form(client, member):
    response = client.post(reverse("accounts:signup"), {"username": "ALICE", **SIGNUP})
    assert response.status_code in (200, 400)
    assert "already exists" in response.text
    assert User.objects.filter(username__iexact="alice").count() == 1


def test_log_in_ignores_the_case_of_the_username(client, member):
    response = client.post(
        reverse("accounts:login"), {"username": "Alice", "password": "correct horse battery"}
    )
    assert response.status_code == 302


def test_a_sign_up_that_raced_past_the_form_gets_a_clear_error(member):
    # What the second of two simultaneous sign-ups meets after both passed the form.
    with pytest.raises(UsernameTaken):
        user_create(username="ALICE", password="x" * 12, age=30, gender="F", occupation="writer")
    assert User.objects.filter(username__iexact="alice").count() == 1


@pytest.mark.django_db(transaction=True)
def test_simultaneous_sign_ups_with_one_name_give_one_account_and_4xx(settings):
    settings.RATE_LIMIT_SIGNUP = "0"
    names = ["sam", "Sam", "SAM", "sAm", "sam", "SaM"]
    barrier = threading.Barrier(len(names))
    statuses = []

    def sign_up(name):
        client = Client()
        barrier.wait()
        payload = {"username": name, "password": "a long enough pass 42", "age": 30,
                   "gender": "M", "occupation": "artist"}  # fmt: skip
        statuses.append(client.post("/api/users", payload, content_type="application/json"))
        connection.close()

    threads = [threading.Thread(target=sign_up, args=(n,)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    codes = sorted(r.status_code for r in statuses)
    assert codes == [201] + [422] * (len(names) - 1), [r.content for r in statuses]
    assert User.objects.filter(username__iexact="sam").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_migration_reports_and_resolves_existing_clashes(capsys):
    executor = MigrationExecutor(connection)
    before = [("accounts", "0003_api_token")]
    after = [("accounts", "0004_usernames_case_insensitive")]
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("accounts", "User")
    first = old.objects.create(username="kim", password="!")
    second = old.objects.create(username="Kim", password="!")

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert User.objects.get(pk=first.pk).username == "kim"
    assert User.objects.get(pk=second.pk).username == f"Kim-{second.pk}"
    assert "username clash" in capsys.readouterr().out
