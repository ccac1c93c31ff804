//! Parsing of the attribute arguments: `key = value` pairs, nothing semantic yet.

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Token};

/// One `key = value` argument, exactly as written.
pub struct Arg {
    pub key: Ident,
    pub value: ArgValue,
}

/// What follows the key.
pub enum ArgValue {
    /// `key = expr`
    Value(Expr),
    /// `key` alone, which no argument accepts; kept so validation can say what to write.
    Missing,
}

/// The whole attribute argument list.
pub struct RawArgs {
    pub args: Vec<Arg>,
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            let value: Expr = input.parse()?;
            Ok(Arg { key, value: ArgValue::Value(value) })
        } else if input.is_empty() || input.peek(Token![,]) {
            Ok(Arg { key, value: ArgValue::Missing })
        } else {
            Err(input
                .error(format!("expected `=` after `{key}`: write arguments as `{key} = ...`, separated by commas")))
        }
    }
}

impl Parse for RawArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let args = Punctuated::<Arg, Token![,]>::parse_terminated(input)?;
        Ok(RawArgs { args: args.into_iter().collect() })
    }
}
