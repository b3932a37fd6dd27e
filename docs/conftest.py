"""pytest runs these pages as doctests; the Sphinx configuration and extension are not tests."""

collect_ignore = ["conf.py"]
collect_ignore_glob = ["_ext/*", "_build/*"]
