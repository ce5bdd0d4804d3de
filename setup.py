"""For scrapyd-deploy, which builds its egg with ``setup.py bdist_egg``, and for the one C extension:
everything else is in pyproject.toml (whose ext-modules table setuptools still calls experimental).

Without this file, scrapyd-deploy writes a setup.py of its own into the checkout. The extension is
optional: without a compiler the install goes on, and the bulk matcher does that work in Python, as
it does in a Scrapyd egg, which leaves the extension out: setuptools' loader for a compiled module
in an egg fails on Python 3.11, and the node may not run the Python the egg was built with.
"""

import sys

from setuptools import Extension, setup

EGG = {"bdist_egg", "bdist_uberegg"} & set(sys.argv)
setup(
    # The limited API of 3.11: one build serves every later CPython.
    ext_modules=[]
    if EGG
    else [
        Extension(
            "brandcrawl.matching._bulkscan",
            ["brandcrawl/matching/_bulkscan.c"],
            optional=True,
            py_limited_api=True,
        )
    ],
    options={"bdist_wheel": {"py_limited_api": "cp311"}},
)
