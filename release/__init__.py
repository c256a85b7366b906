"""Release tooling: build and publish the model package, lock the deploy requirements, run a private index."""
