"""The reference FLP service: an independent care-plan (forløbsplan) service to aim load at.

Like the reference LPS it imports only `harness.safeparse` and its own modules, and it can
carry named performance defects the load SLOs must catch.
"""
