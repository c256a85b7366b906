"""Typed configuration of the model package (see ``config.yml``)."""
