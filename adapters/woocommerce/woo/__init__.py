"""WooCommerce -> SnapAct mapping, free of any WebAssembly binding.

`app.py` is the component's entry point and the only module that imports the
generated `wit_world` bindings; everything here takes its host services
(HTTP, signature checks, settings, logging) as a `woo.host.Host`, so the same
code runs under plain CPython in the unit tests.
"""
