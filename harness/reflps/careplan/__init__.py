"""Care plans shared as DK-CPD documents, and PRO answers (QRD) taken into the plan."""
