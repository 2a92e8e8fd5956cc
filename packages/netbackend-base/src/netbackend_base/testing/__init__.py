"""The network-backend conformance kit: one test suite that every backend must pass.

Install ``netbackend-base[testing]`` and run it against a backend class::

    python -m netbackend_base.testing my_package:MyBackend

or, with pytest's own command line::

    pytest -p netbackend_base.testing.plugin --pyargs netbackend_base.testing \\
        --netbackend=my_package:MyBackend

A blocking backend (a ``NetworkBackend``) runs once; an async one (an
``AsyncNetworkBackend``) once per event loop it serves, asyncio and/or trio (choose with
``--netbackend-loops``). Without ``--netbackend`` the suite runs against every backend
registered in the ``netbackend.sync``, ``netbackend.asyncio`` and ``netbackend.trio``
entry-point groups.

Nothing is imported from here by ``netbackend_base`` itself: this subpackage needs
pytest, anyio and trustme (the ``testing`` extra), and only loads when a test run asks
for it. Its modules:

* ``plugin``: the command-line options (loaded with ``-p``);
* ``fixtures``: the parametrization over backend variants and the fixtures, imported by
  ``conftest.py``;
* ``harness``: the choice of variants and the adapter (``Net``, ``Stream``) that gives
  blocking and async backends one async face;
* ``servers``: the threaded loopback servers;
* ``test_*``: the tests.
"""
