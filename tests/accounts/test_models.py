import pytest
from django.db import IntegrityError, transaction


@pytest.mark.parametrize("age", [0, 121])
def test_database_refuses_an_impossible_age(django_user_model, age):
    with pytest.raises(IntegrityError), transaction.atomic():
        django_user_model.objects.create_user(username="bob", password="x", age=age)
    assert not django_user_model.objects.filter(username="bob").exists()


def test_database_refuses_an_unknown_gender(django_user_model):
    with pytest.raises(IntegrityError), transaction.atomic():
        django_user_model.objects.create_user(username="bob", password="x", age=30, gender="X")


def test_staff_account_needs_no_demographics(django_user_model):
    admin = django_user_model.objects.create_superuser(username="root", password="x")
    assert admin.age is None and admin.gender == ""
