"""The environment readers and the .env file."""

import os

import pytest
from django.core.exceptions import ImproperlyConfigured

from core import env


def test_int_reader_names_the_variable_and_the_problem(monkeypatch):
    monkeypatch.setenv("RETRY", "ten")
    with pytest.raises(ImproperlyConfigured, match="RETRY='ten' is not an integer"):
        env.env_int("RETRY", 3)
    monkeypatch.setenv("RETRY", "0")
    with pytest.raises(ImproperlyConfigured, match="RETRY=0 is below the minimum 1"):
        env.env_int("RETRY", 3, minimum=1)


def test_env_file_never_overrides_the_real_environment(tmp_path, monkeypatch):
    file = tmp_path / ".env"
    file.write_text("# comment\nFROM_FILE=yes\nALREADY=file\n")
    monkeypatch.setenv("ALREADY", "real")
    monkeypatch.delenv("FROM_FILE", raising=False)
    env.load_env_file(file)
    assert os.environ["FROM_FILE"] == "yes"
    assert os.environ["ALREADY"] == "real"


def test_env_file_with_a_bad_line_is_refused(tmp_path):
    file = tmp_path / ".env"
    file.write_text("JUST A SENTENCE\n")
    with pytest.raises(ImproperlyConfigured, match="expected KEY=VALUE"):
        env.load_env_file(file)
