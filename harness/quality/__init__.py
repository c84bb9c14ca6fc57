"""Data completeness and quality of the clinics' LPS data (MVP1-MC-03): a scored check
catalogue per clinic on an embedded analytical engine, proven on planted faults, compared
across clinics, with pictures."""
