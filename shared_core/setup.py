"""The static path's C kernel (`static2d/_static/_kernel.c`), compiled at install where a C compiler is present.

`optional=True`: without a compiler (or if the compile fails) the package installs all the same and the static path
runs on numpy. Everything else about the package is in pyproject.toml.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "static2d._static._kernel",
            ["src/static2d/_static/_kernel.c"],
            optional=True,
        )
    ]
)
