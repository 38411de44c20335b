//! `BUREAU_MAX_THREADS=abc` is a clear error at first use, not a silent
//! default. Its own test binary, because the variable is read at first use.

use bureau::unblock;

#[test]
fn a_max_threads_that_is_not_a_number_panics_naming_the_variable_and_value() {
    // SAFETY: this is the only test in this binary, and nothing else in the
    // process reads or writes the environment while it runs.
    unsafe { std::env::set_var("BUREAU_MAX_THREADS", "abc") };
    for attempt in ["first", "second"] {
        let payload = std::panic::catch_unwind(|| unblock(|| ()))
            .expect_err("BUREAU_MAX_THREADS=abc must not fall back to a default");
        let message = payload
            .downcast_ref::<String>()
            .expect("a formatted message");
        assert!(
            message.contains("BUREAU_MAX_THREADS"),
            "{attempt} use: {message}"
        );
        assert!(message.contains("\"abc\""), "{attempt} use: {message}");
        assert!(
            message.contains("positive integer"),
            "{attempt} use: {message}"
        );
    }
}
