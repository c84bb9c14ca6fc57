"""The run store: runs, test case results, findings, exchanges and manual answers (SQL)."""
