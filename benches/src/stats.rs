//! Median, minimum and maximum of repeated measurements, the shape every figure takes.

use serde_json::{json, Value};

/// A summary of repeated samples of one quantity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub repeats: usize,
}

impl Summary {
    /// # Panics
    ///
    /// When `samples` is empty or holds a NaN: a benchmark that measured nothing is a bug.
    pub fn of(samples: &[f64]) -> Summary {
        assert!(!samples.is_empty(), "a summary needs at least one sample");
        let mut sorted = samples.to_vec();
        sorted.sort_by(|a, b| a.partial_cmp(b).expect("samples are never NaN"));
        let middle = sorted.len() / 2;
        let median = if sorted.len() % 2 == 1 {
            sorted[middle]
        } else {
            (sorted[middle - 1] + sorted[middle]) / 2.0
        };
        Summary { median, min: sorted[0], max: sorted[sorted.len() - 1], repeats: sorted.len() }
    }

    /// The same summary of a rate `count / seconds`, from samples in seconds (a shorter
    /// time is a higher rate, so min and max swap).
    pub fn rate_of_seconds(count: f64, samples_seconds: &[f64]) -> Summary {
        let rates: Vec<f64> = samples_seconds.iter().map(|seconds| count / seconds).collect();
        Summary::of(&rates)
    }

    pub fn to_json(self, unit: &str) -> Value {
        json!({
            "unit": unit,
            "median": self.median,
            "min": self.min,
            "max": self.max,
            "repeats": self.repeats,
        })
    }
}

/// A quantity for people: `12.3 µs`, `4.56 M/s`.
pub fn human(value: f64, unit: &str) -> String {
    match unit {
        "s" => {
            if value < 1e-6 {
                format!("{:.0} ns", value * 1e9)
            } else if value < 1e-3 {
                format!("{:.2} µs", value * 1e6)
            } else if value < 1.0 {
                format!("{:.2} ms", value * 1e3)
            } else {
                format!("{value:.2} s")
            }
        }
        "ops/s" => {
            if value >= 1e6 {
                format!("{:.2} M/s", value / 1e6)
            } else if value >= 1e3 {
                format!("{:.1} k/s", value / 1e3)
            } else {
                format!("{value:.0} /s")
            }
        }
        "bytes" => {
            if value >= 1024.0 * 1024.0 {
                format!("{:.1} MiB", value / 1024.0 / 1024.0)
            } else if value >= 1024.0 {
                format!("{:.1} KiB", value / 1024.0)
            } else {
                format!("{value:.0} B")
            }
        }
        _ => format!("{value:.4} {unit}"),
    }
}

/// `median (min–max)` in human units.
pub fn human_summary(summary: Summary, unit: &str) -> String {
    format!(
        "{} ({}–{})",
        human(summary.median, unit),
        human(summary.min, unit),
        human(summary.max, unit)
    )
}
