"""The Django edge of the model: where the ORM meets the arrays of gnn.ml.

The database snapshot as arrays (snapshot), the versioned artifacts on disk
(registry), the served engine of a process and its hot swap (engine,
serving), and the training pipeline (train, evaluate, publish). It may use
the apps below gnn through their selectors, never gnn's own app modules
(models, services, selectors, tasks), which sit above it.
"""
