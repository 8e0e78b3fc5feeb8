"""The Django side of the model: where the site's database and files meet gnn.ml.

The database snapshot as arrays (snapshot), the versioned artifacts on disk
and the one answer to "which version is served, and what does it say"
(registry), the weights (weights, torch), a served version's engine and the
process's holder of engines with its hot swap (engine, serving), and the
training pipeline (train, evaluate, compute the serving arrays). It may use
the apps below gnn through their selectors, never gnn's own app modules
(models, services, selectors, runs, tasks), which sit above it.
"""
