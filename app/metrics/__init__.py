"""Prometheus metrics of the service, exact across workers, one module per job.

- ``registry``: the registry of an app, and what a scrape reads (every worker's files when
  there are several);
- ``http``: requests, latency and requests in progress, by route template (the middleware);
- ``predictions``: rows answered and refused, and their input values (a data-plane recorder);
- ``model``: the model's facts and the training data's value shares, set in the lifespan;
- ``files``: where the workers keep their metric files (light: the start command imports it).

With several workers (``python -m app --workers N``, or ``WEB_CONCURRENCY``), every worker
writes its values to files in ``PROMETHEUS_MULTIPROC_DIR``, which ``app.serve`` creates empty
at start, and ``GET /metrics`` reads them all (prometheus-client's multiprocess mode). Without
that directory (one worker, tests) the metrics live in the app's own registry, with the
process's CPU and memory added. Labels never come from raw input: routes are templates,
input values are counted only for the allowed values, a rejected field outside the features is
``other``.
"""
