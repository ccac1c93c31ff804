//! The wrapper around the user's function: its signature, attributes and body stay as written; the
//! body runs inside one call into `obs_runtime::__private`.

use crate::args::RawArgs;
use crate::errors::Errors;
use crate::shape::{self, Shape};
use crate::validate::{Observed, Target, args_span, check_args, check_item};
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::{Attribute, Expr, ExprLit, Ident, Item, ItemFn, Lit, Meta, ReturnType, Stmt, Type};

/// Entry point: parse, validate, expand. On any error the user's item is emitted unchanged beside
/// the `compile_error!`s, so one bad argument does not cascade into unrelated errors.
pub fn observed(attr: TokenStream, item: &TokenStream) -> TokenStream {
    let errors = Errors::default();
    let attr_span = args_span(&attr);
    let raw = syn::parse2::<RawArgs>(attr).map_err(|error| errors.push(error)).ok();
    let function = syn::parse2::<ItemFn>(item.clone()).ok();
    if function.is_none() {
        errors.push(not_a_function(item));
    }
    let observed = raw.and_then(|raw| check_args(&raw, attr_span, &errors));
    if let Some(function) = &function {
        check_item(function, &errors);
    }
    match (errors.finish(), function, observed) {
        (Ok(()), Some(function), Some(observed)) => wrap(&function, &observed),
        (result, _, _) => {
            let compile_errors = result.err().map(|error| error.to_compile_error());
            quote!(#compile_errors #item)
        }
    }
}

fn not_a_function(item: &TokenStream) -> syn::Error {
    let message = "#[observed] applies to functions with a body: put it on the `fn` that handles the endpoint or runs the operation";
    match syn::parse2::<Item>(item.clone()) {
        Ok(Item::Struct(item)) => syn::Error::new_spanned(item.struct_token, format!("{message}, not on a struct")),
        Ok(Item::Enum(item)) => syn::Error::new_spanned(item.enum_token, format!("{message}, not on an enum")),
        Ok(Item::Impl(item)) => syn::Error::new_spanned(
            item.impl_token,
            format!("{message}, not on an `impl` block: annotate each method instead"),
        ),
        Ok(Item::Mod(item)) => syn::Error::new_spanned(item.mod_token, format!("{message}, not on a module")),
        Ok(Item::Const(item)) => syn::Error::new_spanned(item.const_token, format!("{message}, not on a constant")),
        Ok(Item::Static(item)) => syn::Error::new_spanned(item.static_token, format!("{message}, not on a static")),
        Ok(Item::Trait(item)) => syn::Error::new_spanned(
            item.trait_token,
            format!("{message}, not on a trait: annotate the methods of its `impl` blocks"),
        ),
        _ => {
            let span = item.clone().into_iter().next().map_or_else(Span::call_site, |token| token.span());
            syn::Error::new(span, message)
        }
    }
}

/// The wrapper's own locals, named with `Span::mixed_site()` so the user's code can neither see
/// nor shadow them.
struct Locals {
    call: Ident,
    ret: Ident,
    entered: Ident,
    future: Ident,
}

impl Locals {
    fn new() -> Self {
        let local = |name: &str| Ident::new(name, Span::mixed_site());
        Locals {
            call: local("__obs_call"),
            ret: local("__obs_ret"),
            entered: local("__obs_entered"),
            future: local("__obs_future"),
        }
    }
}

fn wrap(function: &ItemFn, observed: &Observed) -> TokenStream {
    let ItemFn { attrs, vis, sig, block } = function;
    let rt = &observed.runtime;
    let call_site = call_site_statics(function, observed);
    let span_expr = span_expression(observed);
    let locals = Locals::new();
    let Locals { call, ret, entered, future } = &locals;
    let start = quote! {
        let #call = #rt::__private::Call::start(&__OBS_CALL_SITE, || #span_expr);
    };
    let finish = quote! {
        #rt::__private::Call::finish(#call, #rt::__private::classify!(&#ret));
    };
    let declared = match &sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => Some(&**ty),
    };
    let body = match Shape::of(function) {
        Shape::Async => {
            let annotation = annotation(declared);
            let run = instrumented(&body_with_fake_return(block, declared, return_type_span(sig)), &locals, rt);
            quote! {
                #start
                #[allow(clippy::let_unit_value)]
                let #ret #annotation = #run;
                #finish
                #ret
            }
        }
        Shape::BoxedAsyncBlock { prefix, block: async_block, output } => {
            let user = body_with_fake_return(&async_block.block, Some(output), syn::spanned::Spanned::span(output));
            let run = instrumented(&user, &locals, rt);
            let output = shape::nameable(output);
            let attrs = &async_block.attrs;
            quote! {
                #(#prefix)*
                ::std::boxed::Box::pin(#(#attrs)* async move {
                    #start
                    #[allow(clippy::let_unit_value)]
                    let #ret: #output = #run;
                    #finish
                    #ret
                })
            }
        }
        Shape::ReturnsFuture { boxed, output } => {
            let output_annotation = annotation(output);
            let annotation = annotation(declared);
            let user = body_with_fake_return(block, declared, return_type_span(sig));
            let wrapper = quote! {
                async move {
                    let #ret #output_annotation =
                        #rt::__private::InSpan::returned(#future, #rt::__private::Call::span(&#call)).await;
                    #finish
                    #ret
                }
            };
            let wrapper = if boxed { quote!(::std::boxed::Box::pin(#wrapper)) } else { wrapper };
            quote! {
                #start
                let #future #annotation = {
                    let #entered = #rt::__private::Call::span(&#call).enter();
                    #rt::__private::run_once(move || #user)
                };
                #wrapper
            }
        }
        Shape::Never => quote! {
            #start
            let #entered = #rt::__private::Call::span(&#call).enter();
            #block
        },
        Shape::Sync => {
            let annotation = annotation(declared);
            let user = body_with_fake_return(block, declared, return_type_span(sig));
            quote! {
                #start
                #[allow(clippy::let_unit_value)]
                let #ret #annotation = {
                    let #entered = #rt::__private::Call::span(&#call).enter();
                    #rt::__private::run_once(move || #user)
                };
                #finish
                #ret
            }
        }
    };
    quote! {
        #(#attrs)*
        #vis #sig {
            #call_site
            #body
        }
    }
}

/// `: T` for a `let` of the declared return type, `impl Trait` parts inferred.
fn annotation(declared: Option<&Type>) -> Option<TokenStream> {
    declared.map(|ty| {
        let ty = shape::nameable(ty);
        quote!(: #ty)
    })
}

/// `async move { user body }` run under the call's span on every poll, to the output.
fn instrumented(user: &TokenStream, locals: &Locals, rt: &syn::Path) -> TokenStream {
    let call = &locals.call;
    quote! {
        #rt::__private::InSpan::body(async move #user, #rt::__private::Call::span(&#call)).await
    }
}

/// The user's block with a never-taken `return` of a value of the declared type first: it pins
/// the type of the closure or async block, so `?` and type errors resolve against the user's
/// signature (tracing-attributes' trick). `impl Trait` parts are left to inference.
fn body_with_fake_return(block: &syn::Block, declared: Option<&Type>, span: Span) -> TokenStream {
    let return_type = declared.map_or_else(|| quote!(()), |ty| shape::nameable(ty).to_token_stream());
    let fake_return = quote_spanned! {span=>
        #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::empty_loop, clippy::needless_return)]
        if false {
            let __obs_fake_return: #return_type = loop {};
            return __obs_fake_return;
        }
    };
    // The user's items go before the fake return, so `clippy::items_after_statements` does not
    // fire on code the user wrote with its items first.
    let (items, statements): (Vec<&Stmt>, Vec<&Stmt>) =
        block.stmts.iter().partition(|statement| matches!(statement, Stmt::Item(_)));
    quote_spanned! {block.brace_token.span.join()=>
        {
            #(#items)*
            #fake_return
            #(#statements)*
        }
    }
}

/// The `static` describing this function, and its entry in the link-time catalog.
fn call_site_statics(function: &ItemFn, observed: &Observed) -> TokenStream {
    let rt = &observed.runtime;
    let ident = &function.sig.ident;
    let function_name = ident.to_string();
    let doc = doc_text(&function.attrs);
    let buckets = observed.buckets.as_ref().map_or_else(
        || quote!(::core::option::Option::None),
        |bounds| quote!(::core::option::Option::Some(&[#(#bounds),*])),
    );
    let line = quote_spanned!(ident.span()=> ::core::line!());
    let target = match &observed.target {
        Target::Endpoint { route, method, success_objective, latency_objective, .. } => {
            let success_objective = optional(success_objective.map(|ratio| {
                let ratio = proc_macro2::Literal::f64_unsuffixed(ratio);
                quote!(#ratio)
            }));
            let latency_objective = optional(latency_objective.map(|latency| {
                let threshold = proc_macro2::Literal::f64_unsuffixed(latency.threshold_seconds);
                let target = proc_macro2::Literal::f64_unsuffixed(latency.target);
                quote!((#threshold, #target))
            }));
            quote! {
                #rt::__private::Target::Endpoint {
                    method: #method,
                    route: #route,
                    success_objective: #success_objective,
                    latency_objective: #latency_objective,
                }
            }
        }
        Target::Operation { name } => quote!(#rt::__private::Target::Operation { name: #name }),
    };
    let call_site = quote! {
        #rt::__private::CallSite::new(#rt::__private::CallSiteInfo {
            target: #target,
            function: #function_name,
            function_path: __obs_function_path,
            module_path: ::core::module_path!(),
            file: ::core::file!(),
            line: #line,
            doc: #doc,
            buckets: #buckets,
        })
    };
    quote! {
        fn __obs_function_path() -> &'static str {
            ::core::any::type_name_of_val(&__obs_function_path)
        }
        static __OBS_CALL_SITE: #rt::__private::CallSite = #call_site;
        #[#rt::__private::linkme::distributed_slice(#rt::__private::CALL_SITES)]
        #[linkme(crate = #rt::__private::linkme)]
        static __OBS_CALL_SITE_ENTRY: &#rt::__private::CallSite = &__OBS_CALL_SITE;
    }
}

/// `Some(value)` or `None`, by absolute paths.
fn optional(value: Option<TokenStream>) -> TokenStream {
    value.map_or_else(|| quote!(::core::option::Option::None), |value| quote!(::core::option::Option::Some(#value)))
}

/// `tracing::span!` with the semantic-convention fields; its name is a literal so the callsite is
/// static. An endpoint's span is a server span; an operation's an internal one, a child of the
/// span current when it is called (the request's).
fn span_expression(observed: &Observed) -> TokenStream {
    let rt = &observed.runtime;
    let (route, method, method_span) = match &observed.target {
        Target::Endpoint { route, method, method_span, .. } => (route, method, *method_span),
        Target::Operation { name } => {
            return quote_spanned! {name.span()=>
                #rt::__private::tracing::span!(
                    #rt::__private::tracing::Level::INFO,
                    #name,
                    otel.kind = "internal",
                    error.r#type = #rt::__private::tracing::field::Empty,
                    otel.status_code = #rt::__private::tracing::field::Empty,
                    code.function = #rt::__private::CallSite::function(&__OBS_CALL_SITE),
                    code.namespace = ::core::module_path!(),
                    obs.call = #rt::__private::tracing::field::Empty,
                )
            };
        }
    };
    let route = route.value();
    let name = format!("{method} {route}");
    let span = method_span;
    quote_spanned! {span=>
        #rt::__private::tracing::span!(
            #rt::__private::tracing::Level::INFO,
            #name,
            otel.kind = "server",
            http.request.method = #method,
            http.route = #route,
            http.response.status_code = #rt::__private::tracing::field::Empty,
            rpc.grpc.status_code = #rt::__private::tracing::field::Empty,
            error.r#type = #rt::__private::tracing::field::Empty,
            otel.status_code = #rt::__private::tracing::field::Empty,
            code.function = #rt::__private::CallSite::function(&__OBS_CALL_SITE),
            code.namespace = ::core::module_path!(),
            obs.call = #rt::__private::tracing::field::Empty,
        )
    }
}

fn return_type_span(sig: &syn::Signature) -> Span {
    match &sig.output {
        ReturnType::Default => sig.ident.span(),
        ReturnType::Type(_, ty) => syn::spanned::Spanned::span(ty),
    }
}

/// The doc comment of the function, one line per `///` line, for the generated reference.
fn doc_text(attrs: &[Attribute]) -> String {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|attr| attr.path().is_ident("doc"))
        .filter_map(|attr| match &attr.meta {
            Meta::NameValue(pair) => match &pair.value {
                Expr::Lit(ExprLit { lit: Lit::Str(text), .. }) => Some(text.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|line| line.strip_prefix(' ').map(str::to_owned).unwrap_or(line))
        .collect();
    lines.join("\n").trim().to_owned()
}
