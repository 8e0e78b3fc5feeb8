"""The process's engine: catalogue changes, hot swap, broken versions."""

import shutil
import threading
import time

from django.conf import settings

from catalog.models import Genre, Movie
from gnn.bridge import registry
from gnn.bridge.serving import get_service
from gnn.selectors import (
    ListQuery,
    recommendations_for,
)
from tests.conftest import train_quickly


def wait_until(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def ids(recommendations):
    return [item.movie.pk for item in recommendations.items]


def fresh(user):
    user.refresh_from_db()
    return user


def test_a_movie_added_by_a_curator_after_training_is_recommendable_after_a_refresh(
    trained_committed, member, instant_checks
):
    from gnn.runs import refresh_serving

    recommendations_for(user=member)
    movie = Movie.objects.create(title="A Brand New Film", year=1998)
    movie.genres.add(Genre.objects.get(name="Drama"))
    # What the refresh worker's periodic check does: the catalogue changed.
    assert refresh_serving() is not None

    def recommended_now():
        get_service().wait_for_reload()
        return movie.pk in ids(recommendations_for(user=fresh(member), query=ListQuery(n=61)))

    assert wait_until(recommended_now)
    assert get_service().engine().version == trained_committed


def test_hot_swap_under_load_fails_no_request(trained_committed, member, instant_checks):
    old = trained_committed
    recommendations_for(user=member)
    errors, stop = [], threading.Event()
    seen: dict[int, list[str]] = {}  # per thread: the version of each answer, in order

    def hammer(number):
        from django.db import connection

        mine = seen.setdefault(number, [])
        try:
            while not stop.is_set():
                try:
                    mine.append(
                        recommendations_for(user=member, query=ListQuery(n=5)).model_version
                    )
                except Exception as exc:
                    errors.append(exc)
                time.sleep(0.005)
        finally:
            connection.close()

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    new = train_quickly(seed=1)

    def everyone_on_the_new_version():
        return all(versions and versions[-1] == new for versions in seen.values())

    assert wait_until(everyone_on_the_new_version, timeout=30)
    stop.set()
    for thread in threads:
        thread.join()

    assert not errors, errors[:3]
    for versions in seen.values():
        # Each thread saw the old version, then the new one, and never went back.
        assert versions[0] == old
        swap = versions.index(new)
        assert set(versions[:swap]) == {old} and set(versions[swap:]) == {new}


def test_a_broken_new_version_is_refused_and_the_old_one_keeps_serving(
    trained_committed, member, instant_checks
):
    recommendations_for(user=member)
    broken = train_quickly(no_activate=True)
    assert broken != trained_committed
    time.sleep(0.05)
    # What a web process loads: the serving arrays (it never reads model.pt).
    arrays = next((registry.versions_dir(settings.MODELS_DIR) / broken).glob("serving-*.npz"))
    arrays.write_bytes(b"not numpy")
    # Point `current` at it behind the registry's back, as a bad deploy would.
    link = settings.MODELS_DIR / "current"
    link.unlink()
    link.symlink_to(f"versions/{broken}")

    recommendations_for(user=member)
    get_service().wait_for_reload()
    result = recommendations_for(user=member)

    assert result.model_version == trained_committed
    assert result.source == "model"
    shutil.rmtree(registry.versions_dir(settings.MODELS_DIR) / broken)


def test_a_genre_added_by_a_curator_is_served_and_then_learned(
    trained_committed, member, instant_checks
):
    anime = Genre.objects.create(name="Anime", slug="anime", position=19)
    tagged = Movie.objects.order_by("pk").first()
    tagged.genres.add(anime)
    fresh_film = Movie.objects.create(title="An Anime Film", year=1998)
    fresh_film.genres.add(anime)
    from gnn.runs import refresh_serving

    assert refresh_serving() is not None  # the periodic check sees the catalogue change

    # The served version does not know the genre: it ignores it, and serves.
    def served_with_the_new_film():
        get_service().wait_for_reload()
        return fresh_film.pk in ids(recommendations_for(user=fresh(member), query=ListQuery(n=61)))

    assert wait_until(served_with_the_new_film)
    assert get_service().engine().version == trained_committed

    # The next training learns it (20 genre columns).
    version = train_quickly()
    assert version != trained_committed
    state = registry.load_version(settings.MODELS_DIR, version).preprocessor
    assert 19 in state["genre_positions"]


def test_while_rebuilds_fail_hiding_a_movie_takes_effect_and_rebuilds_back_off(
    trained_committed, member, instant_checks, caplog
):
    first = recommendations_for(user=member, query=ListQuery(n=10))
    for path in (registry.versions_dir(settings.MODELS_DIR) / trained_committed).iterdir():
        if path.suffix == ".pt":
            path.unlink()  # the disk lost the weights: every rebuild fails
    hidden = first.items[0].movie
    hidden.is_visible = False
    hidden.save()

    def hidden_gone():
        get_service().wait_for_reload()
        return hidden.pk not in ids(recommendations_for(user=fresh(member), query=ListQuery(n=10)))

    assert wait_until(hidden_gone)
    caplog.clear()
    for _ in range(20):  # 20 checks' worth of time: one failed rebuild, not 20
        recommendations_for(user=fresh(member), query=ListQuery(n=10))
        get_service().wait_for_reload()
        time.sleep(0.03)
    failures = [r for r in caplog.records if "failed to load" in r.getMessage()]
    assert len(failures) <= 1
    assert get_service().engine().version == trained_committed


def test_a_process_holds_an_engine_per_served_version_each_loaded_once(
    trained, settings, instant_checks, monkeypatch
):
    """Two versions served at once (an experiment's arms): each engine is
    built once and answers under its own version; one no longer served is
    dropped, so memory does not grow with swaps."""
    from gnn.bridge import engine as engine_module
    from gnn.bridge.serving import RecommendationService

    other = train_quickly(no_activate=True, seed=1)
    builds = []
    real_build = engine_module.build_engine
    monkeypatch.setattr(
        engine_module, "build_engine", lambda root, v: builds.append(v) or real_build(root, v)
    )
    registry.set_also_served(settings.MODELS_DIR, [other])
    service = RecommendationService(settings.MODELS_DIR, settings.MODEL_CHECK_INTERVAL)

    assert service.engine().version == trained  # the current one by default
    assert service.engine(other).version == other
    assert list(service.engines()) == [trained, other]
    for _ in range(5):
        time.sleep(0.03)
        service.engine(other)
        service.wait_for_reload()
    assert sorted(builds) == sorted([trained, other])  # each loaded once

    registry.set_also_served(settings.MODELS_DIR, [])
    time.sleep(0.03)
    service.engine()
    service.wait_for_reload()
    assert list(service.engines()) == [trained]
    assert service.engine(other) is None
    assert builds.count(other) == 1


def test_promoting_the_other_served_version_swaps_without_loading_it_again(
    trained, settings, instant_checks, monkeypatch
):
    from gnn.bridge import engine as engine_module
    from gnn.bridge.serving import RecommendationService

    other = train_quickly(no_activate=True, seed=1)
    registry.set_also_served(settings.MODELS_DIR, [other])
    service = RecommendationService(settings.MODELS_DIR, settings.MODEL_CHECK_INTERVAL)
    held = service.engine(other)
    builds = []
    monkeypatch.setattr(engine_module, "build_engine", lambda *args: builds.append(args))

    registry.activate_version(settings.MODELS_DIR, other)
    registry.set_also_served(settings.MODELS_DIR, [])
    time.sleep(0.03)
    service.engine()
    service.wait_for_reload()

    assert service.engine() is held and builds == []
    assert list(service.engines()) == [other]
