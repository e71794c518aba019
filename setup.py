"""Build the Cython extensions of lob.

The compiler directives live here and only here. ``LOB_DEBUG=1`` builds with
bounds and wraparound checks, initialised-variable checks and line tracing (for
coverage and profilers); the default build turns them off for speed.
"""

import os

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("LOB_DEBUG", "") not in ("", "0")

DIRECTIVES = {
    "language_level": "3",
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "initializedcheck": DEBUG,
    "cdivision": not DEBUG,
    "nonecheck": DEBUG,
    "linetrace": DEBUG,
    "profile": DEBUG,
    "embedsignature": True,
}
MACROS = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"), ("LOB_DEBUG_BUILD", "1" if DEBUG else "0")]
if DEBUG:
    MACROS.append(("CYTHON_TRACE_NOGIL", "1"))
COMPILE_ARGS = ["-O0", "-g"] if DEBUG else ["-O3"]

EXTENSIONS = [
    Extension(
        "lob.core.book",
        ["lob/core/book.pyx"],
        include_dirs=[np.get_include()],
        define_macros=MACROS,
        extra_compile_args=COMPILE_ARGS,
    ),
]

setup(
    ext_modules=cythonize(
        EXTENSIONS,
        compiler_directives=DIRECTIVES,
        # A debug build must never be mistaken for a cached release build.
        build_dir="build/cython-debug" if DEBUG else "build/cython",
        force=DEBUG,
    ),
)
