//! The results table: one row per measured metric, bureau's ratio to the
//! best peer, and whether each of its speed targets is met.
//!
//! Pure formatting of numbers already measured: this file must never run a
//! workload, and never turn a missing measurement into a number.

use std::fmt::Write as _;

/// Which way a metric improves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Times, latencies, CPU, sizes.
    Lower,
    /// Throughputs.
    Higher,
}

impl Better {
    /// Whether `a` is better than `b`.
    pub fn prefers(self, a: f64, b: f64) -> bool {
        match self {
            Better::Lower => a < b,
            Better::Higher => a > b,
        }
    }
}

/// What a target compares bureau's figure with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Against {
    /// The better of smol and tokio on that row: a ratio.
    BestPeer,
    /// The row's reference (raw `polling`, sequential `std::fs`): a ratio.
    Reference,
    /// Bureau's figure itself, in the row's unit.
    Absolute,
}

/// The direction of a target's bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// The compared figure must not exceed the value.
    AtMost,
    /// The compared figure must reach the value.
    AtLeast,
}

/// One speed target of a row (the targets the project set for the benchmark).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// What bureau is compared with.
    pub against: Against,
    /// Which side of `value` passes.
    pub bound: Bound,
    /// The bound itself.
    pub value: f64,
}

impl Target {
    /// bureau ÷ the best peer must stay at or under `value`.
    pub const fn peer_at_most(value: f64) -> Self {
        Target {
            against: Against::BestPeer,
            bound: Bound::AtMost,
            value,
        }
    }

    /// bureau ÷ the best peer must reach `value`.
    pub const fn peer_at_least(value: f64) -> Self {
        Target {
            against: Against::BestPeer,
            bound: Bound::AtLeast,
            value,
        }
    }

    /// bureau ÷ the reference must stay at or under `value`.
    pub const fn reference_at_most(value: f64) -> Self {
        Target {
            against: Against::Reference,
            bound: Bound::AtMost,
            value,
        }
    }

    /// bureau ÷ the reference must reach `value`.
    pub const fn reference_at_least(value: f64) -> Self {
        Target {
            against: Against::Reference,
            bound: Bound::AtLeast,
            value,
        }
    }

    /// bureau's own figure must stay at or under `value`.
    pub const fn at_most(value: f64) -> Self {
        Target {
            against: Against::Absolute,
            bound: Bound::AtMost,
            value,
        }
    }

    fn label(&self, reference: &str) -> String {
        let sign = match self.bound {
            Bound::AtMost => "≤",
            Bound::AtLeast => "≥",
        };
        match self.against {
            Against::BestPeer => format!("{sign}{}× peer", self.value),
            Against::Reference => format!("{sign}{}× {reference}", self.value),
            Against::Absolute => format!("{sign}{}", self.value),
        }
    }
}

/// One metric a workload reports.
pub struct Metric {
    /// Its name with its unit.
    pub name: &'static str,
    /// Which way it improves.
    pub better: Better,
    /// The speed targets set for it.
    pub targets: Vec<Target>,
}

/// One measurement's figures (one per metric) from each column; `None`
/// where a column did not run or failed.
#[derive(Debug, Default)]
pub struct Columns {
    /// bureau's figures.
    pub bureau: Option<Vec<f64>>,
    /// smol's figures.
    pub smol: Option<Vec<f64>>,
    /// tokio's, with tasks through a `LocalSet`.
    pub local: Option<Vec<f64>>,
    /// tokio's, with tasks through `tokio::spawn`.
    pub spawn: Option<Vec<f64>>,
    /// The reference's name (`raw`, `std::fs`), if the measurement has one.
    pub reference_name: &'static str,
    /// The reference's figures.
    pub reference: Option<Vec<f64>>,
}

/// The rows of `workload`, one per metric of `metrics`; tokio's column
/// takes whichever of its two ways of spawning did better on metric
/// `decides`.
pub fn rows(workload: &str, metrics: &[Metric], decides: usize, columns: Columns) -> Vec<Row> {
    let Columns {
        bureau,
        smol,
        local,
        spawn,
        reference_name,
        reference,
    } = columns;
    let better = metrics[decides].better;
    let (tokio, tokio_via) = match (local, spawn) {
        (Some(l), Some(s)) if better.prefers(s[decides], l[decides]) => (Some(s), "spawn"),
        (Some(l), _) => (Some(l), "local"),
        (None, Some(s)) => (Some(s), "spawn"),
        (None, None) => (None, ""),
    };
    metrics
        .iter()
        .enumerate()
        .map(|(i, metric)| {
            let mut row =
                Row::new(workload, metric.name, metric.better).with_targets(&metric.targets);
            row.bureau = bureau.as_ref().map(|f| f[i]);
            row.smol = smol.as_ref().map(|f| f[i]);
            row.tokio = tokio.as_ref().map(|f| f[i]);
            row.tokio_via = tokio_via;
            row.reference_name = reference_name;
            row.reference = reference.as_ref().map(|f| f[i]);
            row
        })
        .collect()
}

/// One metric of one workload, measured on every runtime.
#[derive(Debug, Clone)]
pub struct Row {
    /// The workload and its parameters, e.g. `tcp-echo C=100`.
    pub workload: String,
    /// What is measured, with its unit, e.g. `ns/task`.
    pub metric: String,
    /// Which way the metric improves.
    pub better: Better,
    /// bureau's median.
    pub bureau: Option<f64>,
    /// smol's median.
    pub smol: Option<f64>,
    /// tokio's median, the faster of its two ways of spawning.
    pub tokio: Option<f64>,
    /// Which tokio way `tokio` came from (`local` or `spawn`), if it had two.
    pub tokio_via: &'static str,
    /// The reference's name (`raw`, `std::fs`), if the row has one.
    pub reference_name: &'static str,
    /// The reference's median.
    pub reference: Option<f64>,
    /// The targets this row must meet.
    pub targets: Vec<Target>,
}

impl Row {
    /// A row with no figures yet.
    pub fn new(workload: impl Into<String>, metric: impl Into<String>, better: Better) -> Self {
        Row {
            workload: workload.into(),
            metric: metric.into(),
            better,
            bureau: None,
            smol: None,
            tokio: None,
            tokio_via: "",
            reference_name: "",
            reference: None,
            targets: Vec::new(),
        }
    }

    /// The same row with `targets`.
    pub fn with_targets(mut self, targets: &[Target]) -> Self {
        self.targets = targets.to_vec();
        self
    }

    /// The better of smol's and tokio's figures.
    pub fn best_peer(&self) -> Option<f64> {
        match (self.smol, self.tokio) {
            (Some(s), Some(t)) => Some(if self.better.prefers(t, s) { t } else { s }),
            (one, other) => one.or(other),
        }
    }

    /// bureau ÷ the best peer (none when the peer's figure is zero).
    pub fn peer_ratio(&self) -> Option<f64> {
        let peer = self.best_peer().filter(|p| *p != 0.0)?;
        Some(self.bureau? / peer)
    }

    /// For each target: its label, the compared figure, and whether it is met
    /// (`None` when a figure is missing).
    pub fn verdicts(&self) -> Vec<(String, Option<f64>, Option<bool>)> {
        self.targets
            .iter()
            .map(|target| {
                let figure = match target.against {
                    Against::BestPeer => self.peer_ratio(),
                    Against::Reference => self.bureau.zip(self.reference).map(|(b, r)| b / r),
                    Against::Absolute => self.bureau,
                };
                let met = figure.map(|f| match target.bound {
                    Bound::AtMost => f <= target.value,
                    Bound::AtLeast => f >= target.value,
                });
                (target.label(self.reference_name), figure, met)
            })
            .collect()
    }
}

/// A figure with about three significant digits, or `–` when missing.
pub fn figure(value: Option<f64>) -> String {
    match value {
        None => "–".to_string(),
        Some(v) if v.abs() >= 100.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// Figures for a progress line: [`figure`]s, two spaces apart.
pub fn figures(values: &[f64]) -> String {
    let shown: Vec<String> = values.iter().map(|v| figure(Some(*v))).collect();
    shown.join("  ")
}

/// A ratio with three decimals, so that one just over its target never
/// prints as equal to it; `–` when missing.
pub fn ratio(value: Option<f64>) -> String {
    value.map_or("–".to_string(), |v| format!("{v:.3}"))
}

/// The rows as a Markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| workload | metric | bureau | smol | tokio | ref | bureau ÷ best peer | target | result |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |\n",
    );
    for row in rows {
        let tokio = match row.tokio_via {
            "" => figure(row.tokio),
            via => format!("{} ({via})", figure(row.tokio)),
        };
        let reference = match row.reference {
            Some(_) => format!("{} ({})", figure(row.reference), row.reference_name),
            None => figure(None),
        };
        let verdicts = row.verdicts();
        let targets: Vec<String> = verdicts.iter().map(|(label, _, _)| label.clone()).collect();
        let results: Vec<String> = verdicts
            .iter()
            .map(|(_, value, met)| match met {
                Some(true) => format!("met ({})", ratio(*value)),
                Some(false) => format!("**missed** ({})", ratio(*value)),
                None => "n/a".to_string(),
            })
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.workload,
            row.metric,
            figure(row.bureau),
            figure(row.smol),
            tokio,
            reference,
            ratio(row.peer_ratio()),
            targets.join(", "),
            results.join(", "),
        );
    }
    out
}

/// The rows as a JSON array (numbers as measured, `null` when missing).
pub fn json(rows: &[Row]) -> String {
    let number = |v: Option<f64>| {
        v.filter(|v| v.is_finite())
            .map_or("null".to_string(), |v| v.to_string())
    };
    let mut out = String::from("[\n");
    for (i, row) in rows.iter().enumerate() {
        let targets: Vec<String> = row
            .verdicts()
            .iter()
            .map(|(label, value, met)| {
                format!(
                    "{{\"target\": {}, \"value\": {}, \"met\": {}}}",
                    quote(label),
                    number(*value),
                    met.map_or("null".to_string(), |m| m.to_string())
                )
            })
            .collect();
        let _ = write!(
            out,
            "  {{\"workload\": {}, \"metric\": {}, \"lower_is_better\": {}, \"bureau\": {}, \
             \"smol\": {}, \"tokio\": {}, \"tokio_via\": {}, \"reference\": {}, \
             \"reference_name\": {}, \"bureau_over_best_peer\": {}, \"targets\": [{}]}}",
            quote(&row.workload),
            quote(&row.metric),
            row.better == Better::Lower,
            number(row.bureau),
            number(row.smol),
            number(row.tokio),
            quote(row.tokio_via),
            number(row.reference),
            quote(row.reference_name),
            number(row.peer_ratio()),
            targets.join(", "),
        );
        out.push_str(if i + 1 < rows.len() { ",\n" } else { "\n" });
    }
    out.push_str("]\n");
    out
}

/// `text` as a JSON string.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Row {
        let mut row =
            Row::new("spawn", "ns/task", Better::Lower).with_targets(&[Target::peer_at_most(0.6)]);
        row.bureau = Some(50.0);
        row.smol = Some(100.0);
        row.tokio = Some(80.0);
        row
    }

    #[test]
    fn compares_with_the_better_peer() {
        let row = row();
        assert_eq!(row.best_peer(), Some(80.0));
        assert_eq!(row.peer_ratio(), Some(0.625));
        assert_eq!(row.verdicts()[0].2, Some(false));
    }

    #[test]
    fn tokio_takes_its_better_way_on_the_deciding_metric() {
        let metrics = [
            Metric {
                name: "messages/s",
                better: Better::Higher,
                targets: vec![],
            },
            Metric {
                name: "µs/message",
                better: Better::Lower,
                targets: vec![],
            },
        ];
        let columns = || Columns {
            local: Some(vec![100.0, 5.0]),
            spawn: Some(vec![120.0, 6.0]),
            reference_name: "raw",
            reference: Some(vec![130.0, 4.0]),
            ..Columns::default()
        };
        let by_throughput = rows("echo", &metrics, 0, columns());
        assert_eq!(
            (by_throughput[1].tokio, by_throughput[1].tokio_via),
            (Some(6.0), "spawn")
        );
        assert_eq!(by_throughput[1].reference, Some(4.0));
        let by_cpu = rows("echo", &metrics, 1, columns());
        assert_eq!(
            (by_cpu[0].tokio, by_cpu[0].tokio_via),
            (Some(100.0), "local")
        );
        let spawn_alone = Columns {
            spawn: Some(vec![1.0, 2.0]),
            ..Columns::default()
        };
        let alone = rows("echo", &metrics, 0, spawn_alone);
        assert_eq!((alone[0].tokio_via, alone[0].bureau), ("spawn", None));
    }

    #[test]
    fn a_missing_figure_is_not_a_verdict() {
        let mut row = row();
        row.bureau = None;
        assert_eq!(row.verdicts()[0].2, None);
        assert!(markdown(&[row.clone()]).contains("n/a"));
        assert!(json(&[row]).contains("\"bureau\": null"));
    }
}
