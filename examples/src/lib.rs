//! Runnable services built on `obs`; see `examples/demo/main.rs` and the README.
