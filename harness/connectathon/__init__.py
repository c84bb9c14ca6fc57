"""Connectathon mode (MVP2-MC-02): sessions of registered systems, scenarios across roles,
a recording proxy that validates live traffic, a live web matrix with monitor grading.

Shared data lives in `model`; the store's interface in `api` (implemented by `store`).
"""
