//! The `#[kennel::test]` attribute. Use it through the `kennel` crate
//! (`kennel::test`), which documents it and provides what its expansion names.
#![deny(missing_docs)]

use proc_macro::TokenStream;
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ItemFn, Lit, Meta, Token};

/// Register a function `fn NAME(t: &mut kennel::Test) -> kennel::Result<()>` as a
/// kennel test. Arguments: `tags = ["a", "b"]`, `timeout = "30s"` (humantime),
/// `ignore` or `ignore = "why"`. See `kennel::test` for the documentation.
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    match expand(attr.into(), item.into()) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

struct Args {
    tags: Vec<String>,
    covers: Vec<String>,
    timeout_ms: Option<u64>,
    ignore: Option<String>,
}

fn lit_str(e: &Expr) -> Option<String> {
    match e {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Some(s.value()),
        _ => None,
    }
}

fn parse_args(attr: proc_macro2::TokenStream) -> syn::Result<Args> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(attr)?;
    let mut args = Args {
        tags: Vec::new(),
        covers: Vec::new(),
        timeout_ms: None,
        ignore: None,
    };
    for meta in metas {
        match &meta {
            Meta::NameValue(nv) if nv.path.is_ident("tags") => {
                let Expr::Array(arr) = &nv.value else {
                    return Err(syn::Error::new_spanned(
                        &nv.value,
                        "`tags` takes a list of strings: tags = [\"quick\"]",
                    ));
                };
                for e in &arr.elems {
                    let tag = lit_str(e)
                        .ok_or_else(|| syn::Error::new_spanned(e, "a tag is a string literal"))?;
                    args.tags.push(tag);
                }
            }
            Meta::NameValue(nv) if nv.path.is_ident("covers") => {
                let Expr::Array(arr) = &nv.value else {
                    return Err(syn::Error::new_spanned(
                        &nv.value,
                        "`covers` takes a list of paths: covers = [\"hw/net/virtio-net.c\", \"hw/net/*\"]",
                    ));
                };
                for e in &arr.elems {
                    let path = lit_str(e).ok_or_else(|| {
                        syn::Error::new_spanned(e, "a `covers` entry is a string literal")
                    })?;
                    if path.trim().is_empty() || path.starts_with('/') || path.split('/').any(|p| p == "..") {
                        return Err(syn::Error::new_spanned(
                            e,
                            "a `covers` entry is a path relative to the repository's top (not empty, not absolute, no `..`)",
                        ));
                    }
                    args.covers.push(path);
                }
            }
            Meta::NameValue(nv) if nv.path.is_ident("timeout") => {
                let text = lit_str(&nv.value).ok_or_else(|| {
                    syn::Error::new_spanned(&nv.value, "`timeout` is a string: timeout = \"30s\"")
                })?;
                let d = humantime::parse_duration(&text).map_err(|e| {
                    syn::Error::new_spanned(&nv.value, format!("bad timeout {text:?}: {e}"))
                })?;
                args.timeout_ms = Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            }
            Meta::NameValue(nv) if nv.path.is_ident("ignore") => {
                let why = lit_str(&nv.value).ok_or_else(|| {
                    syn::Error::new_spanned(&nv.value, "`ignore` takes a reason string")
                })?;
                args.ignore = Some(why);
            }
            Meta::Path(p) if p.is_ident("ignore") => args.ignore = Some(String::new()),
            other => {
                return Err(syn::Error::new_spanned(
                    other,
                    "unknown argument: expected `tags = [..]`, `covers = [..]`, `timeout = \"..\"` or `ignore`",
                ))
            }
        }
    }
    Ok(args)
}

fn expand(
    attr: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> syn::Result<proc_macro2::TokenStream> {
    let args = parse_args(attr)?;
    let func: ItemFn = syn::parse2(item)?;
    if func.sig.inputs.len() != 1 {
        return Err(syn::Error::new_spanned(
            &func.sig,
            "a kennel test takes one argument: `t: &mut kennel::Test`",
        ));
    }
    if !func.sig.generics.params.is_empty() || func.sig.asyncness.is_some() {
        return Err(syn::Error::new_spanned(
            &func.sig,
            "a kennel test is a plain (not generic, not async) function",
        ));
    }
    let ident = &func.sig.ident;
    let tags = &args.tags;
    let covers = &args.covers;
    let timeout = match args.timeout_ms {
        Some(ms) => quote!(::core::option::Option::Some(#ms)),
        None => quote!(::core::option::Option::None),
    };
    let ignore = match &args.ignore {
        Some(why) => quote!(::core::option::Option::Some(#why)),
        None => quote!(::core::option::Option::None),
    };
    Ok(quote! {
        #func

        ::kennel::__private::inventory::submit! {
            ::kennel::__private::TestDef {
                name: ::core::stringify!(#ident),
                module: ::core::module_path!(),
                func: #ident,
                tags: &[#(#tags),*],
                covers: &[#(#covers),*],
                timeout_ms: #timeout,
                ignore: #ignore,
            }
        }
    })
}
