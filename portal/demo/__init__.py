"""Demo data and bulk seeding: what `make run` and the benchmarks load. Not part of the product."""
