//! The reactor: waits on sockets and timers in the kernel (through `polling`) and wakes the futures that wait on them.
