"""Build the Cython extensions of lob.

The compiler directives live here and only here. ``LOB_DEBUG=1`` builds with
Cython's bounds, wraparound and initialised-variable checks, line tracing (for
coverage and profilers) and C assertions; the default build turns them off for
speed. The core works on raw C arrays, which Cython's checks do not cover, so
``LOB_DEBUG=asan`` also compiles with AddressSanitizer: every out-of-bounds or
use-after-free access aborts with a report. Python itself is not instrumented,
so run it with the sanitizer runtime preloaded:
``LD_PRELOAD=$(gcc -print-file-name=libasan.so) ASAN_OPTIONS=detect_leaks=0 python ...``.
"""

import os

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

DEBUG = os.environ.get("LOB_DEBUG", "") not in ("", "0")
ASAN = os.environ.get("LOB_DEBUG", "") == "asan"

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
COMPILE_ARGS = ["-O1", "-g", "-UNDEBUG"] if DEBUG else ["-O3"]
LINK_ARGS: list[str] = []
if ASAN:
    COMPILE_ARGS += ["-fsanitize=address", "-fno-omit-frame-pointer"]
    LINK_ARGS += ["-fsanitize=address"]

EXTENSIONS = [
    Extension(
        "lob.core.book",
        ["lob/core/book.pyx"],
        include_dirs=[np.get_include()],
        define_macros=MACROS,
        extra_compile_args=COMPILE_ARGS,
        extra_link_args=LINK_ARGS,
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
