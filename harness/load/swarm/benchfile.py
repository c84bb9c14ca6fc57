"""The generator benchmark's locustfile (`make bench`, section load-generator): one
FastHttpUser asking GET / as fast as it can, no think time, to measure Locust's request rate
per core against a minimal endpoint (harness/bench_load.py)."""

from __future__ import annotations

from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser


class AsFastAsItCan(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get("/")
