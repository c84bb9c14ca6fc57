"""The engine: runs protocols against a SUT through a transport. Never imports pytest."""
