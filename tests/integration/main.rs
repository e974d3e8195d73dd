//! The integration test binary: real SQLite files, real HTTP on 127.0.0.1.

mod pipeline;
