"""The worker's web pages: SLO budgets, burn rates, incidents and deploy gates, for people.

Server-rendered HTML with SVG charts; every asset ships in this package (`assets/`), and no
page references anything outside the worker.
"""
