"""Secrets Peekr keeps for a project, encrypted at rest: the implementation moved down to traces.secrets (privacy
settings need it at ingest); evals keeps its import path."""

from traces.secrets import decrypt, encrypt, hint

__all__ = ["decrypt", "encrypt", "hint"]
