//! Draws bureau's standing against the best peer as a horizontal bar chart
//! in SVG: one bar per row that has a target against the best peer and
//! both figures.
//!
//! Every bar reads "higher is better for bureau" (peer ÷ bureau for times,
//! bureau ÷ peer for throughputs), so 1.0 means level with the best peer.
//! Pure formatting: this file must never measure anything.

use crate::report::{Against, Better, Bound, Row};
use std::fmt::Write as _;

const WIDTH: f64 = 900.0;
const LABEL: f64 = 330.0;
const BAR: f64 = 18.0;
const GAP: f64 = 6.0;
const TOP: f64 = 60.0;

/// bureau's advantage over the best peer: > 1 is better for bureau.
fn advantage(row: &Row) -> Option<f64> {
    let ratio = row.peer_ratio().filter(|r| r.is_finite() && *r > 0.0)?;
    Some(match row.better {
        Better::Lower => 1.0 / ratio,
        Better::Higher => ratio,
    })
}

/// The advantage a peer target asks for, on the same scale as [`advantage`].
fn target_advantage(row: &Row) -> Option<f64> {
    let target = row
        .targets
        .iter()
        .find(|t| t.against == Against::BestPeer)?;
    Some(match (row.better, target.bound) {
        (Better::Lower, Bound::AtMost) | (Better::Higher, Bound::AtLeast) => match row.better {
            Better::Lower => 1.0 / target.value,
            Better::Higher => target.value,
        },
        _ => return None,
    })
}

/// The chart, titled with `caption` (the machine and the date).
pub fn chart(rows: &[Row], caption: &str) -> String {
    let bars: Vec<(&Row, f64)> = rows
        .iter()
        .filter(|r| r.targets.iter().any(|t| t.against == Against::BestPeer))
        .filter_map(|r| Some((r, advantage(r)?)))
        .collect();
    let most = bars
        .iter()
        .map(|(r, a)| a.max(target_advantage(r).unwrap_or(0.0)))
        .fold(2.0, f64::max)
        .min(3.0);
    let scale = (WIDTH - LABEL - 70.0) / most;
    let height = TOP + bars.len() as f64 * (BAR + GAP) + 40.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">bureau against the best of \
         smol and tokio (longer is better for bureau; 1× = level)</text>\n\
         <text x=\"10\" y=\"40\" fill=\"#555\">{}</text>",
        escape(caption)
    );
    for (i, (row, adv)) in bars.iter().enumerate() {
        let y = TOP + i as f64 * (BAR + GAP);
        let met = row
            .verdicts()
            .iter()
            .filter_map(|v| v.2)
            .collect::<Vec<_>>();
        let colour = if met.iter().all(|m| *m) {
            "#2e7d32"
        } else {
            "#c62828"
        };
        let length = adv.min(most) * scale;
        let _ = writeln!(
            svg,
            "<text x=\"{:.0}\" y=\"{:.0}\" text-anchor=\"end\">{} · {}</text>\n\
             <rect x=\"{LABEL}\" y=\"{y:.0}\" width=\"{length:.1}\" height=\"{BAR}\" fill=\"{colour}\"/>\n\
             <text x=\"{:.1}\" y=\"{:.0}\">{adv:.2}×</text>",
            LABEL - 8.0,
            y + BAR - 5.0,
            escape(&row.workload),
            escape(&row.metric),
            LABEL + length + 4.0,
            y + BAR - 5.0,
        );
        if let Some(goal) = target_advantage(row) {
            let x = LABEL + goal.min(most) * scale;
            let _ = writeln!(
                svg,
                "<line x1=\"{x:.1}\" y1=\"{:.0}\" x2=\"{x:.1}\" y2=\"{:.0}\" stroke=\"black\" \
                 stroke-width=\"2\"/>",
                y - 2.0,
                y + BAR + 2.0
            );
        }
    }
    let one = LABEL + scale;
    let bottom = TOP + bars.len() as f64 * (BAR + GAP);
    let _ = writeln!(
        svg,
        "<line x1=\"{one:.1}\" y1=\"{:.0}\" x2=\"{one:.1}\" y2=\"{bottom:.0}\" stroke=\"#333\" \
         stroke-dasharray=\"4 3\"/>\n\
         <text x=\"{one:.1}\" y=\"{:.0}\" text-anchor=\"middle\">1× best peer</text>\n\
         <text x=\"10\" y=\"{:.0}\" fill=\"#555\">green: every target met · red: a target missed · \
         black tick: the peer target</text>\n</svg>",
        TOP - 8.0,
        bottom + 14.0,
        bottom + 32.0
    );
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Target;

    #[test]
    fn draws_one_bar_per_row_with_a_peer_target() {
        let mut fast =
            Row::new("spawn", "ns/task", Better::Lower).with_targets(&[Target::peer_at_most(0.5)]);
        fast.bureau = Some(50.0);
        fast.smol = Some(100.0);
        assert_eq!(advantage(&fast), Some(2.0));
        assert_eq!(target_advantage(&fast), Some(2.0));
        let mut untargeted = Row::new("spawn", "p99 µs", Better::Lower);
        untargeted.bureau = Some(1.0);
        untargeted.smol = Some(1.0);
        let mut absolute =
            Row::new("idle", "wakeups/s", Better::Lower).with_targets(&[Target::at_most(1.0)]);
        absolute.bureau = Some(1.0);
        absolute.smol = Some(2.0);
        let svg = chart(&[fast, untargeted, absolute], "a <machine>");
        assert_eq!(svg.matches("<rect x=").count(), 1);
        assert!(svg.contains("a &lt;machine&gt;"));
    }
}
