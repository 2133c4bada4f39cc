//! `order=f` / `order=-f`: a total, deterministic sort of the filtered rows, and the page cut
//! from it.

use std::cmp::Ordering;

use super::cell::Cell;
use super::{FieldType, QueryRow};

/// One `order` value: a field and a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OrderKey {
    pub(super) field: &'static str,
    pub(super) field_type: FieldType,
    pub(super) descending: bool,
}

/// The rows from `offset`, at most `limit` of them, once sorted by the first key, then the
/// next, then by original position.
///
/// The sort is stable, so rows equal on every key keep their original relative order: that
/// is the final tie-break, and it holds for descending keys too (a tie is not reversed), as
/// with Buildbot's `ReverseComparator` under Python's stable `list.sort`.
///
/// Each row's key cells are read once, before sorting, rather than twice per comparison;
/// positions are sorted, and only the rows of the page are moved out.
pub(super) fn sorted_page<R: QueryRow>(
    rows: Vec<R>,
    keys: &[OrderKey],
    offset: usize,
    limit: usize,
) -> Vec<R> {
    if keys.is_empty() {
        if offset == 0 && limit >= rows.len() {
            return rows;
        }
        return rows.into_iter().skip(offset).take(limit).collect();
    }
    let positions = sorted_positions(&rows, keys);
    let mut rows: Vec<Option<R>> = rows.into_iter().map(Some).collect();
    // Every position appears once, so each `take` finds its row.
    positions.into_iter().skip(offset).take(limit).filter_map(|at| rows[at].take()).collect()
}

/// The rows' positions in sorted order.
fn sorted_positions<R: QueryRow>(rows: &[R], keys: &[OrderKey]) -> Vec<usize> {
    let width = keys.len();
    let cells: Vec<Cell<'_>> = rows
        .iter()
        .flat_map(|row| keys.iter().map(|key| row.cell(key.field, key.field_type)))
        .collect();
    let mut positions: Vec<usize> = (0..rows.len()).collect();
    positions.sort_by(|&a, &b| {
        compare(&cells[a * width..(a + 1) * width], &cells[b * width..(b + 1) * width], keys)
    });
    positions
}

fn compare(a: &[Cell<'_>], b: &[Cell<'_>], keys: &[OrderKey]) -> Ordering {
    for ((a, b), key) in a.iter().zip(b).zip(keys) {
        let ascending = a.cmp(b);
        // Reversing the whole comparison puts null (the smallest) last in descending order,
        // as Buildbot's ReverseComparator(NoneComparator(...)) does.
        let ordering = if key.descending { ascending.reverse() } else { ascending };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}
