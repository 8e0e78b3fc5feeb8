"""The GraphSAGE network: its settings, its closed-form item-item part, and a
full-graph pass that is inductive for members."""

import numpy as np
import pytest
import torch

from gnn.ml.network import Config, Recommender, ease_weights, prior_keys, typed_adjacency


def test_settings_survive_a_round_trip_through_a_versions_metadata():
    cfg = Config(dim=32, ease_lambdas=(10.0, 20.0), seed=7)
    data = cfg.as_dict()
    assert data["ease_lambdas"] == [10.0, 20.0]  # JSON has lists, not tuples
    assert Config.from_dict(data) == cfg


def test_settings_of_another_release_keep_what_this_one_knows():
    # A newer release's key is ignored; a missing one takes today's default.
    cfg = Config.from_dict({"dim": 16, "a_setting_from_the_future": 3})
    assert cfg.dim == 16 and cfg.max_steps == Config().max_steps


def test_the_centred_channel_adds_one_message_type():
    assert Config(centred=True).n_types == Config(centred=False).n_types + 1 == 6


def test_ease_matches_its_closed_form_on_a_small_case():
    X = torch.tensor([[1.0, 1.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0], [1.0, 0.0, 1.0, 1.0]])
    lam = 2.0
    G = (X.T @ X).double().numpy() + lam * np.eye(4)
    P = np.linalg.inv(G)
    expected = -P / np.diag(P)[None, :]
    np.fill_diagonal(expected, 0.0)

    B = ease_weights(X, lam).numpy()

    np.testing.assert_allclose(B, expected, rtol=1e-5, atol=1e-6)
    assert np.all(np.diag(B) == 0)


def test_prior_keys_are_gender_by_age_in_years_with_a_fallback_age():
    keys = prior_keys([25.4, np.nan, 300.0], ["M", "F", "O"], age_fallback=30.0)
    assert keys.tolist() == [0 * 121 + 25, 1 * 121 + 30, 2 * 121 + 120]


def test_a_member_who_did_not_say_is_unknown_not_other():
    keys = prior_keys([40.0, 40.0, 40.0], ["N", "", "O"], age_fallback=30.0)
    assert keys.tolist() == [3 * 121 + 40, 3 * 121 + 40, 2 * 121 + 40]


def test_the_unknown_group_likes_what_everyone_of_that_age_likes():
    from gnn.ml.channels import demographic_prior
    from gnn.ml.data import Ratings

    # Men of 30 like movie 0, women of 30 movie 1 (twice as many of them).
    users = np.array([0, 1, 2])
    keys = prior_keys([30.0, 30.0, 30.0], ["M", "F", "F"], age_fallback=30.0)
    ratings = Ratings(
        user=users, movie=np.array([0, 1, 1]), value=np.array([5, 5, 5]), time=np.arange(3)
    )
    prior = demographic_prior(
        keys, ratings, n_movies=2, bandwidth=2.0, other_genders=0.1, smoothing=0.01
    ).numpy()
    unknown = prior[int(prior_keys([30.0], ["N"], 30.0)[0])]
    man = prior[int(prior_keys([30.0], ["M"], 30.0)[0])]
    share = np.exp(unknown) / np.exp(unknown).sum()
    assert share[1] == pytest.approx(2 / 3, abs=0.02)  # everyone: one like of 0, two of 1
    assert man[0] > man[1]


def test_a_typed_adjacency_row_averages_a_users_neighbours_by_rating_value():
    # User 0 rated movie 0 with 5 and movie 1 with 2; user 1 rated movie 1 with 4.
    src, dst, r = torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1]), torch.tensor([5, 2, 4])
    adjacency = typed_adjacency(src, dst, r, 2, 2, 1.0)
    dense = adjacency.A.to_dense()
    # Row = destination user; column = source movie x rating type; weight 1/degree.
    assert dense.shape == (2, 2 * 5)
    assert dense[0, 0 * 5 + 4] == pytest.approx(0.5) and dense[0, 1 * 5 + 1] == pytest.approx(0.5)
    assert dense[1, 1 * 5 + 3] == pytest.approx(1.0)
    assert dense.sum().item() == pytest.approx(2.0)


def _graph(n_users=4, n_movies=5):
    generator = torch.Generator().manual_seed(0)
    ui = torch.tensor([0, 0, 1, 2, 2, 2, 3])
    mi = torch.tensor([0, 1, 1, 2, 3, 4, 0])
    r = torch.tensor([5, 3, 4, 1, 2, 5, 4])
    user_x = torch.rand(n_users, 6, generator=generator)
    movie_x = torch.rand(n_movies, 3, generator=generator)
    return user_x, movie_x, ui, mi, r


def test_a_full_graph_pass_gives_every_node_an_embedding_of_the_configured_size():
    torch.manual_seed(0)
    user_x, movie_x, ui, mi, r = _graph()
    model = Recommender(6, 3, 5, 3.5, Config(dim=8)).eval()
    out = model(user_x, movie_x, ui, mi, r, movie_rows=torch.arange(5))
    assert out["u"].shape == (4, 8) and out["m"].shape == (5, 8)
    assert torch.isfinite(out["u"]).all() and torch.isfinite(out["m"]).all()


def test_in_eval_mode_a_pass_is_deterministic_and_a_members_ratings_move_only_them():
    torch.manual_seed(0)
    user_x, movie_x, ui, mi, r = _graph()
    model = Recommender(6, 3, 5, 3.5, Config(dim=8)).eval()
    first = model(user_x, movie_x, ui, mi, r)["u"]
    assert torch.equal(first, model(user_x, movie_x, ui, mi, r)["u"])
    # User 1 changes their rating of movie 1 from 4 to 1.
    changed = model(user_x, movie_x, ui, mi, torch.tensor([5, 3, 1, 1, 2, 5, 4]))["u"]
    assert not torch.allclose(changed[1], first[1])
    assert torch.allclose(changed[3], first[3])  # shares no movie with user 1


def test_a_member_without_ratings_still_gets_an_embedding_from_features():
    torch.manual_seed(0)
    user_x, movie_x, ui, mi, r = _graph(n_users=5)
    model = Recommender(6, 3, 5, 3.5, Config(dim=8)).eval()
    out = model(user_x, movie_x, ui, mi, r)
    assert torch.isfinite(out["u"][4]).all() and out["u"][4].abs().sum() > 0
