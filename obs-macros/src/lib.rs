//! The `#[observed]` attribute of the `obs` toolkit.
//!
//! Depend on `obs-runtime`, which re-exports this macro; the generated code only names paths under
//! `::obs_runtime::__private`, so this crate is useless on its own.
//!
//! The crate is split the way `serde_derive` is: `args` parses the attribute, `keys` names its
//! arguments, `validate` turns the parsed arguments into a checked description (collecting every
//! error), `shape` reads what kind of function is wrapped, and `expand` writes the wrapper.

mod args;
mod errors;
mod expand;
mod keys;
mod objective;
mod route;
mod shape;
mod validate;

use proc_macro::TokenStream;

/// Observes every call of the annotated function: a span, a log event and metrics.
///
/// See the `obs-runtime` documentation of `observed` for the arguments and what each call records.
#[proc_macro_attribute]
pub fn observed(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand::observed(attr.into(), &item.into()).into()
}
