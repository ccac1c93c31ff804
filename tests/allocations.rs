//! Heap allocations per `#[observed]` call, counted by a counting global allocator (dhat's testing
//! mode): none on the metrics-only path, and at most [`FULL_PATH_ALLOCATIONS`] with a span traced
//! and a JSON line written. Its own test binary: the allocator is process-wide.

use obs_runtime::observed;

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

/// The documented bound of the full path (README, "Performance"): allocations per call with a
/// sampled span and one JSON log line, no export: the call span's registry extension and its
/// OpenTelemetry context (two; the trace filter alone), the JSON line (one; the log filter alone).
const FULL_PATH_ALLOCATIONS: u64 = 3;

#[derive(Debug)]
struct Missing;

impl std::fmt::Display for Missing {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("missing")
    }
}

impl std::error::Error for Missing {}

#[observed(endpoint = "/alloc/{id}", method = "GET")]
fn lookup(id: u64) -> Result<u64, Missing> {
    if id == u64::MAX { Err(Missing) } else { Ok(id.rotate_left(7)) }
}

const CALLS: u64 = 1000;

/// Allocations per call of `CALLS` calls after a warm-up (first calls register series and fill
/// caches, once per process).
fn allocations_per_call(dispatch: &tracing::Dispatch) -> f64 {
    tracing::dispatcher::with_default(dispatch, || {
        for id in 0..100 {
            let _ = lookup(id);
        }
        let before = dhat::HeapStats::get().total_blocks;
        for id in 0..CALLS {
            let _ = std::hint::black_box(lookup(id));
        }
        let after = dhat::HeapStats::get().total_blocks;
        #[allow(clippy::cast_precision_loss)]
        let per_call = (after - before) as f64 / CALLS as f64;
        per_call
    })
}

/// The toolkit with both filters at `filter`, lines written to a sink.
fn telemetry(filter: &str) -> obs_runtime::LocalTelemetry {
    obs_runtime::builder("alloc", "1")
        .without_metrics_server()
        .log_filter(filter)
        .trace_filter(filter)
        .log_writer(std::io::sink)
        .build_local()
        .expect("valid settings")
}

#[test]
fn the_metrics_only_path_allocates_nothing_and_the_full_path_a_bounded_few() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let metrics_only = allocations_per_call(telemetry("off").dispatch());
    assert!(metrics_only == 0.0, "metrics only: {metrics_only} allocations per call");

    let full_path = allocations_per_call(telemetry("info").dispatch());
    println!("allocations per call: metrics only {metrics_only}, full {full_path}");
    #[allow(clippy::cast_precision_loss)]
    let bound = FULL_PATH_ALLOCATIONS as f64;
    assert!(full_path <= bound, "full path: {full_path} allocations per call, documented bound {bound}");
}
