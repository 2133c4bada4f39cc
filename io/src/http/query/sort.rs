//! `order=f` / `order=-f`: a total, deterministic sort of the filtered rows.

use std::cmp::Ordering;

use super::cell::Cell;
use super::{FieldType, Row};

/// One `order` value: a field and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OrderKey {
    pub(super) field: &'static str,
    pub(super) field_type: FieldType,
    pub(super) descending: bool,
}

/// Sorts by the first key, then the next, then by original position.
///
/// `sort_by` is stable, so rows equal on every key keep their original relative order: that
/// is the final tie-break, and it holds for descending keys too (a tie is not reversed), as
/// with Buildbot's `ReverseComparator` under Python's stable `list.sort`.
pub(super) fn sort_rows(rows: &mut [Row], keys: &[OrderKey]) {
    if keys.is_empty() {
        return;
    }
    rows.sort_by(|a, b| compare(a, b, keys));
}

fn compare(a: &Row, b: &Row, keys: &[OrderKey]) -> Ordering {
    for key in keys {
        let ascending = Cell::of(a.get(key.field), key.field_type)
            .cmp(&Cell::of(b.get(key.field), key.field_type));
        // Reversing the whole comparison puts null (the smallest) last in descending order,
        // as Buildbot's ReverseComparator(NoneComparator(...)) does.
        let ordering = if key.descending { ascending.reverse() } else { ascending };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}
