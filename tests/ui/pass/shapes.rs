//! The supported shapes compile without a warning.
#![deny(warnings)]

use obs_runtime::observed;

/// A sync handler returning `()`.
#[observed(endpoint = "/unit")]
fn unit() {}

/// `?` and early return in a sync handler.
#[observed(endpoint = "/parse/{text}", method = "POST")]
fn parse(text: &str) -> Result<u32, std::num::ParseIntError> {
    if text.is_empty() {
        return Ok(0);
    }
    Ok(text.parse::<u32>()? + 1)
}

/// An async handler.
#[observed(endpoint = "/async")]
async fn fetch(id: u64) -> Result<String, std::io::Error> {
    Ok(id.to_string())
}

/// Generics and a where-clause.
#[observed(endpoint = "/generic")]
fn largest<T>(items: &[T]) -> Option<&T>
where
    T: Ord,
{
    items.iter().max()
}

/// `impl Trait` in both positions.
#[observed(endpoint = "/impl-trait", buckets = [0.001, 0.01, 0.1, 1, 10])]
fn doubled(items: impl IntoIterator<Item = u32>) -> impl Iterator<Item = u32> {
    items.into_iter().map(|item| item * 2)
}

struct Service<T> {
    items: Vec<T>,
}

impl<T: Clone + Send + Sync> Service<T> {
    #[observed(endpoint = "/service/first")]
    fn first(&self) -> Option<&T> {
        self.items.first()
    }

    #[observed(endpoint = "/service/add", method = "PUT")]
    fn add(&mut self, item: T) {
        self.items.push(item);
    }

    #[observed(endpoint = "/service/take", method = "DELETE")]
    fn take(self) -> Vec<T> {
        self.items
    }

    #[observed(endpoint = "/service/count", method = "HEAD")]
    async fn count(&self) -> usize {
        self.items.len()
    }
}

/// An operation: sync, with `?`.
#[observed(operation = "parse.number")]
fn parse_number(text: &str) -> Result<u32, std::num::ParseIntError> {
    Ok(text.trim().parse::<u32>()? * 2)
}

/// An async operation with custom buckets.
#[observed(operation = "db.load-user_v2", buckets = [0.0005, 0.002, 0.01])]
async fn load_user(id: u64) -> Option<String> {
    (id > 0).then(|| id.to_string())
}

struct Repository<T> {
    rows: Vec<T>,
}

impl<T: Clone> Repository<T> {
    /// A method operation of a generic type, returning a borrow of `self`.
    #[observed(operation = "repo.first")]
    fn first(&self) -> Option<&T> {
        self.rows.first()
    }

    #[observed(operation = "repo.save")]
    async fn save(&mut self, row: T) -> usize {
        self.rows.push(row);
        self.rows.len()
    }
}

fn main() {
    let _ = parse_number("2");
    let _ = load_user(1);
    let mut repository = Repository { rows: vec![1] };
    let _ = repository.first();
    let _ = repository.save(2);
    unit();
    let _ = parse("1");
    let _ = fetch(1);
    let _ = largest(&[1, 2]);
    let _ = doubled([1]).count();
    let mut service = Service { items: vec![1] };
    let _ = service.first();
    service.add(2);
    let _ = service.count();
    let _ = service.take();
}
