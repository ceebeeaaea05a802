"""Helpers the tests share, imported as ``tests.support.<module>`` (one module, one name: the
session's tiny run is trained once, whichever test asks first)."""
