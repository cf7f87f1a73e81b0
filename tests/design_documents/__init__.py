"""The design documents' own examples, each run as literally as it is written."""
