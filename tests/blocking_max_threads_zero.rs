//! `BUREAU_MAX_THREADS=0` is a clear error at first use: a pool with no
//! threads would hang every job. Its own test binary, because the variable
//! is read at first use.

use bureau::unblock;

#[test]
fn a_max_threads_of_zero_panics_naming_the_variable_and_value() {
    // SAFETY: this is the only test in this binary, and nothing else in the
    // process reads or writes the environment while it runs.
    unsafe { std::env::set_var("BUREAU_MAX_THREADS", "0") };
    let payload = std::panic::catch_unwind(|| unblock(|| ()))
        .expect_err("BUREAU_MAX_THREADS=0 must not fall back to a default");
    let message = payload
        .downcast_ref::<String>()
        .expect("a formatted message");
    assert!(message.contains("BUREAU_MAX_THREADS"), "{message}");
    assert!(message.contains("\"0\""), "{message}");
}
