# The upstream SDK suite runs in a pytest process of its own (test_upstream_sdk_suite.py).
collect_ignore = ["upstream"]
