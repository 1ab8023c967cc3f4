"""Infrastructure every layer may use; nothing here knows about models.

Argument checks, random-state guards, BLAS threads,
and the modAL compatibility shim. Nothing here knows about models or strategies.
"""
