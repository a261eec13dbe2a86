# Benchmark helper programs.
bench-bins:
