"""Deterministic rule evaluators, one module each; registered in evals.evaluators."""
