//! The bytes of responses the HTTP front holds, over all connections, while their clients
//! read them: buffering a whole response frees the engine at once, and this bounds what
//! many slow clients together can make the daemon hold.

use std::sync::{Arc, Mutex};

#[derive(Debug)]
pub(crate) struct ResponseBudget {
    held_bytes: Mutex<usize>,
    max_bytes: usize,
}

/// Bytes of the budget, given back when dropped.
#[derive(Debug)]
pub(crate) struct Held {
    budget: Arc<ResponseBudget>,
    bytes: usize,
}

impl ResponseBudget {
    pub(crate) fn new(max_bytes: usize) -> ResponseBudget {
        ResponseBudget { held_bytes: Mutex::new(0), max_bytes }
    }

    /// Takes `bytes` of the budget, or `None` when that would go over it. When nothing is
    /// held, any size is taken: a response larger than the whole budget is still served,
    /// one at a time.
    pub(crate) fn reserve(self: &Arc<Self>, bytes: usize) -> Option<Held> {
        let mut held = lock(&self.held_bytes);
        if *held != 0 && held.saturating_add(bytes) > self.max_bytes {
            return None;
        }
        *held += bytes;
        Some(Held { budget: Arc::clone(self), bytes })
    }

    #[cfg(test)]
    fn held_bytes(&self) -> usize {
        *lock(&self.held_bytes)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        *lock(&self.budget.held_bytes) -= self.bytes;
    }
}

/// Nothing panics while holding the lock; a poisoned one still holds a consistent count.
fn lock(mutex: &Mutex<usize>) -> std::sync::MutexGuard<'_, usize> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_fit_the_budget_and_give_it_back_when_dropped() {
        let budget = Arc::new(ResponseBudget::new(100));
        let first = budget.reserve(60).expect("fits");
        let second = budget.reserve(40).expect("fits exactly");
        assert!(budget.reserve(1).is_none(), "full");
        drop(first);
        assert_eq!(budget.held_bytes(), 40);
        let third = budget.reserve(60).expect("fits again");
        drop((second, third));
        assert_eq!(budget.held_bytes(), 0);
    }

    #[test]
    fn one_response_larger_than_the_budget_is_served_alone() {
        let budget = Arc::new(ResponseBudget::new(10));
        let large = budget.reserve(1_000).expect("nothing else held");
        assert!(budget.reserve(1).is_none(), "and nothing beside it");
        drop(large);
        assert!(budget.reserve(1).is_some());
    }
}
