"""The command line's parsers: every command's options, and nothing that runs a command.

These modules import only the standard library and light kcert modules (no engine, run store,
validators or rich), so `kcert <command> --help` and argument parsing stay fast; each command's
`func` is a `lazy` reference that imports the command's module when the command runs.
"""
