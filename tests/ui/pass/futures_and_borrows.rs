//! The shapes real services have beyond plain fns: `#[async_trait]` methods, functions returning
//! futures, borrows of `&mut` arguments, `Result<impl Trait, E>` with `?`, and `-> !`.
#![deny(warnings, clippy::pedantic)]

use async_trait::async_trait;
use obs_runtime::observed;
use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;

/// The error of the examples below.
#[derive(Debug)]
pub struct Unavailable;

#[async_trait]
pub trait Repository: Send + Sync {
    async fn load(&self, id: u64) -> Result<String, Unavailable>;
    async fn save(&mut self, id: u64, name: String);
}

/// A repository in memory.
pub struct Memory(HashMap<u64, String>);

#[async_trait]
impl Repository for Memory {
    #[observed(operation = "repo.load")]
    async fn load(&self, id: u64) -> Result<String, Unavailable> {
        self.0.get(&id).cloned().ok_or(Unavailable)
    }

    #[observed(operation = "repo.save")]
    async fn save(&mut self, id: u64, name: String) {
        self.0.insert(id, name);
    }
}

/// The same trait written by hand.
pub trait Lookup {
    fn lookup(&self, id: u64) -> Pin<Box<dyn Future<Output = Option<u64>> + Send + '_>>;
}

impl Lookup for Memory {
    #[observed(endpoint = "/lookup/{id}")]
    fn lookup(&self, id: u64) -> Pin<Box<dyn Future<Output = Option<u64>> + Send + '_>> {
        Box::pin(async move { self.0.get(&id).map(|name| name.len() as u64) })
    }
}

/// `impl Future` with `Send`.
#[observed(endpoint = "/later")]
pub fn later(value: u64) -> impl Future<Output = Result<u64, Unavailable>> + Send {
    async move { Ok(value) }
}

/// `impl Future + Unpin`.
#[observed(endpoint = "/ready")]
pub fn ready(value: u64) -> impl Future<Output = u64> + Unpin {
    std::future::ready(value)
}

/// Borrows of `&mut` arguments.
impl Memory {
    #[observed(endpoint = "/items-mut")]
    fn items_mut(&mut self) -> &mut HashMap<u64, String> {
        &mut self.0
    }

    #[observed(endpoint = "/get-mut/{id}")]
    fn get_mut(&mut self, id: u64) -> Option<&mut String> {
        self.0.get_mut(&id)
    }

    #[observed(endpoint = "/values-mut")]
    fn values_mut(&mut self) -> impl Iterator<Item = &mut String> {
        self.0.values_mut()
    }

    #[observed(endpoint = "/entry/{id}")]
    fn entry(&mut self, id: u64) -> &mut String {
        self.0.entry(id).or_default()
    }
}

#[observed(endpoint = "/first")]
fn first(values: &mut [u32]) -> &mut u32 {
    &mut values[0]
}

/// `Result<impl Trait, E>` with `?`.
#[observed(endpoint = "/parse")]
fn parse(text: &str) -> Result<impl Display, std::num::ParseIntError> {
    Ok(text.parse::<u32>()? * 2)
}

#[observed(endpoint = "/parse-boxed")]
fn parse_boxed(text: &str) -> Result<impl Display, Box<dyn std::error::Error>> {
    Ok(text.parse::<u32>()? + 1)
}

/// A worker loop that never returns.
#[observed(operation = "worker.run")]
fn run_forever(period: std::time::Duration) -> ! {
    loop {
        std::thread::sleep(period);
    }
}

fn main() {
    let mut memory = Memory(HashMap::new());
    let _ = memory.load(1);
    let _ = memory.lookup(1);
    let _ = (later(1), ready(1));
    memory.items_mut().clear();
    let _ = memory.get_mut(1);
    memory.values_mut().for_each(String::clear);
    memory.entry(2).push('x');
    let mut values = [1];
    *first(&mut values) += 1;
    let _ = (parse("1").map(|n| n.to_string()), parse_boxed("2").map(|n| n.to_string()));
    if values[0] == 0 {
        run_forever(std::time::Duration::from_secs(1));
    }
}
