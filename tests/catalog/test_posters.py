"""Posters: uploads resized once, a drawn poster for every other movie, files
served with a year's caching, a folder loaded by a command."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from PIL import Image

from catalog import posters
from catalog.models import Movie
from catalog.services import movie_set_poster, movies_generate_posters


def image_bytes(size=(400, 500), fmt="PNG", colour=(200, 40, 40), exif_orientation=None) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", size, colour)
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        image.save(out, fmt, exif=exif)
    else:
        image.save(out, fmt)
    return out.getvalue()


def test_an_upload_becomes_two_jpegs_of_the_page_sizes_cropped_to_two_by_three():
    made = posters.renditions(image_bytes((1000, 700), "PNG"))
    for data, size in ((made.card, posters.CARD), (made.page, posters.PAGE)):
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "JPEG"
            assert image.size == size


def test_a_phone_photo_is_turned_upright_by_its_exif_orientation():
    # 6 = rotate 90° clockwise to display: a landscape file is a portrait picture.
    wide = image_bytes((900, 300), "JPEG", exif_orientation=6)
    with Image.open(io.BytesIO(posters.renditions(wide).page)) as image:
        assert image.size == posters.PAGE


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"%PDF-1.4 not a picture", "not an image we can read"),
        (image_bytes((60, 90)), "at least 100 px"),
        (b"\0" * (posters.MAX_UPLOAD_BYTES + 1), "over 10 MB"),
    ],
)
def test_a_file_that_is_not_a_usable_poster_is_refused_with_the_reason(data, says):
    with pytest.raises(posters.PosterError, match=says):
        posters.renditions(data)


def test_a_drawn_poster_is_the_same_for_the_same_movie_and_escapes_the_title():
    first = posters.generated_svg("Tom & Jerry <The Movie>", 1992, ["Animation"])
    assert first == posters.generated_svg("Tom & Jerry <The Movie>", 1992, ["Animation"])
    assert b"&amp;" in first and b"&lt;The" in first and b"<The" not in first
    assert b"1992" in first and b"Animation" in first
    assert first != posters.generated_svg("Tom & Jerry <The Movie>", 1993, ["Animation"])


def test_a_long_title_is_set_smaller_on_several_lines_that_fit():
    svg = posters.generated_svg(
        "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb", 1963, ["War"]
    ).decode()
    assert svg.count("<tspan") > 2
    assert 'font-size="26"' not in svg  # the short-title size would overflow


def test_every_imported_movie_gets_a_drawn_poster_once(
    seeded, settings, django_capture_on_commit_callbacks
):
    movies = Movie.objects.all()
    assert movies and all(movie.poster_generated for movie in movies)
    movie = movies[0]
    assert (settings.MEDIA_ROOT / movie.poster_generated.name).read_bytes().startswith(b"<svg")
    assert movies_generate_posters() == 0  # nothing changed, nothing drawn

    movie.title = "A New Title"
    movie.save()
    old = settings.MEDIA_ROOT / movie.poster_generated.name
    with django_capture_on_commit_callbacks(execute=True):  # the old file goes after commit
        assert movies_generate_posters() == 1
    movie.refresh_from_db()
    assert b"A New Title" in (settings.MEDIA_ROOT / movie.poster_generated.name).read_bytes()
    assert not old.exists()


def test_posters_are_served_with_a_year_of_caching_and_nothing_outside_media(client, seeded):
    movie = Movie.objects.first()
    response = client.get(movie.poster_card_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert "max-age=31536000" in response["Cache-Control"]
    assert client.get("/media/../manage.py").status_code in (400, 404)
    assert client.get("/media/%2e%2e/manage.py").status_code in (400, 404)
    assert client.get("/media/posters/generated/nothing.svg").status_code == 404


def test_cards_and_the_movie_page_show_the_poster_with_alt_text(client, seeded, member):
    movie = Movie.objects.get(movielens_id=1)
    page = client.get(reverse("catalog:detail", args=[movie.pk])).text
    assert f'src="{movie.poster_generated.url}"' in page
    assert f'alt="Poster: {movie.title}' in page
    movie_set_poster(movie=movie, data=image_bytes())
    page = client.get(reverse("catalog:detail", args=[movie.pk])).text
    assert movie.poster.url in page and movie.poster_generated.url not in page


def test_a_curator_uploads_a_poster_in_the_admin_and_a_bad_file_changes_nothing(
    client, staff, seeded, settings
):
    client.force_login(staff)
    movie = Movie.objects.get(movielens_id=1)
    url = reverse("admin:catalog_movie_change", args=[movie.pk])
    form = {
        "title": movie.title,
        "year": movie.year,
        "genres": list(movie.genres.values_list("pk", flat=True)),
        "is_visible": "on",
        "imdb_url": "",
    }
    bad = io.BytesIO(b"GIF89a but not really")
    bad.name = "poster.gif"
    refused = client.post(url, {**form, "poster": bad})
    assert refused.status_code == 200
    assert "Upload a valid image" in refused.text or "Not a usable poster" in refused.text
    movie.refresh_from_db()
    assert not movie.poster

    good = io.BytesIO(image_bytes((800, 1200), "PNG"))
    good.name = "poster.png"
    assert client.post(url, {**form, "poster": good}).status_code == 302
    movie.refresh_from_db()
    assert movie.poster.name.endswith("-page.jpg") and movie.poster_card.name.endswith("-card.jpg")
    # Only the two renditions are kept, never the upload itself.
    kept = sorted(p.name for p in (settings.MEDIA_ROOT / "posters" / str(movie.pk)).iterdir())
    assert len(kept) == 2

    assert client.post(url, {**form, "poster-clear": "on"}).status_code == 302
    movie.refresh_from_db()
    assert not movie.poster and movie.poster_card_url == movie.poster_generated.url


def test_load_posters_takes_a_folder_named_by_movielens_id_and_refuses_a_bad_file(tmp_path, seeded):
    folder = tmp_path / "posters"
    folder.mkdir()
    (folder / "1.jpg").write_bytes(image_bytes(fmt="JPEG"))
    (folder / "2.png").write_bytes(image_bytes())
    (folder / "99999.png").write_bytes(image_bytes())  # no such movie: reported, skipped
    (folder / "3.webp").write_bytes(b"not an image")
    (folder / "notes.txt").write_text("ignored")

    with pytest.raises(CommandError, match=r"3\.webp: the file is not an image"):
        call_command("load_posters", str(folder), stdout=io.StringIO(), stderr=io.StringIO())
    assert not Movie.objects.exclude(poster="").exists()

    out, err = io.StringIO(), io.StringIO()
    call_command("load_posters", str(folder), "--skip-bad", stdout=out, stderr=err)
    assert "Loaded 2 poster(s)" in out.getvalue()
    assert "99999.png" in err.getvalue() and "skipped 3.webp" in err.getvalue()
    with_posters = Movie.objects.exclude(poster="").values_list("movielens_id", flat=True)
    assert sorted(with_posters) == [1, 2]

    with pytest.raises(CommandError, match="no such folder"):
        call_command("load_posters", str(tmp_path / "missing"), stdout=out, stderr=err)
