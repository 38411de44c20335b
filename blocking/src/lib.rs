//! The blocking pool: runs the calls that can only block on threads of their own, and wakes the awaiting future when they finish.
