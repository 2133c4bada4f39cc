//! One connection's queue of encoded frames, from the core thread to the connection's
//! writer, counted in frames and in bytes so the core can cut off a peer that stops reading
//! before it holds more than `max_outbound_bytes`.
//!
//! Unbounded as a channel (a bounded one reserves every slot up front, 32 KiB per idle
//! connection); the core checks both counts before each send.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The core's end.
#[derive(Debug, Clone)]
pub(crate) struct Outbound {
    sender: smol::channel::Sender<Vec<u8>>,
    queued_bytes: Arc<AtomicUsize>,
}

/// The writer's end.
#[derive(Debug)]
pub(crate) struct OutboundFrames {
    receiver: smol::channel::Receiver<Vec<u8>>,
    queued_bytes: Arc<AtomicUsize>,
}

pub(crate) fn channel() -> (Outbound, OutboundFrames) {
    let (sender, receiver) = smol::channel::unbounded();
    let queued_bytes = Arc::new(AtomicUsize::new(0));
    (
        Outbound { sender, queued_bytes: Arc::clone(&queued_bytes) },
        OutboundFrames { receiver, queued_bytes },
    )
}

impl Outbound {
    /// Frames queued and not yet taken by the writer.
    pub(crate) fn frames(&self) -> usize {
        self.sender.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.queued_bytes.load(Ordering::Relaxed)
    }

    /// Whether `frame` would take the queue over either limit. An empty queue always takes
    /// one frame, so a frame larger than the byte limit (a worker's whole builder list) is
    /// sent rather than refused forever.
    pub(crate) fn would_overflow(&self, frame: usize, max_frames: usize, max_bytes: usize) -> bool {
        let frames = self.frames();
        frames > 0 && (frames >= max_frames || self.bytes().saturating_add(frame) > max_bytes)
    }

    /// Queues `frame`; `Err` when the writer is gone.
    pub(crate) fn try_send(&self, frame: Vec<u8>) -> Result<(), ()> {
        let length = frame.len();
        self.queued_bytes.fetch_add(length, Ordering::Relaxed);
        self.sender.try_send(frame).map_err(|_| {
            self.queued_bytes.fetch_sub(length, Ordering::Relaxed);
        })
    }
}

impl OutboundFrames {
    /// The next frame; `None` once the core dropped its end and the queue is empty.
    pub(crate) async fn recv(&self) -> Option<Vec<u8>> {
        let frame = self.receiver.recv().await.ok()?;
        self.queued_bytes.fetch_sub(frame.len(), Ordering::Relaxed);
        Some(frame)
    }

    pub(crate) fn try_recv(&self) -> Option<Vec<u8>> {
        let frame = self.receiver.try_recv().ok()?;
        self.queued_bytes.fetch_sub(frame.len(), Ordering::Relaxed);
        Some(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_counts_bytes_until_the_writer_takes_them() {
        let (outbound, frames) = channel();
        assert!(!outbound.would_overflow(10_000, 4, 100), "an empty queue takes any one frame");
        outbound.try_send(vec![0; 60]).expect("queued");
        assert_eq!((outbound.frames(), outbound.bytes()), (1, 60));
        assert!(!outbound.would_overflow(40, 4, 100));
        assert!(outbound.would_overflow(41, 4, 100), "over the byte limit");
        outbound.try_send(vec![0; 40]).expect("queued");
        assert_eq!(frames.try_recv().map(|frame| frame.len()), Some(60));
        assert_eq!((outbound.frames(), outbound.bytes()), (1, 40));
        for _ in 0..3 {
            outbound.try_send(vec![0; 1]).expect("queued");
        }
        assert!(outbound.would_overflow(1, 4, 100), "over the frame limit");
        drop(frames);
        assert!(outbound.try_send(vec![0; 5]).is_err());
        assert_eq!(outbound.bytes(), 43, "a refused frame is not counted");
    }
}
