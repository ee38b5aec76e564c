"""Trace-level agent metrics, one module each; registered in evals.evaluators."""
