//! How the core thread waits for its next input: parked on its own thread until an input
//! arrives or its deadline passes, without the async reactor.
//!
//! Waiting through `smol::block_on` and a `smol::Timer` cost the whole daemon on every
//! batch: the timer's registration wakes whichever thread sits in the reactor's
//! `epoll_wait`, its removal is one more reactor operation, and leaving `block_on` unparks
//! async-io's helper thread, which then polls the reactor every 50 µs and takes socket
//! readiness away from the executor thread (one more thread hop per reply). Here a waiting
//! core thread costs one futex wait, and a sender one futex wake.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::Instant;

use smol::channel::{Receiver, TryRecvError};

/// What ended a wait.
#[derive(Debug)]
pub(crate) enum Next<T> {
    Input(T),
    /// Every sender is gone.
    Closed,
    /// The deadline passed with nothing queued.
    Deadline,
}

/// Unparks the thread that waits.
struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Waits for inputs on the thread that created it.
pub(crate) struct Waiter {
    waker: Waker,
    /// The thread the waker unparks: waiting anywhere else would sleep until the deadline.
    owner: std::thread::ThreadId,
}

impl Waiter {
    /// A waiter for the calling thread; only that thread may call [`Waiter::next`].
    pub(crate) fn for_this_thread() -> Waiter {
        let current = std::thread::current();
        Waiter { owner: current.id(), waker: Waker::from(Arc::new(Unparker(current))) }
    }

    /// The next input, waiting until `deadline` at most.
    pub(crate) fn next<T>(&self, inputs: &Receiver<T>, deadline: Instant) -> Next<T> {
        assert_eq!(std::thread::current().id(), self.owner, "a Waiter waits on its own thread");
        match inputs.try_recv() {
            Ok(input) => return Next::Input(input),
            Err(TryRecvError::Closed) => return Next::Closed,
            Err(TryRecvError::Empty) => {}
        }
        let mut context = Context::from_waker(&self.waker);
        let mut receive = std::pin::pin!(inputs.recv());
        loop {
            match receive.as_mut().poll(&mut context) {
                Poll::Ready(Ok(input)) => return Next::Input(input),
                Poll::Ready(Err(_)) => return Next::Closed,
                Poll::Pending => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return Next::Deadline;
            }
            // Wakes early on a send (the waker unparks), a stale unpark, or spuriously;
            // each is followed by another poll, so none is mistaken for an input.
            std::thread::park_timeout(deadline - now);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// An input sent by another thread while the core waits ends the wait with that input.
    #[test]
    fn a_send_from_another_thread_wakes_the_waiter() {
        let (sender, inputs) = smol::channel::bounded(4);
        let waiter = Waiter::for_this_thread();
        let sending = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            sender.send_blocking(7_u32).is_ok()
        });
        let started = Instant::now();
        let next = waiter.next(&inputs, started + Duration::from_secs(30));
        assert!(matches!(next, Next::Input(7)), "{next:?}");
        assert!(started.elapsed() < Duration::from_secs(10), "woken by the send, not the deadline");
        assert!(sending.join().is_ok_and(|sent| sent));
    }

    /// With nothing sent, the wait ends at its deadline, not before.
    #[test]
    fn the_deadline_ends_an_empty_wait() {
        let (_sender, inputs) = smol::channel::bounded::<u32>(4);
        let waiter = Waiter::for_this_thread();
        let started = Instant::now();
        let next = waiter.next(&inputs, started + Duration::from_millis(30));
        assert!(matches!(next, Next::Deadline), "{next:?}");
        assert!(started.elapsed() >= Duration::from_millis(30));
    }

    /// Queued inputs come first; once every sender is gone, the wait says so at once.
    #[test]
    fn queued_inputs_then_closed() {
        let (sender, inputs) = smol::channel::bounded(4);
        assert!(sender.try_send(1_u32).is_ok());
        drop(sender);
        let waiter = Waiter::for_this_thread();
        let deadline = Instant::now() + Duration::from_secs(30);
        assert!(matches!(waiter.next(&inputs, deadline), Next::Input(1)));
        let started = Instant::now();
        assert!(matches!(waiter.next(&inputs, deadline), Next::Closed));
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
