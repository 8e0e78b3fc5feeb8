"""The new-member protocols: what is revealed, what is ranked, the holdouts."""

import numpy as np

from gnn.ml import benchmark, protocols


def test_holdouts_are_disjoint_from_training_users_and_seeded():
    a_held, a_kept = benchmark.cold_holdout(100, 0)
    b_held, _ = benchmark.cold_holdout(100, 0)
    c_held, _ = benchmark.cold_holdout(100, 1)
    assert len(a_held) == 20 and not set(a_held) & set(a_kept)
    assert sorted([*a_held, *a_kept]) == list(range(100))
    assert a_held.tolist() == b_held.tolist() and a_held.tolist() != c_held.tolist()


def test_revealed_ratings_are_never_ranked_by_any_method(tiny_holdout):
    trained, held, held_ratings, held_rows, _, users = tiny_holdout
    assert not set(trained.users.ids.tolist()) & set(users.ids[held_rows].tolist())
    reveal = protocols.reveal_random(5)
    given, _ = reveal(held_ratings)
    result = protocols.evaluate_new_users(
        trained, held, held_ratings, reveal, "random_5", keep_lists=True
    )
    assert set(result["lists"]) == {"model", "popularity", "group_popularity", "ease"}
    given_by_user = {u: set() for u in range(len(held))}
    for u, m in zip(given.user.tolist(), given.movie.tolist(), strict=True):
        given_by_user[u].add(m)
    for lists in result["lists"].values():
        for user, ranked in enumerate(lists.tolist()):
            assert not set(ranked) & given_by_user[user]


def test_every_method_is_scored_on_the_same_held_out_users(tiny_holdout):
    trained, held, held_ratings, *_ = tiny_holdout
    results = protocols.evaluate_all_new_members(trained, held, held_ratings)
    for name, block in results.items():
        counts = {m: v["users"] for m, v in block.items() if isinstance(v, dict) and "users" in v}
        assert len(set(counts.values())) == 1, (name, counts)
    assert "ease" not in results["cold"]  # nothing to fold in from a profile alone
    assert "ease" in results["random_5"] and "ease" in results["first_5"]


def test_the_floors_choices_do_not_depend_on_the_evaluated_users(tiny_holdout):
    """λ, β and the smoothing come from the training data alone: evaluating
    other held-out ratings (half of them dropped) chooses the same."""
    trained, held, held_ratings, *_ = tiny_holdout
    fewer = held_ratings.take(np.arange(len(held_ratings)) % 2 == 0)
    for name, reveal in protocols.NEW_MEMBER_PROTOCOLS:
        a = protocols.evaluate_new_users(trained, held, held_ratings, reveal, name)
        b = protocols.evaluate_new_users(trained, held, fewer, reveal, name)
        assert a["chosen"] == b["chosen"]
        assert a["model"] != b["model"]  # the evaluation itself did change
