"""The compiled part of the package: `streams.offline._columns`, the columnar decoder of
request messages. Optional: where it cannot be built, the package decodes in Python."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("streams.offline._columns", ["streams/offline/_columns.c"],
                             extra_compile_args=["-O2"], optional=True)])
