//! Benchmarks only: see `benches/overhead.rs` and run `cargo bench -p obs-bench`.
