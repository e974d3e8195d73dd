//! Shared inputs for the benchmarks: synthetic catalogs in the vendors'
//! documented formats, sized on demand. They live in `snapact-tests`
//! (`snapact_tests::catalogs`), next to what SnapAct must end up holding for
//! them, so tests and benchmarks use the same inputs.

pub use snapact_tests::catalogs::square_catalog;
