//! The service's identity, set once by `init` and read by the build-info metric and the events.

use std::sync::OnceLock;

/// Who this process is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceIdentity {
    /// `service.name`.
    pub name: String,
    /// `service.version`.
    pub version: String,
}

static IDENTITY: OnceLock<ServiceIdentity> = OnceLock::new();

impl ServiceIdentity {
    /// The identity set by `init`, if it ran.
    pub fn get() -> Option<&'static ServiceIdentity> {
        IDENTITY.get()
    }

    /// Sets the identity; `false` when one was already set.
    pub(crate) fn set(identity: ServiceIdentity) -> bool {
        IDENTITY.set(identity).is_ok()
    }
}
