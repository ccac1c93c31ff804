//! A second `init()` in one process is `AlreadyInitialized`, checked before anything binds: a
//! test suite calling `init()` per test is not told that its own metrics port is taken.

use obs_runtime::SetupError;

#[test]
fn a_second_init_is_already_initialized_not_a_taken_port() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr");
    let builder = || obs_runtime::builder("already-initialized", "1").with_env(|_| None).metrics_addr(free);
    let guard = builder().init().expect("the first init succeeds");
    match builder().init() {
        Err(SetupError::AlreadyInitialized) => {}
        other => panic!("expected AlreadyInitialized, got {other:?}"),
    }
    drop(guard);
}
