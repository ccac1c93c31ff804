//! Benchmarks: the per-call criterion bench (`benches/overhead.rs`, `cargo bench -p obs-bench`)
//! and the HTTP throughput bench (`benches/http_throughput.sh`), whose servers live here.

pub mod peer;
pub mod sink;

/// The small JSON body every variant of the HTTP bench returns.
#[derive(Debug, serde::Serialize)]
pub struct User {
    /// The id from the path.
    pub id: u64,
    /// A name derived from it.
    pub name: String,
}

impl User {
    /// The user `id`, computed: the handler's own work is the same in every variant.
    #[must_use]
    pub fn load(id: u64) -> Self {
        User { id, name: format!("user-{id}") }
    }
}
