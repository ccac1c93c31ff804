//! Shapes that once failed to compile or lost behaviour under `#[observed]`: borrows derived
//! from a `&mut` argument, `Result<impl Trait, E>` with `?`, `-> !`, and a user's own local named
//! like the wrapper's. Linted under `-D warnings` and `clippy::pedantic` like a user crate.

#![deny(warnings, clippy::pedantic)]
// Counts are integers carried as f64 by the exposition format: exact comparison is the point.
#![allow(clippy::float_cmp)]

use obs_runtime::metrics::{ExpositionFormat, render};
use obs_runtime::observed;
use obs_tests::exposition::{request_count, sum_matching};
use std::collections::HashMap;
use std::fmt::Display;
use std::sync::atomic::{AtomicU32, Ordering};

struct Inventory {
    items: Vec<u32>,
    by_name: HashMap<String, u32>,
}

impl Inventory {
    /// A borrow of a field through `&mut self`.
    #[observed(endpoint = "/borrow/items-mut")]
    fn items_mut(&mut self) -> &mut Vec<u32> {
        &mut self.items
    }

    /// An optional borrow.
    #[observed(endpoint = "/borrow/get-mut/{name}")]
    fn get_mut(&mut self, name: &str) -> Option<&mut u32> {
        self.by_name.get_mut(name)
    }

    /// An iterator of borrows.
    #[observed(endpoint = "/borrow/iter-mut")]
    fn iter_mut(&mut self) -> impl Iterator<Item = &mut u32> {
        self.items.iter_mut()
    }

    /// The entry API.
    #[observed(operation = "borrow.entry")]
    fn entry(&mut self, name: String) -> &mut u32 {
        self.by_name.entry(name).or_default()
    }
}

/// A borrow of a slice element.
#[observed(endpoint = "/borrow/first")]
fn first(values: &mut [u32]) -> &mut u32 {
    &mut values[0]
}

/// `Result<impl Trait, E>` with `?`.
#[observed(endpoint = "/borrow/parse")]
fn parse(text: &str) -> Result<impl Display, std::num::ParseIntError> {
    let number: u32 = text.parse()?;
    Ok(number * 2)
}

/// The same with a boxed error.
#[observed(endpoint = "/borrow/parse-boxed")]
fn parse_boxed(text: &str) -> Result<impl Display, Box<dyn std::error::Error>> {
    let number: u32 = text.parse()?;
    Ok(number + 1)
}

/// Async, with `?` into a boxed error.
#[observed(endpoint = "/borrow/parse-async")]
async fn parse_async(text: &str) -> Result<impl Display + use<>, Box<dyn std::error::Error + Send + Sync>> {
    let number: u32 = text.parse()?;
    Ok(number + 2)
}

static WORKER_ROUNDS: AtomicU32 = AtomicU32::new(0);

/// A worker loop that never returns; it stops by panicking after three rounds.
#[observed(operation = "borrow.worker")]
fn worker() -> ! {
    loop {
        assert!(WORKER_ROUNDS.fetch_add(1, Ordering::Relaxed) < 2, "worker stopped");
    }
}

/// The user's own local with the wrapper's name: the wrapper's locals are hygienic.
#[observed(endpoint = "/borrow/own-locals")]
fn own_locals(value: u32) -> u32 {
    let __obs_call = value + 1;
    let __obs_ret = __obs_call * 2;
    __obs_ret + __obs_call
}

fn count(route: &str, error_type: &str) -> f64 {
    request_count(&render(ExpositionFormat::OpenMetrics), route, error_type)
}

#[test]
fn borrows_from_mut_arguments_work_and_are_counted() {
    let mut inventory = Inventory { items: vec![1, 2], by_name: HashMap::new() };
    inventory.items_mut().push(3);
    *inventory.entry("apples".to_owned()) += 4;
    *inventory.get_mut("apples").expect("present") += 1;
    assert!(inventory.get_mut("pears").is_none());
    for item in inventory.iter_mut() {
        *item *= 10;
    }
    assert_eq!(inventory.items, vec![10, 20, 30]);
    assert_eq!(inventory.by_name["apples"], 5);
    let mut values = [7, 8];
    *first(&mut values) = 1;
    assert_eq!(values, [1, 8]);
    assert_eq!(own_locals(4), 15);

    assert_eq!(count("/borrow/items-mut", ""), 1.0);
    assert_eq!(count("/borrow/get-mut/{name}", ""), 2.0);
    assert_eq!(count("/borrow/iter-mut", ""), 1.0);
    assert_eq!(count("/borrow/first", ""), 1.0);
    assert_eq!(count("/borrow/own-locals", ""), 1.0);
    let entries = sum_matching(
        &render(ExpositionFormat::OpenMetrics),
        "operation_duration_seconds_count",
        &[("operation", "borrow.entry"), ("error_type", "")],
    );
    assert_eq!(entries, 1.0);
}

#[test]
fn impl_trait_results_with_question_mark_classify_err_by_type() {
    assert_eq!(parse("21").map(|value| value.to_string()).ok().as_deref(), Some("42"));
    assert!(parse("x").is_err());
    assert_eq!(parse_boxed("1").map(|value| value.to_string()).ok().as_deref(), Some("2"));
    assert!(parse_boxed("y").is_err());
    assert_eq!(obs_tests::block_on(parse_async("1")).map(|value| value.to_string()).ok().as_deref(), Some("3"));
    assert!(obs_tests::block_on(parse_async("z")).is_err());
    assert_eq!((count("/borrow/parse", ""), count("/borrow/parse", "ParseIntError")), (1.0, 1.0));
    assert_eq!((count("/borrow/parse-boxed", ""), count("/borrow/parse-boxed", "Error")), (1.0, 1.0));
    assert_eq!((count("/borrow/parse-async", ""), count("/borrow/parse-async", "Error")), (1.0, 1.0));
}

#[test]
fn a_never_returning_worker_is_recorded_when_it_panics() {
    let stopped = std::panic::catch_unwind(|| worker()).expect_err("the worker panics");
    assert_eq!(stopped.downcast_ref::<&str>(), Some(&"worker stopped"));
    assert_eq!(WORKER_ROUNDS.load(Ordering::Relaxed), 3, "the loop ran until it panicked");
    let panics = sum_matching(
        &render(ExpositionFormat::OpenMetrics),
        "operation_duration_seconds_count",
        &[("operation", "borrow.worker"), ("error_type", "panic")],
    );
    assert_eq!(panics, 1.0);
}
