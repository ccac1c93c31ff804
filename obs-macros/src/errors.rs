//! Error collection: every check pushes its spanned error here and all are reported together.

use std::cell::RefCell;

/// Collects `syn::Error`s so that one bad argument does not hide the next.
#[derive(Default)]
pub struct Errors {
    errors: RefCell<Option<syn::Error>>,
}

impl Errors {
    /// Records an error spanned on `tokens`.
    pub fn spanned(&self, tokens: impl quote::ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error that already carries its span.
    pub fn push(&self, error: syn::Error) {
        let mut slot = self.errors.borrow_mut();
        match slot.as_mut() {
            Some(existing) => existing.combine(error),
            None => *slot = Some(error),
        }
    }

    /// The combined error, if any check failed.
    pub fn finish(self) -> Result<(), syn::Error> {
        match self.errors.into_inner() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}
