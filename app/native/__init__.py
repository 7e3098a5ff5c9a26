"""The rule engine compiled to native code, when a build of the current sources exists.

``app.domain`` (the rule engine, both its per-profile and its column targets) is plain,
fully annotated Python. mypyc compiles it as it stands into C extension modules that
run the same code about twice as fast; the calculator's answers spend most of their
time there. The build is optional and never shadows the sources:

- ``incentives native build`` (``make run`` and ``make test`` run it) writes them into a
  directory of their own (``NATIVE_DIR``, by default ``.native`` beside the ``app``
  package) together with a manifest naming the sources they were compiled from;
- at import, ``app.domain`` uses them only if that manifest matches the sources in
  place byte for byte and the interpreter is the one they were built for. Edit a rule
  module and the engine runs from the edited source, interpreted, until the next build;
- ``NATIVE=off`` runs the interpreted engine even where a build exists; ``NATIVE=require``
  refuses to start without a current build (the suite's native pass uses it, so it
  never passes by quietly testing the interpreted engine).

The answers are the same either way: ``make test`` runs the engine's tests on both.
"""
