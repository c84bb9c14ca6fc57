"""Load tests of the FLP operating environment (MVP1-FLP-06): workload model, Locust, SLOs.

Locust patches the standard library (gevent) when imported, so only the modules Locust runs
in its own processes (`locustfile` and what it imports) import it; kcert's process starts
Locust as child processes and reads their CSV files.
"""
