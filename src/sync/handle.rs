//! [`Sender`] and [`Receiver`]: `Copy` handles to a channel, with its
//! capacity erased from their type (they point at the unsized `Chan<T>`).

use super::chan::{Chan, Channel, SendError, SendTimeoutError, TryRecvError, TrySendError};
use crate::time::{dur_ns, nanotime, Instant};
use crate::Error;
use core::fmt;
use core::time::Duration;

/// The sending side of a channel: a `Copy` handle usable from any number
/// of goroutines and threads.
pub struct Sender<'a, T> {
    pub(super) chan: &'a Chan<T>,
}

/// The receiving side of a channel: a `Copy` handle usable from any number
/// of goroutines and threads (each value goes to exactly one receiver).
pub struct Receiver<'a, T> {
    pub(super) chan: &'a Chan<T>,
}

impl<T> Clone for Sender<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Sender<'_, T> {}
impl<T> Clone for Receiver<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Receiver<'_, T> {}

impl<'a, T, const N: usize> From<&'a Channel<T, N>> for Sender<'a, T> {
    fn from(c: &'a Channel<T, N>) -> Self {
        c.sender()
    }
}
impl<'a, T, const N: usize> From<&'a Channel<T, N>> for Receiver<'a, T> {
    fn from(c: &'a Channel<T, N>) -> Self {
        c.receiver()
    }
}
impl<'a, T> From<&Sender<'a, T>> for Sender<'a, T> {
    fn from(s: &Sender<'a, T>) -> Self {
        *s
    }
}
impl<'a, T> From<&Receiver<'a, T>> for Receiver<'a, T> {
    fn from(r: &Receiver<'a, T>) -> Self {
        *r
    }
}

impl<T> fmt::Debug for Sender<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sender { .. }")
    }
}
impl<T> fmt::Debug for Receiver<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Receiver { .. }")
    }
}

fn deadline_after(d: Duration) -> i64 {
    nanotime().saturating_add(dur_ns(d))
}

impl<'a, T> Sender<'a, T> {
    /// Sends `v`, waiting while the buffer is full (unbuffered: until a
    /// receiver takes it). Fails, giving `v` back, if the channel is or
    /// becomes closed first.
    pub fn send(&self, v: T) -> Result<(), SendError<T>> {
        self.chan.send(v, true, None).map_err(|(v, _)| SendError(v))
    }

    /// Sends `v` only if that needs no waiting: a receiver is waiting, or
    /// the buffer has room.
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        // A polling loop must still let sysmon's preemption requests in.
        crate::sched::preempt_point();
        self.chan.send(v, false, None).map_err(|(v, e)| match e {
            Error::Closed => TrySendError::Closed(v),
            _ => TrySendError::Full(v),
        })
    }

    /// [`send`](Self::send), giving up after `d` ([`SendTimeoutError::TimedOut`]).
    /// A value handed to a receiver is never also reported as timed out.
    pub fn send_timeout(&self, v: T, d: Duration) -> Result<(), SendTimeoutError<T>> {
        self.chan.send(v, true, Some(deadline_after(d))).map_err(|(v, e)| match e {
            Error::Closed => SendTimeoutError::Closed(v),
            _ => SendTimeoutError::TimedOut(v),
        })
    }

    /// [`send`](Self::send), giving up at `deadline`.
    pub fn send_deadline(&self, v: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.chan.send(v, true, Some(deadline.as_nanos())).map_err(|(v, e)| match e {
            Error::Closed => SendTimeoutError::Closed(v),
            _ => SendTimeoutError::TimedOut(v),
        })
    }

    /// Closes the channel (Go's `close`): parked and future senders fail,
    /// receivers drain what is buffered and then see [`Error::Closed`].
    /// Returns false if it was already closed (closing twice is harmless).
    pub fn close(&self) -> bool {
        self.chan.close()
    }

    /// Whether the channel has been closed.
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }
}

impl<'a, T> Receiver<'a, T> {
    /// Receives the next value, waiting for one. Once the channel is closed
    /// and drained, fails with [`Error::Closed`].
    pub fn recv(&self) -> Result<T, Error> {
        self.chan.recv(true, None)
    }

    /// Receives a value only if one is there without waiting.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        // A polling loop must still let sysmon's preemption requests in.
        crate::sched::preempt_point();
        self.chan.recv(false, None).map_err(|e| match e {
            Error::Closed => TryRecvError::Closed,
            _ => TryRecvError::Empty,
        })
    }

    /// [`recv`](Self::recv), giving up after `d` with [`Error::TimedOut`].
    pub fn recv_timeout(&self, d: Duration) -> Result<T, Error> {
        self.chan.recv(true, Some(deadline_after(d)))
    }

    /// [`recv`](Self::recv), giving up at `deadline` with [`Error::TimedOut`].
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, Error> {
        self.chan.recv(true, Some(deadline.as_nanos()))
    }

    /// An iterator that receives until the channel is closed and drained.
    pub fn iter(&self) -> Iter<'a, T> {
        Iter { rx: *self }
    }

    /// Values buffered now.
    pub fn len(&self) -> usize {
        self.chan.len()
    }

    /// Whether no value is buffered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the channel has been closed (values may still be buffered).
    pub fn is_closed(&self) -> bool {
        self.chan.is_closed()
    }
}

/// Receives until the channel is closed and drained ([`Receiver::iter`]).
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: Receiver<'a, T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for Receiver<'a, T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}
