"""The kernel: what every app shares, importing no app.

Errors, API helpers, rate limits, process metrics, request context and
logging, environment readers, broker options, chart geometry, the SQLite
backend, and the MovieLens vocabularies and file parser.
"""
