//! What kind of function `#[observed]` wraps, read from its signature and body: the recorded
//! call must cover the work, which for a function returning a future happens after it returns.

use syn::punctuated::Punctuated;
use syn::visit_mut::VisitMut;
use syn::{
    Expr, ExprAsync, GenericArgument, ItemFn, PathArguments, ReturnType, Stmt, Token, Type, TypeParamBound, TypePath,
};

/// How the function produces its result.
pub enum Shape<'a> {
    /// `async fn`: the call starts on the first poll and ends with the output.
    Async,
    /// The shape `#[async_trait]` writes (and hand-written trait impls copy): a sync fn returning
    /// `Pin<Box<dyn Future<Output = T> ..>>` whose body ends in `Box::pin(async move { .. })`.
    /// The inner async block is instrumented in place, as for an `async fn`: no second box.
    BoxedAsyncBlock {
        /// The statements before the tail `Box::pin(..)`.
        prefix: &'a [Stmt],
        /// The `async move { .. }` passed to `Box::pin`.
        block: &'a ExprAsync,
        /// `T` in `Future<Output = T>`.
        output: &'a Type,
    },
    /// Any other sync fn whose declared return type is a future: the returned future is wrapped,
    /// so the call lasts until it completes or is dropped.
    ReturnsFuture {
        /// Whether the wrapper must be boxed: for `Pin<Box<dyn Future>>`, `BoxFuture` and an
        /// `impl Future + Unpin` (an `async` block is not `Unpin`).
        boxed: bool,
        /// `T` in `Future<Output = T>`, when written: it types the output before it is
        /// classified, so an `Ok(..)` whose error type only the signature names still resolves.
        output: Option<&'a Type>,
    },
    /// `-> !`: a loop that never returns; in flight while it runs, a panic ends it.
    Never,
    /// A plain sync fn.
    Sync,
}

impl<'a> Shape<'a> {
    /// Reads the shape of `function`.
    pub fn of(function: &'a ItemFn) -> Self {
        if function.sig.asyncness.is_some() {
            return Shape::Async;
        }
        let ReturnType::Type(_, returned) = &function.sig.output else {
            return Shape::Sync;
        };
        if matches!(**returned, Type::Never(_)) {
            return Shape::Never;
        }
        let Some(future) = future_type(returned) else {
            return Shape::Sync;
        };
        if let (FutureType::Boxed { output: Some(output) }, Some((prefix, block))) =
            (&future, boxed_async_tail(&function.block.stmts))
        {
            return Shape::BoxedAsyncBlock { prefix, block, output };
        }
        Shape::ReturnsFuture { boxed: future.needs_box(), output: future.output() }
    }
}

/// A declared future return type.
enum FutureType<'a> {
    /// `Pin<Box<dyn Future<Output = T> ..>>` or `BoxFuture<'a, T>`.
    Boxed { output: Option<&'a Type> },
    /// `impl Future<Output = T> ..`, `Unpin` or not.
    Opaque { unpin: bool, output: Option<&'a Type> },
}

impl<'a> FutureType<'a> {
    fn output(&self) -> Option<&'a Type> {
        match self {
            FutureType::Boxed { output } | FutureType::Opaque { output, .. } => *output,
        }
    }

    fn needs_box(&self) -> bool {
        match self {
            FutureType::Boxed { .. } => true,
            FutureType::Opaque { unpin, .. } => *unpin,
        }
    }
}

fn future_type(returned: &Type) -> Option<FutureType<'_>> {
    match returned {
        Type::ImplTrait(opaque) => has_future_bound(&opaque.bounds).then(|| FutureType::Opaque {
            unpin: has_bound(&opaque.bounds, "Unpin"),
            output: future_output(&opaque.bounds),
        }),
        Type::Path(path) => boxed_future(path),
        Type::Group(group) => future_type(&group.elem),
        Type::Paren(paren) => future_type(&paren.elem),
        _ => None,
    }
}

/// `Pin<Box<dyn Future<Output = T> + ..>>`, or the `futures` aliases `BoxFuture<'a, T>` and
/// `LocalBoxFuture<'a, T>`.
fn boxed_future(path: &TypePath) -> Option<FutureType<'_>> {
    let last = path.path.segments.last()?;
    let PathArguments::AngleBracketed(arguments) = &last.arguments else {
        return None;
    };
    let types = || {
        arguments.args.iter().filter_map(|argument| match argument {
            GenericArgument::Type(ty) => Some(ty),
            _ => None,
        })
    };
    if last.ident == "BoxFuture" || last.ident == "LocalBoxFuture" {
        return Some(FutureType::Boxed { output: types().next() });
    }
    if last.ident != "Pin" {
        return None;
    }
    let Some(Type::Path(boxed)) = types().next() else {
        return None;
    };
    let boxed = boxed.path.segments.last()?;
    if boxed.ident != "Box" {
        return None;
    }
    let PathArguments::AngleBracketed(boxed_arguments) = &boxed.arguments else {
        return None;
    };
    let Some(GenericArgument::Type(Type::TraitObject(object))) = boxed_arguments.args.first() else {
        return None;
    };
    has_future_bound(&object.bounds).then(|| FutureType::Boxed { output: future_output(&object.bounds) })
}

fn has_future_bound(bounds: &Punctuated<TypeParamBound, Token![+]>) -> bool {
    has_bound(bounds, "Future")
}

fn has_bound(bounds: &Punctuated<TypeParamBound, Token![+]>, name: &str) -> bool {
    bounds.iter().any(|bound| match bound {
        TypeParamBound::Trait(trait_bound) => trait_bound.path.segments.last().is_some_and(|last| last.ident == name),
        _ => false,
    })
}

/// `T` of the `Future<Output = T>` bound.
fn future_output(bounds: &Punctuated<TypeParamBound, Token![+]>) -> Option<&Type> {
    bounds.iter().find_map(|bound| {
        let TypeParamBound::Trait(trait_bound) = bound else {
            return None;
        };
        let last = trait_bound.path.segments.last().filter(|last| last.ident == "Future")?;
        let PathArguments::AngleBracketed(arguments) = &last.arguments else {
            return None;
        };
        arguments.args.iter().find_map(|argument| match argument {
            GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(&assoc.ty),
            _ => None,
        })
    })
}

/// The body ends in `Box::pin(async move { .. })` (any path to `Box`): the statements before
/// it and the async block.
fn boxed_async_tail(statements: &[Stmt]) -> Option<(&[Stmt], &ExprAsync)> {
    let (Stmt::Expr(tail, None), prefix) = statements.split_last()? else {
        return None;
    };
    let Expr::Call(call) = tail else {
        return None;
    };
    let Expr::Path(function) = &*call.func else {
        return None;
    };
    let segments: Vec<_> = function.path.segments.iter().collect();
    let [.., boxed, pin] = segments.as_slice() else {
        return None;
    };
    if boxed.ident != "Box" || pin.ident != "pin" || call.args.len() != 1 {
        return None;
    }
    match call.args.first() {
        Some(Expr::Async(block)) if block.capture.is_some() => Some((prefix, block)),
        _ => None,
    }
}

/// The return type with every `impl Trait` replaced by `_`: a type the wrapper can write on a
/// `let`, pinning everything the user named (so `?` finds its error type) and inferring the rest.
pub fn nameable(returned: &Type) -> Type {
    struct Infer;
    impl VisitMut for Infer {
        fn visit_type_mut(&mut self, ty: &mut Type) {
            if matches!(ty, Type::ImplTrait(_)) {
                *ty = Type::Infer(syn::TypeInfer { underscore_token: Token![_](proc_macro2::Span::call_site()) });
            } else {
                syn::visit_mut::visit_type_mut(self, ty);
            }
        }
    }
    let mut ty = returned.clone();
    Infer.visit_type_mut(&mut ty);
    ty
}

#[cfg(test)]
mod tests {
    use super::Shape;
    use syn::parse_quote;

    fn shape_name(function: &syn::ItemFn) -> &'static str {
        match Shape::of(function) {
            Shape::Async => "async",
            Shape::BoxedAsyncBlock { .. } => "boxed async block",
            Shape::ReturnsFuture { boxed: true, .. } => "boxed future",
            Shape::ReturnsFuture { boxed: false, .. } => "future",
            Shape::Never => "never",
            Shape::Sync => "sync",
        }
    }

    #[test]
    fn recognises_every_future_returning_shape() {
        let cases: [(syn::ItemFn, &str); 9] = [
            (
                parse_quote!(
                    async fn f() -> u32 {
                        1
                    }
                ),
                "async",
            ),
            (
                parse_quote!(
                    fn f() -> u32 {
                        1
                    }
                ),
                "sync",
            ),
            (
                parse_quote!(
                    fn f() -> ! {
                        loop {}
                    }
                ),
                "never",
            ),
            (
                parse_quote!(
                    fn f<'a>(&'a self) -> Pin<Box<dyn Future<Output = u32> + Send + 'a>> {
                        Box::pin(async move { 1 })
                    }
                ),
                "boxed async block",
            ),
            (
                parse_quote!(
                    fn f() -> ::core::pin::Pin<::std::boxed::Box<dyn ::core::future::Future<Output = u32>>> {
                        let x = 1;
                        ::std::boxed::Box::pin(async move { x })
                    }
                ),
                "boxed async block",
            ),
            (
                parse_quote!(
                    fn f() -> Pin<Box<dyn Future<Output = u32>>> {
                        make()
                    }
                ),
                "boxed future",
            ),
            (
                parse_quote!(
                    fn f() -> BoxFuture<'static, u32> {
                        async { 1 }.boxed()
                    }
                ),
                "boxed future",
            ),
            (
                parse_quote!(
                    fn f() -> impl Future<Output = u32> + Send {
                        async { 1 }
                    }
                ),
                "future",
            ),
            (
                parse_quote!(
                    fn f() -> impl Future<Output = u32> + Unpin {
                        ready(1)
                    }
                ),
                "boxed future",
            ),
        ];
        for (function, expected) in &cases {
            assert_eq!(shape_name(function), *expected, "{}", quote::quote!(#function));
        }
    }

    #[test]
    fn impl_trait_becomes_inferred() {
        let ty: syn::Type = parse_quote!(Result<impl Display, Box<dyn Error>>);
        let nameable = super::nameable(&ty);
        assert_eq!(quote::quote!(#nameable).to_string(), "Result < _ , Box < dyn Error > >");
    }
}
