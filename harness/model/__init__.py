"""Pure data: outcomes, severities, findings, protocols and results. Imports nothing of kcert."""
