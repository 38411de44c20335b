//! Reads the pool's configuration from the environment.
//!
//! It must never fall back to a default silently: a `BUREAU_MAX_THREADS`
//! that is set but is not a positive integer is an error that names the
//! variable and the value.

use std::ffi::OsStr;
use std::num::NonZeroUsize;

/// The environment variable that overrides the maximum number of threads.
pub(crate) const MAX_THREADS_VAR: &str = "BUREAU_MAX_THREADS";

/// The maximum number of threads when `BUREAU_MAX_THREADS` is not set.
pub(crate) const DEFAULT_MAX_THREADS: NonZeroUsize = match NonZeroUsize::new(500) {
    Some(n) => n,
    None => unreachable!(),
};

/// Parses the value of `BUREAU_MAX_THREADS` (`None` when it is unset).
///
/// The error is a message for the user that names the variable and the value.
pub(crate) fn parse_max_threads(value: Option<&OsStr>) -> Result<NonZeroUsize, String> {
    let Some(value) = value else {
        return Ok(DEFAULT_MAX_THREADS);
    };
    value
        .to_str()
        .and_then(|text| text.trim().parse::<NonZeroUsize>().ok())
        .ok_or_else(|| {
            format!(
                "{MAX_THREADS_VAR}={value:?} is not valid: it must be a positive integer \
                 (the maximum number of threads in bureau's blocking pool)"
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::os::unix::ffi::OsStringExt;

    fn parse(text: &str) -> Result<usize, String> {
        parse_max_threads(Some(OsStr::new(text))).map(NonZeroUsize::get)
    }

    #[test]
    fn unset_means_the_default_of_500() {
        assert_eq!(parse_max_threads(None).map(NonZeroUsize::get), Ok(500));
    }

    #[test]
    fn positive_integers_are_accepted() {
        assert_eq!(parse("1"), Ok(1));
        assert_eq!(parse("2"), Ok(2));
        assert_eq!(parse(" 64 "), Ok(64));
    }

    #[test]
    fn anything_else_is_an_error_naming_the_variable_and_the_value() {
        for bad in ["abc", "0", "-3", "", "2.5", "99999999999999999999999"] {
            let err = parse(bad).expect_err(bad);
            assert!(err.contains("BUREAU_MAX_THREADS"), "{err}");
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn non_utf8_is_an_error() {
        let value = OsString::from_vec(vec![0x66, 0xff]);
        let err = parse_max_threads(Some(&value)).expect_err("non-UTF-8");
        assert!(err.contains("BUREAU_MAX_THREADS"), "{err}");
    }
}
