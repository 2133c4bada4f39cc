//! Where a seed's panic happened. `catch_unwind` hands back only the payload, and the
//! location exists only inside the panic hook, so the hook records it for the thread that
//! is panicking (seeds run on several threads at once) and the catch picks it up there.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{PanicHookInfo, UnwindSafe};
use std::sync::Once;

/// The source position of a panic, as the compiler recorded it (paths are relative to the
/// workspace for this workspace's own crates).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PanicLocation {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for PanicLocation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A panic that `catch` stopped.
#[derive(Debug)]
pub(crate) struct Caught {
    pub(crate) message: String,
    /// None when no hook saw it: a `resume_unwind` (which skips the hook), or a hook
    /// installed after ours that replaced it.
    pub(crate) location: Option<PanicLocation>,
}

thread_local! {
    /// Set while this thread runs inside `catch`: only those panics are outcomes to be
    /// recorded quietly; any other panic is somebody else's and goes to the previous hook.
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    /// What the hook saw of this thread's latest panic inside `catch`.
    static SEEN: RefCell<Option<Seen>> = const { RefCell::new(None) };
}

#[derive(Debug)]
struct Seen {
    location: PanicLocation,
    message: Option<String>,
}

static INSTALL: Once = Once::new();

/// Installs the recording hook once per process, in front of whatever hook was there: a
/// library user who never set a hook still gets locations, and the default hook's message
/// stays off the terminal for every seed's panic.
fn install_hook() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !record(info) {
                previous(info);
            }
        }));
    });
}

/// Records a panic of a thread inside `catch`; false for any other panic.
fn record(info: &PanicHookInfo<'_>) -> bool {
    // try_with: a panic while the thread's locals are being torn down must not panic again.
    if !CATCHING.try_with(Cell::get).unwrap_or(false) {
        return false;
    }
    let Some(location) = info.location() else {
        return true;
    };
    let seen = Seen {
        location: PanicLocation {
            file: location.file().to_string(),
            line: location.line(),
            column: location.column(),
        },
        message: text_of(info.payload()),
    };
    let _ = SEEN.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = Some(seen);
        }
    });
    true
}

/// Runs `body`, turning a panic into its message and location.
pub(crate) fn catch<R>(body: impl FnOnce() -> R + UnwindSafe) -> Result<R, Caught> {
    install_hook();
    let _ = SEEN.try_with(|slot| slot.replace(None));
    let outer = CATCHING.replace(true);
    let result = std::panic::catch_unwind(body);
    CATCHING.set(outer);
    let seen = SEEN.try_with(|slot| slot.replace(None)).ok().flatten();
    result.map_err(|payload| {
        let message = text_of(&*payload);
        // The hook's record belongs to this payload only if their messages agree: a panic
        // caught deeper inside the body followed by a resume_unwind of another payload
        // would otherwise lend its location to the wrong panic.
        let location = seen.filter(|seen| seen.message == message).map(|seen| seen.location);
        Caught { message: message.unwrap_or_else(|| "a panic without a message".into()), location }
    })
}

/// The message of a `panic!` payload (a `String` when formatted, a `&str` when literal).
fn text_of(payload: &(dyn Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|text| (*text).to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panic inside `catch` comes back with its own file, line and column, without any
    /// hook installed by the caller, and each thread gets its own panic's site even when
    /// several panic at once.
    #[test]
    fn a_caught_panic_carries_its_site_on_each_thread() {
        let barrier = std::sync::Barrier::new(2);
        std::thread::scope(|scope| {
            let runs: Vec<_> = (0..2_u32)
                .map(|which| {
                    let barrier = &barrier;
                    scope.spawn(move || {
                        let line = line!() + 3;
                        let caught = catch(|| {
                            barrier.wait();
                            panic!("planted {which}")
                        });
                        (which, line, caught)
                    })
                })
                .collect();
            for run in runs {
                let Ok((which, line, caught)) = run.join() else {
                    panic!("a test thread panicked outside catch");
                };
                let Err(caught) = caught else { panic!("the planted panic did not happen") };
                assert_eq!(caught.message, format!("planted {which}"));
                let location = caught.location.expect("the hook saw the panic");
                assert_eq!((location.file.as_str(), location.line), (file!(), line));
                assert!(location.column > 0, "{location}");
            }
        });
    }

    /// A payload the hook never saw (resume_unwind skips hooks) keeps its message and
    /// claims no location rather than borrowing an earlier panic's.
    #[test]
    fn a_resumed_payload_has_no_location_and_no_stale_one() {
        let caught = catch(|| {
            let inner = std::panic::catch_unwind(|| panic!("inner"));
            assert!(inner.is_err());
            std::panic::resume_unwind(Box::new("resumed".to_string()))
        });
        let Err(caught) = caught else { panic!("the body did not panic") };
        assert_eq!(caught.message, "resumed");
        assert_eq!(caught.location, None);
    }
}
