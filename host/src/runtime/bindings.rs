//! Bindings generated from `../wit`, private to the runtime: the rest of the
//! host sees only the host mirror types (`runtime::types`, `catalog`).

wasmtime::component::bindgen!({
    path: "../wit",
    world: "adapter",
    imports: {
        // The only import that waits: it goes out to the POS.
        "snapact:adapter/pos-http.send": async,
    },
    exports: { default: async },
});

pub(crate) use snapact::adapter::{log, pos_http, settings, signatures, types};
