"""pytest configuration of the receiver's own test suite."""

# tests/golden/ holds policy folders that `receiver check` golden tests read, some with
# deliberately broken *.test.yaml files. They are data, not policy tests: keep the
# receiver pytest plugin (which collects *.test.yaml files) out of them.
collect_ignore = ["golden"]
