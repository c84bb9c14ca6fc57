"""The kcert command line."""
