"""The reports of a data-quality run: scorecards (HTML, PDF), plots (SVG), quality.json, CSV.

`words` holds every user-facing word in Danish and English; `plots` draws the SVGs;
`data` turns a `QualityRun` into quality.json and the CSV files; `html` renders the
scorecards and the index page; `folder` puts them all together as the files of
`reports/<run>/quality/`, written into a temporary folder and renamed into place.
"""
