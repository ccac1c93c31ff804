//! The argument keys `#[observed]` and its `slo(...)` accept: each key once, with its spelling
//! and the example every error message quotes, so a new key cannot be half-supported.

/// A key of `#[observed(...)]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// `endpoint = "/users/{id}"`
    Endpoint,
    /// `operation = "db.load_user"`
    Operation,
    /// `method = "GET"`
    Method,
    /// `buckets = [0.01, 0.1, 1.0]`
    Buckets,
    /// `slo(success = .., latency = ..)`
    Slo,
    /// `crate = path`, for a renamed `obs-runtime` dependency.
    Crate,
}

impl Key {
    /// Every key, in the order error messages list them.
    pub const ALL: [Key; 6] = [Key::Endpoint, Key::Operation, Key::Method, Key::Buckets, Key::Slo, Key::Crate];

    /// The key as written.
    pub const fn name(self) -> &'static str {
        match self {
            Key::Endpoint => "endpoint",
            Key::Operation => "operation",
            Key::Method => "method",
            Key::Buckets => "buckets",
            Key::Slo => "slo",
            Key::Crate => "crate",
        }
    }

    /// What to write, as error messages quote it.
    pub const fn example(self) -> &'static str {
        match self {
            Key::Endpoint => "`endpoint = \"/users/{id}\"`",
            Key::Operation => "`operation = \"db.load_user\"`",
            Key::Method => "`method = \"GET\"`",
            Key::Buckets => "`buckets = [0.01, 0.1, 1.0]`",
            Key::Slo => "`slo(success = \"99.9%\", latency = \"250ms @ 99%\")`",
            Key::Crate => "`crate = my_obs` (the name your Cargo.toml gives obs-runtime)",
        }
    }

    /// Whether only an endpoint takes it.
    pub const fn endpoint_only(self) -> bool {
        matches!(self, Key::Method | Key::Slo)
    }

    /// The key spelt `name`.
    pub fn parse(name: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|key| key.name() == name)
    }

    /// Every key's name, for "expected one of" and "did you mean".
    pub fn names() -> Vec<&'static str> {
        Key::ALL.map(Key::name).to_vec()
    }
}

/// A key of `slo(...)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectiveKey {
    /// `success = "99.9%"`
    Success,
    /// `latency = "250ms @ 99%"`
    Latency,
}

impl ObjectiveKey {
    /// Every objective, in the order error messages list them.
    pub const ALL: [ObjectiveKey; 2] = [ObjectiveKey::Success, ObjectiveKey::Latency];

    /// The key as written.
    pub const fn name(self) -> &'static str {
        match self {
            ObjectiveKey::Success => "success",
            ObjectiveKey::Latency => "latency",
        }
    }

    /// What to write, as error messages quote it.
    pub const fn example(self) -> &'static str {
        match self {
            ObjectiveKey::Success => "`success = \"99.9%\"`",
            ObjectiveKey::Latency => "`latency = \"250ms @ 99%\"`",
        }
    }

    /// The objective spelt `name`.
    pub fn parse(name: &str) -> Option<ObjectiveKey> {
        ObjectiveKey::ALL.into_iter().find(|key| key.name() == name)
    }

    /// Every objective's name.
    pub fn names() -> Vec<&'static str> {
        ObjectiveKey::ALL.map(ObjectiveKey::name).to_vec()
    }
}
