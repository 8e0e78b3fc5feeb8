import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from catalog.models import Genre, Movie
from ratings.models import Rating

User = get_user_model()


def seed(*args, **options) -> str:
    out = io.StringIO()
    call_command("seed_movielens", *args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def snapshot():
    """Everything an import could change, in a comparable form."""
    return (
        sorted(Movie.objects.values_list("movielens_id", "title", "year")),
        sorted(User.objects.values_list("username", "age", "occupation")),
        sorted(Rating.objects.values_list("user__username", "movie__movielens_id", "value")),
    )


def zip_of(directory: Path, dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(directory.iterdir()):
            archive.write(file, f"ml-100k/{file.name}")
    return dest


def data_lines(directory: Path, name: str) -> list[str]:
    return (directory / name).read_text(encoding="latin-1").splitlines()


@pytest.mark.django_db
def test_import_of_the_fixtures_creates_every_movie_user_and_rating(synthetic_dir, settings):
    output = seed(source=str(synthetic_dir))

    assert Movie.objects.count() == 60
    assert User.objects.filter(source="movielens").count() == 40
    assert Rating.objects.count() == len(data_lines(synthetic_dir, "u.data")) == 736
    assert "Imported 60 movies, 40 users, 736 ratings" in output


@pytest.mark.django_db
def test_import_parses_titles_years_genres_and_timestamps(synthetic_dir):
    seed(source=str(synthetic_dir))

    first = Movie.objects.get(movielens_id=1)
    assert (first.title, first.year) == ("The Wild Garden", 1955)
    assert first.release_date.isoformat() == "1955-03-15"
    assert [g.name for g in first.genres.all()] == ["Horror"]
    assert first.imdb_url.startswith("http://us.imdb.com/")
    unknown = Movie.objects.get(movielens_id=60)
    assert unknown.year is None and [g.name for g in unknown.genres.all()] == ["unknown"]

    user, movie, value, stamp = data_lines(synthetic_dir, "u.data")[0].split("\t")
    rating = Rating.objects.get(user__movielens_id=user, movie__movielens_id=movie)
    assert rating.value == int(value)
    assert rating.created_at.timestamp() == int(stamp)
    member = User.objects.get(movielens_id=1)
    assert not member.has_usable_password()
    assert Genre.objects.count() == 19


def _video_release_dates(directory: Path) -> None:
    """Movies 1 and 2 dated by a later video release, as about 190 of
    MovieLens 100K's are (Taxi Driver (1976) dated 16-Feb-1996)."""
    lines = data_lines(directory, "u.item")
    for row, later in ((0, "15-Mar-1996"), (1, "12-Jan-1997")):
        cells = lines[row].split("|")
        cells[2] = later
        lines[row] = "|".join(cells)
    (directory / "u.item").write_text("\n".join(lines) + "\n", encoding="latin-1")


@pytest.mark.django_db
def test_the_year_is_the_titles_not_a_later_video_release(synthetic_dir):
    _video_release_dates(synthetic_dir)
    seed(source=str(synthetic_dir))

    first = Movie.objects.get(movielens_id=1)
    assert first.year == 1955  # "The Wild Garden (1955)"
    assert first.release_date.isoformat() == "1996-03-15"
    assert Movie.objects.filter(year__gte=1950, year__lt=1960, movielens_id=1).exists()


@pytest.mark.django_db
def test_a_reimport_corrects_years_an_earlier_import_took_from_the_date_but_not_a_curators(
    synthetic_dir, admin_client
):
    _video_release_dates(synthetic_dir)
    seed(source=str(synthetic_dir))
    # What the earlier import stored: the video release's year.
    Movie.objects.filter(movielens_id=1).update(year=1996)
    Movie.objects.filter(movielens_id=2).update(year=1997)
    # A curator sets movie 2's year by hand in the admin (to the one they believe).
    second = Movie.objects.get(movielens_id=2)
    form = {
        "title": second.title, "year": "1984", "release_date": "1997-01-12",
        "genres": [g.pk for g in second.genres.all()], "imdb_url": second.imdb_url,
        "is_visible": "on",
    }  # fmt: skip
    answer = admin_client.post(f"/admin/catalog/movie/{second.pk}/change/", form)
    assert answer.status_code == 302, answer.content[:2000]

    output = seed(source=str(synthetic_dir))

    assert "Years: 1 corrected from the MovieLens titles." in output
    assert Movie.objects.get(movielens_id=1).year == 1955
    assert Movie.objects.get(movielens_id=2).year == 1984  # the curator's stands
    assert "Nothing new" in seed(source=str(synthetic_dir))  # and once is enough


@pytest.mark.django_db
def test_second_import_adds_nothing_and_says_so(synthetic_dir):
    seed(source=str(synthetic_dir))
    before = snapshot()

    output = seed(source=str(synthetic_dir))

    assert "Nothing new to import" in output
    assert snapshot() == before


@pytest.mark.django_db
def test_reimport_keeps_a_members_change_to_an_imported_rating(synthetic_dir):
    seed(source=str(synthetic_dir))
    rating = Rating.objects.order_by("pk").first()
    changed = 1 if rating.value != 1 else 2
    Rating.objects.filter(pk=rating.pk).update(value=changed)

    seed(source=str(synthetic_dir))

    rating.refresh_from_db()
    assert rating.value == changed


@pytest.mark.django_db
def test_movies_only_imports_just_the_catalogue(synthetic_dir):
    seed(source=str(synthetic_dir), movies_only=True)
    assert Movie.objects.count() == 60
    assert not User.objects.exists() and not Rating.objects.exists()


@pytest.mark.django_db
def test_import_from_a_zip_with_the_right_checksum(synthetic_dir, tmp_path):
    archive = zip_of(synthetic_dir, tmp_path / "ml-100k.zip")
    md5 = hashlib.md5(archive.read_bytes()).hexdigest()

    seed(source=str(archive), md5=md5)

    assert Rating.objects.count() == 736


@pytest.mark.django_db
def test_import_keeps_raw_files_and_rebuilds_the_canonical_splits(synthetic_dir, settings):
    seed(source=str(synthetic_dir))

    kept = settings.DATA_DIR / "ml-100k"
    original = data_lines(synthetic_dir, "u.data")
    assert data_lines(kept, "u.data") == original
    fold = len(original) // 5

    def ordered(lines):
        return sorted(lines, key=lambda line: tuple(int(x) for x in line.split("\t")[:2]))

    for i in range(1, 6):
        test_part = original[(i - 1) * fold : i * fold]
        base_part = original[: (i - 1) * fold] + original[i * fold :]
        assert data_lines(kept, f"u{i}.test") == ordered(test_part)
        assert data_lines(kept, f"u{i}.base") == ordered(base_part)


# --- Bad sources abort with a clear message and change nothing --------------


@pytest.fixture
def already_seeded(db):
    """The database holds the fixtures, so 'unchanged' is not trivially empty."""
    seed(source=str(Path(__file__).resolve().parents[2] / "fixtures" / "ml-synthetic"))
    return snapshot()


def with_extra_movie(directory: Path) -> None:
    """A movie that a non-atomic import would have written before failing."""
    flags = "|".join(["0"] * 8 + ["1"] + ["0"] * 10)
    with open(directory / "u.item", "a", encoding="latin-1") as handle:
        handle.write(f"61|The Extra Reel (1990)|01-Jan-1990||http://example.org/|{flags}\n")
    info = (directory / "u.info").read_text().replace("60 items", "61 items")
    (directory / "u.info").write_text(info)


def test_truncated_ratings_file_aborts_and_changes_nothing(synthetic_dir, already_seeded):
    with_extra_movie(synthetic_dir)
    data = (synthetic_dir / "u.data").read_bytes()
    (synthetic_dir / "u.data").write_bytes(data[: len(data) // 2 + 3])

    with pytest.raises(
        CommandError, match=r"u\.data ends in the middle of line \d+ \(truncated file\?\)"
    ):
        seed(source=str(synthetic_dir))

    assert snapshot() == already_seeded


def test_file_cut_at_a_line_boundary_is_caught_by_u_info(synthetic_dir, already_seeded):
    with_extra_movie(synthetic_dir)
    lines = data_lines(synthetic_dir, "u.data")
    (synthetic_dir / "u.data").write_text("\n".join(lines[:500]) + "\n")

    with pytest.raises(CommandError, match=r"u\.info says 736 ratings but the files hold 500"):
        seed(source=str(synthetic_dir))

    assert snapshot() == already_seeded


def test_missing_file_aborts_and_changes_nothing(synthetic_dir, already_seeded):
    with_extra_movie(synthetic_dir)
    (synthetic_dir / "u.user").unlink()

    with pytest.raises(CommandError, match=r"u\.user is missing"):
        seed(source=str(synthetic_dir))

    assert snapshot() == already_seeded


def test_non_numeric_rating_aborts_and_changes_nothing(synthetic_dir, already_seeded):
    with_extra_movie(synthetic_dir)
    lines = data_lines(synthetic_dir, "u.data")
    user, movie, _value, stamp = lines[100].split("\t")
    lines[100] = f"{user}\t{movie}\tfive\t{stamp}"
    (synthetic_dir / "u.data").write_text("\n".join(lines) + "\n")

    with pytest.raises(
        CommandError, match=r"u\.data line 101: rating 'five' is not a whole number"
    ):
        seed(source=str(synthetic_dir))

    assert snapshot() == already_seeded


def test_rating_outside_range_aborts(synthetic_dir, already_seeded):
    lines = data_lines(synthetic_dir, "u.data")
    user, movie, _value, stamp = lines[3].split("\t")
    lines[3] = f"{user}\t{movie}\t6\t{stamp}"
    (synthetic_dir / "u.data").write_text("\n".join(lines) + "\n")

    with pytest.raises(CommandError, match="rating 6 is outside 1-5"):
        seed(source=str(synthetic_dir))

    assert snapshot() == already_seeded


def test_zip_with_wrong_checksum_aborts_and_changes_nothing(
    synthetic_dir, tmp_path, already_seeded
):
    with_extra_movie(synthetic_dir)
    archive = zip_of(synthetic_dir, tmp_path / "ml-100k.zip")

    with pytest.raises(CommandError, match=r"checksum mismatch.*expected MD5 0{32}"):
        seed(source=str(archive), md5="0" * 32)

    assert snapshot() == already_seeded


def test_truncated_zip_aborts_and_changes_nothing(synthetic_dir, tmp_path, already_seeded):
    with_extra_movie(synthetic_dir)
    archive = zip_of(synthetic_dir, tmp_path / "ml-100k.zip")
    archive.write_bytes(archive.read_bytes()[:-200])

    with pytest.raises(CommandError, match="not a readable zip archive"):
        seed(source=str(archive))

    assert snapshot() == already_seeded


def test_failure_while_writing_rolls_back_everything_written_before_it(
    synthetic_dir, django_user_model, db
):
    # The users step fails after the movies step has written its rows.
    django_user_model.objects.create_user(username="movielens-7", password="x")

    with pytest.raises(CommandError, match="usernames reserved for MovieLens users are taken"):
        seed(source=str(synthetic_dir))

    assert not Movie.objects.exists()
    assert not Rating.objects.exists()


def test_unknown_source_path_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="no such directory or zip file"):
        seed(source=str(tmp_path / "nowhere"))


TEN_M_MOVIES = (
    "1::Toy Story (1995)::Adventure|Animation|Children|Comedy|Fantasy\n"
    "2::Usual Suspects, The (1995)::Crime|Mystery|Thriller\n"
    "3::Unlisted (2001)::(no genres listed)\n"
)
TEN_M_RATINGS = (
    "7::1::5::838985046\n7::2::3.5::838983525\n9::1::0.5::838983392\n9::3::4.5::838983421\n"
)
CSV_MOVIES = (
    "movieId,title,genres\n"
    "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
    '2,"Usual Suspects, The (1995)",Crime|Mystery|Thriller|IMAX\n'
)
CSV_RATINGS = "userId,movieId,rating,timestamp\n1,1,4.0,1225734739\n1,2,2.5,1225865086\n3,2,1.0,5\n"


def _later(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


@pytest.mark.django_db
def test_movielens_10m_layout_imports_with_half_stars_rounded_up_and_no_demographics(tmp_path):
    source = _later(tmp_path, {"movies.dat": TEN_M_MOVIES, "ratings.dat": TEN_M_RATINGS})

    out = seed(source=str(source))

    assert "3 movies, 2 members and 4 ratings" in out
    ninth = Rating.objects.filter(user__movielens_id=9)
    assert dict(ninth.values_list("movie__movielens_id", "value")) == {1: 1, 3: 5}  # 0.5, 4.5
    assert Rating.objects.get(user__movielens_id=7, movie__movielens_id=2).value == 4  # 3.5
    member = User.objects.get(movielens_id=7)
    assert (member.age, member.gender, member.occupation) == (None, "", "")
    suspects = Movie.objects.get(movielens_id=2)
    assert (suspects.title, suspects.year) == ("The Usual Suspects", 1995)
    toy_story = set(Movie.objects.get(movielens_id=1).genres.values_list("name", flat=True))
    assert "Children's" in toy_story and "Animation" in toy_story
    assert "unknown" in set(Movie.objects.get(movielens_id=3).genres.values_list("name", flat=True))
    assert "0 ratings" in seed(source=str(source))  # again: nothing to add
    assert Rating.objects.count() == 4


@pytest.mark.django_db
def test_movielens_csv_layout_imports_and_a_bad_line_changes_nothing(tmp_path):
    source = _later(tmp_path, {"movies.csv": CSV_MOVIES, "ratings.csv": CSV_RATINGS})
    seed(source=str(source))
    rows = Rating.objects.values_list("user__movielens_id", "movie__movielens_id", "value")
    assert sorted(rows) == [(1, 1, 4), (1, 2, 3), (3, 2, 1)]
    before = snapshot()

    (source / "ratings.csv").write_text(CSV_RATINGS + "3,1,6.0,9\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"ratings.csv line 5: rating 6 .*not changed"):
        seed(source=str(source))
    (source / "ratings.csv").write_text(CSV_RATINGS + "3,99,4.0,9\n", encoding="utf-8")
    with pytest.raises(CommandError, match=r"movie 99 is not a known movie"):
        seed(source=str(source))
    (source / "ratings.csv").write_text(CSV_RATINGS + "3,1,4.0", encoding="utf-8")
    with pytest.raises(CommandError, match=r"truncated"):
        seed(source=str(source))
    assert snapshot() == before


def _rating_indexes() -> set[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, Rating._meta.db_table)
    return {name for name, about in found.items() if about["index"] or about["unique"]}


@pytest.mark.django_db
def test_a_first_import_builds_the_rating_indexes_after_the_rows_and_keeps_every_one(
    synthetic_dir,
):
    before = _rating_indexes()
    assert len(before) >= 5

    seed(source=str(synthetic_dir))

    assert _rating_indexes() == before
    assert Rating.objects.count() == 736
    # The unique pair stands throughout: a second rating of a pair is refused.
    from django.db import IntegrityError, transaction

    rating = Rating.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(user=rating.user, movie=rating.movie, value=3)


@pytest.mark.django_db
def test_an_import_failing_midway_leaves_no_rating_and_every_index(synthetic_dir, monkeypatch):
    from recommender.management.commands import seed_movielens as command

    before = _rating_indexes()
    real = command.ratings_import_movielens

    def fails_after_writing(**kwargs):
        real(**kwargs)
        raise ValueError("disk full")

    monkeypatch.setattr(command, "ratings_import_movielens", fails_after_writing)
    with pytest.raises(CommandError, match="disk full"):
        seed(source=str(synthetic_dir))

    assert not Rating.objects.exists() and not Movie.objects.exists()
    assert _rating_indexes() == before
