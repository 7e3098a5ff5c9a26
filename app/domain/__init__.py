"""The rule engine: the catalog's rules compiled once, evaluated per profile and per column.

Compiled to native code where a current build exists (``app.native``).
"""

from app.native.loader import install

install(__name__, __path__)
