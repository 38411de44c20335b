//! The executor: tasks, run queues, the run loop, and the park/unpark protocol.
