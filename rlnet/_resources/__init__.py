"""The configs, sweeps and callback presets shipped with rlnet (see :mod:`rlnet.resources`).

``configs``, ``sweeps`` and ``callbacks`` here are links to the repository's top-level folders; a
wheel carries copies of their files (setuptools package data, ``pyproject.toml``).
"""
