"""The system under test: its configuration and the embedded reference LPS launcher."""
