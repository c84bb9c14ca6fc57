"""The Locust side: modules that run only inside Locust's own processes (see harness.load)."""
