"""The experiments: runner, specifications, results, figures, command line.

This package uses the whole library and nothing in the library uses it. Its
entry point is the ``modal-ibal`` command (:mod:`modal_ibal.experiments.cli`);
importing it has no side effects (matplotlib's backend is chosen by the command
line, not here).
"""
