"""The science of the recommender, in plain numpy, PyTorch and PyTorch Geometric.

Features, the GraphSAGE network, the bipartite graph, training, inference
from cached movie states, evaluation and the benchmark's protocols: arrays
and tensors in, arrays and tensors out. It imports neither Django nor any
app (an import-linter contract in pyproject.toml keeps it so), which keeps it
fast to test and usable from commands, tasks and benchmarks alike.
"""
