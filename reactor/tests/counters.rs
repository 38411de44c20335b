//! The reactor's registration counters, exactly: one registration per
//! `Async::new`, one deregistration per drop or `into_inner`, no modify, and
//! the `Unpin` promises of API.md. One test, so no other test in this
//! process moves the counters meanwhile; it must never share its binary.

mod common;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use bureau_reactor::{Async, Timer, stats};
use common::{block_on, bounded};

fn assert_unpin<T: Unpin>() {}

#[test]
fn registrations_and_deregistrations_are_counted_exactly() {
    assert_unpin::<Async<UnixStream>>();
    assert_unpin::<Async<std::net::TcpListener>>();
    assert_unpin::<Timer>();
    bounded(10, || {
        let (a, mut b) = UnixStream::pair().unwrap();

        let before = stats();
        let a = Async::new(a).unwrap();
        let mid = stats();
        assert_eq!(mid.registrations - before.registrations, 1);
        assert_eq!(mid.deregistrations, before.deregistrations);

        // into_inner deregisters: +1, and the socket is usable again.
        let a: UnixStream = a.into_inner().unwrap();
        let after = stats();
        assert_eq!(after.deregistrations - mid.deregistrations, 1);

        // Registering the same socket again works only if it was deleted.
        let a = Async::new(a).unwrap();
        b.write_all(b"x").unwrap();
        let n = block_on(a.read_with(|mut s| s.read(&mut [0; 4]))).unwrap();
        assert_eq!(n, 1);

        // Dropping deregisters: +1.
        let before_drop = stats();
        drop(a);
        let after_drop = stats();
        assert_eq!(after_drop.deregistrations - before_drop.deregistrations, 1);
        assert_eq!(after_drop.registrations, before_drop.registrations);
        assert_eq!(after_drop.modifies, before.modifies);
    });
}
