# Test guests (see tests/guests/README.md). Placeholder until the runtime lands.
guests:
