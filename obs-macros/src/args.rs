//! Parsing of the attribute arguments: `key = value` pairs and `key(...)` lists, nothing semantic yet.

use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Token, parenthesized};

/// One `key = value` argument, exactly as written.
pub struct Arg {
    pub key: Ident,
    pub value: ArgValue,
}

/// What follows the key.
pub enum ArgValue {
    /// `key = expr`
    Value(Expr),
    /// `key(a = ..., b = ...)`: a nested argument list, as `slo(...)` takes.
    List(NestedArgs),
    /// `key` alone, which no argument accepts; kept so validation can say what to write.
    Missing,
}

/// The parenthesised arguments of a nested list and the span of its parentheses.
pub struct NestedArgs {
    pub args: Vec<Arg>,
    pub span: proc_macro2::Span,
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
        } else if input.peek(syn::token::Paren) {
            let content;
            let parens = parenthesized!(content in input);
            let nested = Punctuated::<Arg, Token![,]>::parse_terminated(&content)?;
            let args = nested.into_iter().collect();
            Ok(Arg { key, value: ArgValue::List(NestedArgs { args, span: parens.span.join() }) })
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
