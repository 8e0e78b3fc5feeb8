"""A version's weights (model.pt): the torch side of the registry.

Only the processes that train, evaluate or refresh read them; web processes
serve from the version's serving arrays (gnn.bridge.registry) and never import
this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from gnn.bridge import registry
from gnn.ml.features import Preprocessor
from gnn.ml.network import Config, Recommender


@dataclass(frozen=True)
class TrainedVersion:
    loaded: registry.LoadedVersion
    preprocessor: Preprocessor
    model: Recommender


def writer(state_dict: dict[str, torch.Tensor]):
    """What registry.publish calls to write the weights."""

    def write(path: Path) -> None:
        torch.save(state_dict, path)

    return write


def load_state_dict(root: Path, version: str) -> tuple[registry.LoadedVersion, dict]:
    loaded = registry.load_version(root, version)
    file = registry.verify_file(loaded, registry.MODEL_FILE)
    try:
        state_dict = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise registry.ModelVersionError(f"version {version} cannot be read: {exc}") from None
    if not isinstance(state_dict, dict):
        raise registry.ModelVersionError(
            f"version {version}: {registry.MODEL_FILE} does not hold a state_dict"
        )
    return loaded, state_dict


def load_trained(root: Path, version: str) -> TrainedVersion:
    """The version's model, ready for a forward pass; ModelVersionError if not."""
    loaded, state_dict = load_state_dict(root, version)
    try:
        preprocessor = Preprocessor(loaded.preprocessor)
        model = load_model(state_dict, preprocessor, loaded.metadata.hyperparameters)
    except (KeyError, TypeError, ValueError) as exc:
        raise registry.ModelVersionError(f"version {version} is incompatible: {exc}") from None
    return TrainedVersion(loaded, preprocessor, model)


def load_model(state_dict: dict, preprocessor: Preprocessor, hyperparameters: dict) -> Recommender:
    """Rebuild a published model; raises ValueError when it does not fit."""
    model = Recommender(
        preprocessor.n_user_features,
        preprocessor.n_movie_features,
        preprocessor.n_known_movies,
        0.0,
        Config.from_dict(hyperparameters),
    )
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"the weights do not fit this model: {exc}") from None
    model.eval()
    return model
