"""The certification dossier: a run folder's manifest, its Ed25519 signature and offline checks."""
