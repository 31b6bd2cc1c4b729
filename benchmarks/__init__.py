"""Speed benchmarks that print figures (`make bench`). Never run by the test suite."""
