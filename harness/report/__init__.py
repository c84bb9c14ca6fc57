"""Report writers: HTML, results.json, JUnit, Allure, evidence files and the manifest."""
