"""The library's private toolbox, shared by every layer; nothing here knows about models.

Argument checks, random-state guards, BLAS threads, locks, atomic files, content keys
of rows, Dask computations bounded in time, warnings attributed to the caller's line,
and the modAL compatibility shim. The underscore says
that users do not import from here: what they need is exported by the sub-packages.
"""
