"""`sre-streams tune`: backtest candidate alert policies against labelled incidents.

Every candidate policy is replayed through the engine `backtest` runs, then scored the way the
SRE Workbook's "Alerting on SLOs" chapter compares strategies: precision, recall, detection
time, reset time. See docs/tuning.md.
"""
