//! Compile-time behaviour of `#[observed]`: every misuse is a spanned error with the exact
//! message in `ui/fail/*.stderr`; every supported shape compiles under `-D warnings`.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("ui/pass/*.rs");
    cases.compile_fail("ui/fail/*.rs");
}
