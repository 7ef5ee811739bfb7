"""pytest runs the lessons as notebooks (nbmake); their paired .py files and helpers are not test modules."""

collect_ignore_glob = ["*.py"]
